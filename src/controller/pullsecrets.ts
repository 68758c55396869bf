/**
 * The one way the operator writes a ServiceAccount's imagePullSecrets. The list is atomic, so the
 * patch carries the whole list and the resourceVersion it was computed from; on 409 Conflict the
 * ServiceAccount is read again and the change computed again from what is there now.
 */
import type { PullSecretsChange } from '../domain/desired.js';
import { pullSecretsMergePatch } from '../domain/patches.js';
import type { ServiceAccountLike } from '../domain/types.js';
import { KubeError, type Kube } from '../kube/client.js';
import { serviceAccountOf } from '../kube/ingest.js';

/** The ServiceAccount to patch, as the change was computed from it. */
export interface PatchTarget {
  namespace: string;
  name: string;
  resourceVersion?: string | undefined;
}

export interface PatchHooks {
  /** Before each write attempt (expectations are set here). */
  beforeWrite?(): void;
  /** After a failed attempt. */
  afterFailure?(err: unknown): void;
  /** A 409: the ServiceAccount is read again. */
  onConflict?(attempt: number): void;
}

export interface Patched {
  change: PullSecretsChange;
  attempts: number;
}

/**
 * Writes `change` on `target`; on 409, reads it again and writes `recompute(fresh)`, up to
 * `maxAttempts` attempts in all. Returns what was written, or null when nothing had to be (no
 * change left, or the ServiceAccount is gone).
 */
export async function patchPullSecrets(
  kube: Pick<Kube, 'patchServiceAccount' | 'getServiceAccount'>,
  target: PatchTarget,
  change: PullSecretsChange | null,
  recompute: (fresh: ServiceAccountLike) => PullSecretsChange | null,
  hooks: PatchHooks = {},
  maxAttempts = 5,
): Promise<Patched | null> {
  const { namespace, name } = target;
  let resourceVersion = target.resourceVersion;
  let next = change;
  for (let attempt = 1; ; attempt++) {
    if (!next) return null;
    hooks.beforeWrite?.();
    try {
      await kube.patchServiceAccount(namespace, name, pullSecretsMergePatch(next, resourceVersion));
      return { change: next, attempts: attempt };
    } catch (err) {
      hooks.afterFailure?.(err);
      if (err instanceof KubeError && err.kind === 'NotFound') return null; // deleted meanwhile
      if (!(err instanceof KubeError && err.kind === 'Conflict') || attempt >= maxAttempts) throw err;
      hooks.onConflict?.(attempt);
      const fresh = await kube.getServiceAccount(namespace, name);
      if (!fresh) return null;
      const current = serviceAccountOf(fresh);
      resourceVersion = current.metadata.resourceVersion;
      next = recompute(current);
    }
  }
}
