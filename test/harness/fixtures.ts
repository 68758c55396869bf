/** The IBM-style sample secrets of test/fixtures/, and a way to apply them. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, type KubeConfig, type V1Secret, loadAllYaml } from '@kubernetes/client-node';

export const FIXTURES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

/** The secrets of ibm-default-secrets.yaml (fake credentials), without a namespace set. */
export function ibmSecrets(): V1Secret[] {
  const docs = loadAllYaml(readFileSync(join(FIXTURES_DIR, 'ibm-default-secrets.yaml'), 'utf8')) as V1Secret[];
  return docs.filter((d) => d && d.kind === 'Secret');
}

/** The fake API key every IBM fixture carries; it must never appear in logs. */
export const FAKE_API_KEY = 'FAKE-iam-api-key-0000-not-a-real-credential';

/** Creates (or replaces) the fixture secrets in `namespace`. */
export async function applyIbmSecrets(kc: KubeConfig, namespace = 'default'): Promise<V1Secret[]> {
  const core = kc.makeApiClient(CoreV1Api);
  const out: V1Secret[] = [];
  for (const s of ibmSecrets()) {
    const body: V1Secret = { ...s, metadata: { ...s.metadata, name: s.metadata?.name ?? '', namespace } };
    try {
      out.push(await core.createNamespacedSecret({ namespace, body }));
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
      out.push(await core.replaceNamespacedSecret({ namespace, name: body.metadata?.name ?? '', body }));
    }
  }
  return out;
}
