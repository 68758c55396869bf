/**
 * The credentials a pull secret holds for each registry host, as the kubelet reads them. Pure: no
 * I/O. What it returns is secret and stays in memory: it is never logged, published or exported.
 */
import { DOCKER_CONFIG_JSON } from '../domain/sources.js';
import type { SecretLike } from '../domain/types.js';

export interface RegistryCredential {
  /** host[:port] of the registry, lower case: what the check contacts, and the metric's `registry` label. */
  host: string;
  /** Absent when the entry holds no usable username and password (an identity token, say). */
  username?: string;
  password?: string;
}

/**
 * The host[:port] of a docker config key. Keys may be bare hosts (`us.icr.io`), URLs
 * (`https://index.docker.io/v1/`) or carry a path; unlike the copy logic's registryHost, the port
 * is kept: it is part of where the registry answers.
 */
export function registryAddress(key: string): string {
  let host = key.trim().toLowerCase().replace(/^[a-z][a-z0-9+.-]*:\/\//, '');
  host = host.split(/[/?#]/)[0] ?? '';
  return host.slice(host.lastIndexOf('@') + 1);
}

/** Whether `address` is a host[:port] the check may put into https://ADDRESS/v2/ (no path, user info or spaces). */
export function isRegistryAddress(address: string): boolean {
  return /^(\[[0-9a-f:.]+\]|[a-z0-9]([-a-z0-9.]*[a-z0-9])?)(:\d{1,5})?$/.test(address);
}

/**
 * Each registry host of a pull secret with its username and password, in key order; a host named
 * twice (`icr.io` and `https://icr.io`) counts once, with its first entry. An `auth` field wins over
 * `username`/`password`, as in the kubelet. Data that does not parse gives an empty list.
 */
export function registryCredentials(secret: SecretLike): RegistryCredential[] {
  const json = secret.type === DOCKER_CONFIG_JSON;
  const encoded = secret.data?.[json ? '.dockerconfigjson' : '.dockercfg'];
  if (!encoded) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8'));
  } catch {
    return [];
  }
  const auths = json ? (isObject(parsed) ? parsed['auths'] : undefined) : parsed;
  if (!isObject(auths)) return [];
  const out: RegistryCredential[] = [];
  const seen = new Set<string>();
  for (const [key, value] of Object.entries(auths)) {
    const host = registryAddress(key);
    if (host === '' || seen.has(host) || !isObject(value)) continue;
    seen.add(host);
    const entry: RegistryCredential = { host };
    const auth = typeof value['auth'] === 'string' ? Buffer.from(value['auth'], 'base64').toString('utf8') : '';
    const colon = auth.indexOf(':');
    if (colon > 0) {
      entry.username = auth.slice(0, colon);
      entry.password = auth.slice(colon + 1);
    } else if (typeof value['username'] === 'string' && typeof value['password'] === 'string' && value['username'] !== '') {
      entry.username = value['username'];
      entry.password = value['password'];
    }
    out.push(entry);
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
