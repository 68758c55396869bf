/**
 * Which keys an informer event enqueues. Keys are namespace names; a source change fans out to
 * every namespace. Pure: the caller passes the namespace names.
 */
import { COPY_LABEL } from '../domain/naming.js';
import { PULL_SECRET_TYPES } from '../domain/sources.js';
import type { SecretLike } from '../domain/types.js';

/** True when a change of this source-namespace secret can change what is copied. */
export function sourceRelevant(obj: SecretLike | undefined): boolean {
  if (!obj) return false;
  return PULL_SECRET_TYPES.includes(obj.type ?? '') || obj.metadata.labels?.[COPY_LABEL] !== undefined;
}

/** Keys for a change of a secret of the source namespace: the source namespace itself and every namespace, if it matters. */
export function keysForSourceChange(obj: SecretLike, old: SecretLike | undefined, sourceNamespace: string, allNamespaces: () => string[]): string[] {
  if (!sourceRelevant(obj) && !sourceRelevant(old)) return [];
  if (old && old.metadata.resourceVersion === obj.metadata.resourceVersion) return [];
  return [sourceNamespace, ...allNamespaces().filter((n) => n !== sourceNamespace)];
}
