/**
 * The shapes the pure code works on: just the fields it reads, so that client-node's models
 * and plain JSON from a watch both fit, and tests can build them by hand.
 */
export interface ObjectMeta {
  name: string;
  resourceVersion?: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: unknown;
  /** Kept on copies only: an update carries them back, so what other tools set is not lost. */
  ownerReferences?: readonly OwnerReference[];
  finalizers?: readonly string[];
}

/** A namespaced object's metadata: its namespace is always known (set once, at ingest). */
export interface NamespacedMeta extends ObjectMeta {
  namespace: string;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface SecretLike {
  metadata: NamespacedMeta;
  type?: string;
  data?: Record<string, string>;
  /** For a cached copy: the hash of its actual data (see dataHash), held instead of the data. */
  dataHash?: string;
  immutable?: boolean;
}

export interface NamespaceLike {
  metadata: ObjectMeta;
  status?: { phase?: string };
}

export interface LocalObjectReference {
  name?: string;
}

export interface ServiceAccountLike {
  metadata: NamespacedMeta;
  imagePullSecrets?: LocalObjectReference[];
}
