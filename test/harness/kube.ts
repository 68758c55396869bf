/** Small helpers for integration tests running under test/harness/with-cluster.ts. */
import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';

/** The test cluster's admin KubeConfig, from $PSO_TEST_KUBECONFIG (set by with-cluster.ts). */
export function testKubeConfig(): KubeConfig {
  const path = process.env.PSO_TEST_KUBECONFIG;
  if (!path) {
    throw new Error(
      'PSO_TEST_KUBECONFIG is not set. Integration tests need a control plane; run them through the harness, e.g. ' +
        '`npx tsx test/harness/with-cluster.ts node --import tsx --test test/integration/<file>.test.ts`',
    );
  }
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

/**
 * Polls fn until it returns something other than undefined/false and returns that value.
 * Errors thrown by fn count as "not yet"; the last one is reported on timeout.
 */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 20000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError === undefined ? '' : `; last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`, { cause: lastError });
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** `<prefix>-<random>`: a valid DNS-1123 label (lowercase alphanumerics and '-', at most 63 chars). */
export function uniqueName(prefix: string): string {
  const suffix = randomBytes(4).toString('hex');
  const clean = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63 - suffix.length - 1)
    .replace(/-+$/g, '');
  return clean ? `${clean}-${suffix}` : `x${suffix}`;
}
