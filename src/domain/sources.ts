/**
 * Which secrets of the source namespace are sources: icr.io pull secrets, or secrets labelled
 * `pullsecret-operator.io/copy: "true"`. Pure: no I/O.
 */
import { COPY_LABEL, globMatch } from './naming.js';
import type { SecretLike } from './types.js';

export const DOCKER_CONFIG_JSON = 'kubernetes.io/dockerconfigjson';
export const DOCKER_CFG = 'kubernetes.io/dockercfg';
export const PULL_SECRET_TYPES: readonly string[] = [DOCKER_CONFIG_JSON, DOCKER_CFG];

/** IBM Cloud Container Registry hosts, today's and the legacy bluemix.net ones. */
export const DEFAULT_REGISTRY_HOSTS: readonly string[] = ['icr.io', '*.icr.io', 'registry.bluemix.net', 'registry.*.bluemix.net'];

export type Classification =
  | { kind: 'source'; hosts: string[] }
  | { kind: 'invalid'; reason: string }
  | { kind: 'ignored'; reason: string };

/**
 * The registry host of a docker config key. Keys may be bare hosts (`us.icr.io`), URLs
 * (`https://index.docker.io/v1/`) or carry a port or path.
 */
export function registryHost(key: string): string {
  // As the kubelet reads a key (the host of a URL): drop scheme, path, query, fragment, user info and port.
  let host = key.trim().toLowerCase().replace(/^[a-z][a-z0-9+.-]*:\/\//, '');
  host = host.split(/[/?#]/)[0] ?? '';
  host = host.slice(host.lastIndexOf('@') + 1);
  return host.replace(/:\d+$/, '');
}

/** The registry keys of a pull secret's data, or an error string when the data does not parse. */
export function parseRegistries(secret: SecretLike): { hosts: string[] } | { error: string } {
  const key = secret.type === DOCKER_CONFIG_JSON ? '.dockerconfigjson' : '.dockercfg';
  const encoded = secret.data?.[key];
  if (encoded === undefined || encoded === '') return { error: `data has no "${key}" key` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8'));
  } catch {
    return { error: `"${key}" is not base64-encoded JSON` };
  }
  if (!isObject(parsed)) return { error: `"${key}" is not a JSON object` };
  let auths: unknown = parsed;
  if (secret.type === DOCKER_CONFIG_JSON) {
    auths = parsed['auths'];
    if (!isObject(auths)) return { error: `"${key}" has no "auths" object` };
  }
  const entries = Object.entries(auths as Record<string, unknown>);
  if (entries.length === 0) return { error: `"${key}" lists no registry` };
  for (const [registry, value] of entries) {
    if (!isObject(value)) return { error: `the entry for registry "${registryHost(registry)}" is not an object` };
  }
  return { hosts: entries.map(([registry]) => registryHost(registry)) };
}

/**
 * Classifies a secret of the source namespace.
 * - `copy: "false"` is never a source; `copy: "true"` is one whatever its hosts.
 * - Otherwise a pull secret all of whose registry hosts match `registryHosts` is a source.
 * - A pull secret whose data does not parse is `invalid` (reported, never copied).
 */
export function classifySource(secret: SecretLike, registryHosts: readonly string[], maxBytes = Infinity): Classification {
  const label = secret.metadata.labels?.[COPY_LABEL];
  if (label === 'false') return { kind: 'ignored', reason: `labelled ${COPY_LABEL}=false` };
  if (!PULL_SECRET_TYPES.includes(secret.type ?? '')) {
    if (label === 'true') return { kind: 'invalid', reason: `labelled ${COPY_LABEL}=true but its type "${secret.type ?? ''}" is not a pull secret type` };
    return { kind: 'ignored', reason: 'not a pull secret' };
  }
  // Checked before parsing: each copy multiplies the size by the namespaces, in etcd and in requests.
  const bytes = dataSize(secret.data);
  if (bytes > maxBytes) return { kind: 'invalid', reason: `its data is ${bytes} bytes, over the limit of ${maxBytes} (--max-source-size)` };
  const parsed = parseRegistries(secret);
  if ('error' in parsed) return { kind: 'invalid', reason: parsed.error };
  if (label === 'true') return { kind: 'source', hosts: parsed.hosts };
  const foreign = parsed.hosts.filter((h) => !registryHosts.some((p) => globMatch(p.toLowerCase(), h)));
  if (foreign.length > 0) return { kind: 'ignored', reason: `has registry hosts outside the configured list: ${foreign.join(', ')}` };
  return { kind: 'source', hosts: parsed.hosts };
}

/** The decoded size in bytes of a Secret's data (values are base64). */
export function dataSize(data: Record<string, string> | undefined): number {
  let n = 0;
  for (const v of Object.values(data ?? {})) n += Buffer.byteLength(v, 'base64');
  return n;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
