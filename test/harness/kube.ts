/** Small helpers for integration tests running under test/harness/with-cluster.ts. */
import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { WRITE_VERBS, requestsByVerb } from './metrics.js';
import { freePorts } from './plane/processes.js';

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

/**
 * Write requests the API server has counted (apiserver_request_total), summed over the given
 * resources, for the verbs that change state. Read from the server's own /metrics.
 */
export async function apiserverWrites(kc: KubeConfig, resources: readonly string[] = ['secrets', 'serviceaccounts', 'events']): Promise<number> {
  const byVerb = requestsByVerb(await apiserverMetrics(kc), resources);
  return WRITE_VERBS.reduce((n, v) => n + (byVerb[v] ?? 0), 0);
}

/** The API server's /metrics text, read as the admin. */
export async function apiserverMetrics(kc: KubeConfig): Promise<string> {
  const https = await import('node:https');
  const opts: import('node:https').RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const server = kc.getCurrentCluster()?.server ?? '';
  return new Promise((resolve, reject) => {
    const req = https.request(`${server}/metrics`, { ...opts, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`/metrics: ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The kubectl built with the control plane (test/control-plane), from $PSO_TEST_BIN_DIR. */
export function testKubectl(): string {
  const dir = process.env.PSO_TEST_BIN_DIR;
  if (!dir) throw new Error('PSO_TEST_BIN_DIR is not set: run the tests through test/harness/with-cluster.ts');
  return `${dir}/kubectl`;
}

/** A free TCP port on 127.0.0.1 (a webhook's URL must name its port before the webhook listens). */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port as number;
}
