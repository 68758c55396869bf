import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1ServiceAccount } from '@kubernetes/client-node';
import { patchPullSecrets, type PatchHooks } from '../../src/controller/pullsecrets.js';
import { pullSecretsChange, type PullSecretsChange } from '../../src/domain/desired.js';
import type { ServiceAccountMergePatch } from '../../src/domain/patches.js';
import type { ServiceAccountLike } from '../../src/domain/types.js';
import { KubeError } from '../../src/kube/client.js';

const sa = (rv: string, names: string[]): ServiceAccountLike => ({ metadata: { name: 'default', namespace: 'team-a', resourceVersion: rv }, imagePullSecrets: names.map((name) => ({ name })) });

/** A fake of the two calls: answers each patch with the next scripted error (or success), and each read with the next ServiceAccount. */
function fake(patchErrors: (KubeError | undefined)[], reads: (ServiceAccountLike | undefined)[]) {
  const patches: { rv: string | undefined; change: PullSecretsChange }[] = [];
  return {
    patches,
    kube: {
      patchServiceAccount: async (_ns: string, _name: string, patch: ServiceAccountMergePatch) => {
        patches.push({ rv: patch.metadata.resourceVersion, change: { imagePullSecrets: patch.imagePullSecrets ?? [], added: patch.metadata.annotations['pullsecret-operator.io/added-pull-secrets'] ?? null } });
        const err = patchErrors.shift();
        if (err) throw err;
      },
      getServiceAccount: async () => reads.shift() as V1ServiceAccount | undefined,
    },
  };
}

const conflict = new KubeError('Conflict', 409, 'conflict');
const add = (s: ServiceAccountLike): PullSecretsChange | null => pullSecretsChange(s, ['all-icr-io']);

/** Patches `s` with add(s), recomputing add() after a conflict, as the reconciler does. */
const patch = (kube: ReturnType<typeof fake>['kube'], s: ServiceAccountLike, hooks?: PatchHooks, maxAttempts?: number) => patchPullSecrets(kube, s.metadata, add(s), add, hooks, maxAttempts);

test('patchPullSecrets: writes with the resourceVersion it computed from', async () => {
  const f = fake([undefined], []);
  const r = await patch(f.kube, sa('5', ['mine']));
  assert.equal(r?.attempts, 1);
  assert.deepEqual(f.patches.map((p) => p.rv), ['5']);
  assert.deepEqual(f.patches[0]?.change.imagePullSecrets, [{ name: 'mine' }, { name: 'all-icr-io' }]);
});

test('patchPullSecrets: conflict rereads and recomputes keeping the other writers entry', async () => {
  const f = fake([conflict, undefined], [sa('7', ['mine', 'theirs'])]);
  const r = await patch(f.kube, sa('5', ['mine']));
  assert.equal(r?.attempts, 2);
  assert.deepEqual(f.patches.map((p) => p.rv), ['5', '7']);
  assert.deepEqual(f.patches[1]?.change.imagePullSecrets, [{ name: 'mine' }, { name: 'theirs' }, { name: 'all-icr-io' }]);
});

test('patchPullSecrets: nothing to write after the reread writes nothing', async () => {
  const done = { ...sa('8', ['mine', 'all-icr-io']), metadata: { ...sa('8', []).metadata, annotations: { 'pullsecret-operator.io/added-pull-secrets': 'all-icr-io' } } };
  const f = fake([conflict], [done]);
  assert.equal(await patch(f.kube, sa('5', ['mine'])), null);
  assert.equal(f.patches.length, 1);
});

test('patchPullSecrets: a ServiceAccount deleted meanwhile is not an error', async () => {
  assert.equal(await patch(fake([new KubeError('NotFound', 404, 'gone')], []).kube, sa('5', [])), null);
  assert.equal(await patch(fake([conflict], [undefined]).kube, sa('5', [])), null);
});

test('patchPullSecrets: gives up after max attempts and on other errors', async () => {
  const many = fake([conflict, conflict, conflict], [sa('6', []), sa('7', [])]);
  await assert.rejects(patch(many.kube, sa('5', []), {}, 3), /conflict/);
  assert.equal(many.patches.length, 3);
  const denied = fake([new KubeError('Forbidden', 403, 'forbidden')], []);
  await assert.rejects(patch(denied.kube, sa('5', [])), /forbidden/);
  assert.equal(denied.patches.length, 1);
});

test('patchPullSecrets: hooks see every attempt', async () => {
  const seen: string[] = [];
  const f = fake([conflict, undefined], [sa('7', [])]);
  await patch(f.kube, sa('5', []), {
    beforeWrite: () => seen.push('before'),
    afterFailure: () => seen.push('failed'),
    onConflict: (n) => seen.push(`conflict ${n}`),
  });
  assert.deepEqual(seen, ['before', 'failed', 'conflict 1', 'before']);
});
