/**
 * Conversion at ingest: API objects, as they come off a list or a watch, become the small domain
 * shapes reconcile reads, once, before they enter a cache (client-go's SetTransform). No
 * managedFields, no `last-applied-configuration` of namespaces and ServiceAccounts, and no secret
 * data except the sources': a copy keeps a hash of its actual data, computed here, so a hand edit
 * is still noticed.
 */
import type { V1Namespace, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { dataHash } from '../domain/desired.js';
import { COPY_LABEL, PREFIX } from '../domain/naming.js';
import { PULL_SECRET_TYPES } from '../domain/sources.js';
import type { NamespaceLike, NamespacedMeta, ObjectMeta, SecretLike, ServiceAccountLike } from '../domain/types.js';

type WireMeta = V1Namespace['metadata'];

/**
 * One shared, frozen object per distinct set of labels or annotations of copies: thousands of
 * copies carry the same two (our label, their source: one set per source), and the caches are
 * read-only. Bounded: past `max` distinct sets (hand-edited copies), objects are kept as they
 * come. One Interner belongs to one operator (its copies' informer), never to the module.
 */
export class Interner {
  readonly #shared = new Map<string, Readonly<Record<string, string>>>();
  readonly #max: number;

  constructor(max = 4096) {
    this.#max = max;
  }

  intern(r: Record<string, string>): Record<string, string> {
    const key = JSON.stringify(r);
    const hit = this.#shared.get(key);
    if (hit) return hit;
    if (this.#shared.size >= this.#max) return r;
    const frozen = Object.freeze({ ...r });
    this.#shared.set(key, frozen);
    return frozen;
  }
}

/** Only our own keys (`pullsecret-operator.io/...`): the rest of an object's annotations is not read. */
function ours(annotations: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!annotations) return undefined;
  let out: Record<string, string> | undefined;
  for (const [k, v] of Object.entries(annotations)) if (k.startsWith(PREFIX)) (out ??= {})[k] = v;
  return out;
}

function meta(m: WireMeta, keep: { uid: boolean; labels: boolean; annotations: 'all' | 'ours'; interner?: Interner | undefined; owners?: boolean }): ObjectMeta {
  const share = (r: Record<string, string>): Record<string, string> => keep.interner?.intern(r) ?? r;
  const out: ObjectMeta = { name: m?.name ?? '' };
  if (m?.resourceVersion) out.resourceVersion = m.resourceVersion;
  if (keep.uid && m?.uid) out.uid = m.uid; // Events name their object by uid: namespaces and sources only
  if (keep.labels && m?.labels && Object.keys(m.labels).length > 0) out.labels = share(m.labels);
  const annotations = keep.annotations === 'all' ? m?.annotations : ours(m?.annotations);
  if (annotations && Object.keys(annotations).length > 0) out.annotations = share(annotations);
  // Wire timestamps are strings; a present one is all reconcile asks about.
  if (m?.deletionTimestamp) out.deletionTimestamp = String(m.deletionTimestamp);
  // Rare on copies, and small: kept so that an update (a PUT of the whole object) keeps them.
  if (keep.owners && m?.ownerReferences && m.ownerReferences.length > 0) out.ownerReferences = m.ownerReferences.map((r) => ({ ...r }));
  if (keep.owners && m?.finalizers && m.finalizers.length > 0) out.finalizers = [...m.finalizers];
  return out;
}

/**
 * The metadata of a namespaced object. A list or a watch of a namespaced resource always names the
 * namespace; the webhook's object, which does not, is given its request's namespace first.
 */
function namespaced(m: WireMeta, keep: Parameters<typeof meta>[1]): NamespacedMeta {
  const out = meta(m, keep) as NamespacedMeta;
  out.namespace = m?.namespace ?? '';
  return out;
}

/** A Namespace: name, uid, labels (the selector reads them), our annotations, deletion state. */
export function namespaceOf(raw: V1Namespace): NamespaceLike {
  const out: NamespaceLike = { metadata: meta(raw.metadata, { uid: true, labels: true, annotations: 'ours' }) };
  if (raw.status?.phase === 'Terminating') out.status = { phase: 'Terminating' };
  return out;
}

/** A ServiceAccount: name, our annotations, deletion state and the names in imagePullSecrets. */
export function serviceAccountOf(raw: V1ServiceAccount): ServiceAccountLike {
  const out: ServiceAccountLike = { metadata: namespaced(raw.metadata, { uid: false, labels: false, annotations: 'ours' }) };
  if (raw.imagePullSecrets) out.imagePullSecrets = raw.imagePullSecrets.map((e) => ({ name: e.name }));
  return out;
}

/**
 * A copy: its metadata (labels, annotations, ownerReferences and finalizers whole: an update
 * carries them back, so what other tools set is kept), type, immutability and the hash of its
 * data, not the data. With an interner, equal label and annotation sets are shared.
 */
export function copyOf(raw: V1Secret, interner?: Interner): SecretLike {
  const out: SecretLike = { metadata: namespaced(raw.metadata, { uid: false, labels: true, annotations: 'all', interner, owners: true }), dataHash: dataHash(raw.data) };
  if (raw.type !== undefined) out.type = raw.type;
  if (raw.immutable) out.immutable = true;
  return out;
}

/** A secret of the source namespace: data kept only when it can be a source (a pull secret, or labelled). */
export function sourceOf(raw: V1Secret): SecretLike {
  const out: SecretLike = { metadata: namespaced(raw.metadata, { uid: true, labels: true, annotations: 'ours' }) };
  if (raw.type !== undefined) out.type = raw.type;
  if (raw.data && (PULL_SECRET_TYPES.includes(raw.type ?? '') || raw.metadata?.labels?.[COPY_LABEL] !== undefined)) out.data = raw.data;
  return out;
}
