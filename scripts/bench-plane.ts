/**
 * The plane every latency benchmark starts from: a local control plane in a temporary folder, the
 * admin's client and the IBM-style sources in `default`; stopped and removed however the run ends.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { type ControlPlane, startControlPlane } from '../test/harness/control-plane.js';
import { applyIbmSecrets } from '../test/harness/fixtures.js';

export interface SeededPlane {
  plane: ControlPlane;
  kc: KubeConfig;
  core: CoreV1Api;
}

/** Runs `fn` on a fresh plane seeded with the IBM fixtures in `default` (temp folder `prefix*`). */
export async function withSeededPlane<T>(prefix: string, fn: (p: SeededPlane) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const plane = await startControlPlane({ dir, log: (m) => console.error(m) });
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(plane.kubeconfigPath);
    await applyIbmSecrets(kc, 'default');
    return await fn({ plane, kc, core: kc.makeApiClient(CoreV1Api) });
  } finally {
    await plane.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
