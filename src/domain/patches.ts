/**
 * A PullSecretsChange on the wire, in the two forms the operator writes it: the reconciler's merge
 * patch of a ServiceAccount, and the admission webhook's JSON patch (RFC 6902). Both set the whole
 * imagePullSecrets list and the added-entries annotation, so that opt-out and cleanup find the
 * entries whichever wrote them. Pure: no I/O; the client (src/kube/client.ts) sends them as given.
 */
import type { PullSecretsChange } from './desired.js';
import { ADDED_ENTRIES_ANNOTATION } from './naming.js';
import type { ServiceAccountLike } from './types.js';

export type JsonPatchOp = { op: 'add' | 'replace'; path: string; value: unknown } | { op: 'remove'; path: string };

/** A JSON pointer token: `~` and `/` escaped (RFC 6901). */
export function pointerToken(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * The patch for `change` on `sa` as the API server holds it at admission: imagePullSecrets set to
 * the whole new list, and the added-entries annotation set (or removed), exactly as the
 * reconciler's merge patch writes them, so that opt-out and cleanup find the entries.
 */
export function jsonPatch(sa: ServiceAccountLike, change: PullSecretsChange): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [];
  if (change.imagePullSecrets.length > 0) ops.push({ op: 'add', path: '/imagePullSecrets', value: change.imagePullSecrets });
  else if (sa.imagePullSecrets !== undefined) ops.push({ op: 'remove', path: '/imagePullSecrets' });
  const annotations = sa.metadata.annotations;
  const path = `/metadata/annotations/${pointerToken(ADDED_ENTRIES_ANNOTATION)}`;
  if (change.added !== null) {
    if (annotations === undefined) ops.push({ op: 'add', path: '/metadata/annotations', value: { [ADDED_ENTRIES_ANNOTATION]: change.added } });
    else ops.push({ op: 'add', path, value: change.added });
  } else if (annotations?.[ADDED_ENTRIES_ANNOTATION] !== undefined) {
    ops.push({ op: 'remove', path });
  }
  return ops;
}

/** The reconciler's JSON merge patch of a ServiceAccount (application/merge-patch+json). */
export interface ServiceAccountMergePatch {
  metadata: { resourceVersion: string | undefined; annotations: Record<string, string | null> };
  /** null removes the list. */
  imagePullSecrets: { name?: string }[] | null;
}

/**
 * The merge patch for `change`. A merge patch replaces a list whole, so it carries the full new
 * list and the resourceVersion it was computed from: the API server answers 409 if the
 * ServiceAccount changed in between, and no concurrent writer's entry is lost.
 */
export function pullSecretsMergePatch(change: PullSecretsChange, resourceVersion: string | undefined): ServiceAccountMergePatch {
  return {
    metadata: { resourceVersion, annotations: { [ADDED_ENTRIES_ANNOTATION]: change.added } },
    imagePullSecrets: change.imagePullSecrets.length > 0 ? change.imagePullSecrets : null,
  };
}
