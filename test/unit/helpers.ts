/** Builders shared by the unit tests of the pure modules. Not a test file itself. */
import type { Policy, Source } from '../../src/domain/desired.js';
import { desiredCopy } from '../../src/domain/desired.js';
import { parseSelector } from '../../src/domain/selector.js';
import { DEFAULT_REGISTRY_HOSTS, DOCKER_CFG, DOCKER_CONFIG_JSON } from '../../src/domain/sources.js';
import type { NamespaceLike, SecretLike, ServiceAccountLike } from '../../src/domain/types.js';
import { ADDED_ENTRIES_ANNOTATION, OPT_OUT_ANNOTATION } from '../../src/domain/naming.js';
import { ibmSecrets } from '../harness/fixtures.js';

export const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

/** The auths map of a docker config with (fake) credentials for each registry key. */
export function auths(keys: readonly string[], password = 'pw'): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, { username: 'iamapikey', password, auth: b64(`iamapikey:${password}`) }]));
}

export interface PullSecretOptions {
  type?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  password?: string;
  resourceVersion?: string;
}

/** A pull secret of the given type whose registry keys are `keys`. */
export function pullSecret(name: string, keys: readonly string[], o: PullSecretOptions = {}): SecretLike {
  const type = o.type ?? DOCKER_CONFIG_JSON;
  const data: Record<string, string> =
    type === DOCKER_CFG
      ? { '.dockercfg': b64(JSON.stringify(auths(keys, o.password))) }
      : { '.dockerconfigjson': b64(JSON.stringify({ auths: auths(keys, o.password) })) };
  return secret(name, type, data, o);
}

/** Any secret, with the data given as is (already base64). */
export function secret(name: string, type: string | undefined, data: Record<string, string> | undefined, o: PullSecretOptions = {}): SecretLike {
  const s: SecretLike = { metadata: { name, namespace: o.namespace ?? 'default' } };
  if (o.labels) s.metadata.labels = { ...o.labels };
  if (o.annotations) s.metadata.annotations = { ...o.annotations };
  if (o.resourceVersion) s.metadata.resourceVersion = o.resourceVersion;
  if (type !== undefined) s.type = type;
  if (data !== undefined) s.data = data;
  return s;
}

/** The operator's defaults, with overrides. */
export function policy(over: Partial<Policy> = {}): Policy {
  return {
    sourceNamespace: 'default',
    registryHosts: DEFAULT_REGISTRY_HOSTS,
    excludeNamespaces: [],
    namespaceSelector: parseSelector(''),
    serviceAccounts: 'all',
    orphanGraceMs: 600_000,
    maxSourceBytes: 16 * 1024,
    ...over,
  };
}

export interface NamespaceOptions {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  terminating?: 'deletionTimestamp' | 'phase';
}

export function namespace(name: string, o: NamespaceOptions = {}): NamespaceLike {
  const ns: NamespaceLike = { metadata: { name }, status: { phase: 'Active' } };
  if (o.labels) ns.metadata.labels = { ...o.labels };
  if (o.annotations) ns.metadata.annotations = { ...o.annotations };
  if (o.terminating === 'deletionTimestamp') ns.metadata.deletionTimestamp = '2024-01-01T00:00:00Z';
  if (o.terminating === 'phase') ns.status = { phase: 'Terminating' };
  return ns;
}

export const optedOut = { [OPT_OUT_ANNOTATION]: 'true' };

export interface ServiceAccountOptions {
  /** The value of the added-entries annotation, if any. */
  added?: string;
  annotations?: Record<string, string>;
  resourceVersion?: string;
  deleting?: boolean;
  namespace?: string;
}

/** A ServiceAccount whose imagePullSecrets are `entries` (by name). */
export function serviceAccount(name: string, entries: readonly string[] | undefined, o: ServiceAccountOptions = {}): ServiceAccountLike {
  const sa: ServiceAccountLike = { metadata: { name, namespace: o.namespace ?? 'team-a', resourceVersion: o.resourceVersion ?? '1' } };
  const annotations = { ...(o.annotations ?? {}), ...(o.added !== undefined ? { [ADDED_ENTRIES_ANNOTATION]: o.added } : {}) };
  if (Object.keys(annotations).length > 0) sa.metadata.annotations = annotations;
  if (entries !== undefined) sa.imagePullSecrets = entries.map((name) => ({ name }));
  if (o.deleting) sa.metadata.deletionTimestamp = '2024-01-01T00:00:00Z';
  return sa;
}

/** The copy as the API would hold it once written: the desired copy plus a resourceVersion. */
export function storedCopy(source: Source, ns: string, name: string, resourceVersion = '5'): SecretLike {
  const c = desiredCopy(source, ns, name);
  c.metadata.resourceVersion = resourceVersion;
  return c;
}

/** The secrets of test/fixtures/ibm-default-secrets.yaml, as the pure code sees them. */
export function fixtureSecrets(): SecretLike[] {
  return ibmSecrets() as unknown as SecretLike[];
}

export function fixtureSecret(name: string): SecretLike {
  const s = fixtureSecrets().find((x) => x.metadata.name === name);
  if (!s) throw new Error(`no fixture secret ${name}`);
  return s;
}
