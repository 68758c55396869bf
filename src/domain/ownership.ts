/**
 * Whether a secret is ours: the one rule, for the reconciler, `status`, the webhook and `cleanup`.
 * Ours means it carries our managed-by label: a secret an admin hands over gets it, one they take
 * back loses it. Pure: the live reads that feed it are in src/controller/ownership.ts.
 */
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from './naming.js';

/** The label selector of our copies (the copies' informer, `status`, `cleanup`). */
export const MANAGED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;

export function isManaged(obj: { metadata?: { labels?: Record<string, string> } | undefined }): boolean {
  return obj.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;
}

/** Who holds a name: our copy, someone else's secret, or nobody. */
export type Owner = 'ours' | 'foreign' | 'absent';

export function ownerOf(secret: { metadata?: { labels?: Record<string, string> } | undefined } | undefined): Owner {
  if (!secret) return 'absent';
  return isManaged(secret) ? 'ours' : 'foreign';
}
