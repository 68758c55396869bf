/**
 * The one way the operator writes a ServiceAccount's imagePullSecrets. The list is atomic, so the
 * patch carries the whole list and the resourceVersion it was computed from; on 409 Conflict the
 * ServiceAccount is read again and the change computed again from what is there now.
 */
import type { PullSecretsChange } from '../domain/desired.js';
import type { ServiceAccountLike } from '../domain/types.js';
import { KubeError, type Kube } from '../kube/client.js';
import { serviceAccountOf } from '../kube/ingest.js';

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
 * Patches `sa` with `compute(sa)`, retrying on 409 up to `maxAttempts` times with a fresh read.
 * Returns what was written, or null when nothing had to be (no change, or the ServiceAccount is gone).
 */
export async function patchPullSecrets(
  kube: Pick<Kube, 'patchServiceAccountPullSecrets' | 'getServiceAccount'>,
  sa: ServiceAccountLike,
  compute: (sa: ServiceAccountLike) => PullSecretsChange | null,
  hooks: PatchHooks = {},
  maxAttempts = 5,
): Promise<Patched | null> {
  const namespace = sa.metadata.namespace ?? '';
  const name = sa.metadata.name;
  let current = sa;
  for (let attempt = 1; ; attempt++) {
    const change = compute(current);
    if (!change) return null;
    hooks.beforeWrite?.();
    try {
      await kube.patchServiceAccountPullSecrets(namespace, name, current.metadata.resourceVersion, change);
      return { change, attempts: attempt };
    } catch (err) {
      hooks.afterFailure?.(err);
      if (err instanceof KubeError && err.kind === 'NotFound') return null; // deleted meanwhile
      if (!(err instanceof KubeError && err.kind === 'Conflict') || attempt >= maxAttempts) throw err;
      hooks.onConflict?.(attempt);
      const fresh = await kube.getServiceAccount(namespace, name);
      if (!fresh) return null;
      current = serviceAccountOf(fresh);
    }
  }
}
