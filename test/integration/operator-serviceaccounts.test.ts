/**
 * Issue behaviours 5 and 6: ServiceAccounts list every managed copy; user entries are never
 * moved or lost, even with a concurrent writer; opt-out of a namespace or a ServiceAccount at runtime.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { V1ServiceAccount } from '@kubernetes/client-node';
import { OPT_OUT, Scenario, fixtureCopies, mergePatch } from '../harness/scenario.js';

describe('ServiceAccounts', () => {
  const s = new Scenario('sa');
  let ns = '';

  before(async () => {
    await s.setUp();
    await s.startOperator();
    ns = await s.namespace('apps');
  });

  after(() => s.tearDown());

  it("adds every copy to the controller-manager's default ServiceAccount of a new namespace", async () => {
    const names = await s.waitFor('default SA patched', async () => {
      const n = await s.pullSecretNames(ns);
      return n.length === fixtureCopies(ns).length && n;
    });
    assert.deepEqual([...names].sort(), fixtureCopies(ns));
  });

  it('adds the copies to a ServiceAccount created later, after its own entries, in their order', async () => {
    await s.core.createNamespacedServiceAccount({
      namespace: ns,
      body: { metadata: { name: 'builder' }, imagePullSecrets: [{ name: 'mine-z' }, { name: 'all-icr-io' }, { name: 'mine-a' }] },
    });
    const names = await s.waitFor('builder patched', async () => {
      const n = await s.pullSecretNames(ns, 'builder');
      return n.length === 3 + fixtureCopies(ns).length - 1 && n;
    });
    // Ours are appended; all-icr-io, listed by the user already, stays where it was and is not duplicated.
    assert.deepEqual(names.slice(0, 3), ['mine-z', 'all-icr-io', 'mine-a']);
    assert.deepEqual([...names.slice(3)].sort(), fixtureCopies(ns).filter((n) => n !== 'all-icr-io'));
    assert.equal(new Set(names).size, names.length, 'no duplicates');
  });

  it('gives pods of the patched ServiceAccount the pull secrets, through admission', async () => {
    const pod = await s.core.createNamespacedPod({
      namespace: ns,
      body: { metadata: { name: 'probe' }, spec: { serviceAccountName: 'default', containers: [{ name: 'c', image: 'us.icr.io/team/app:1' }] } },
    });
    assert.deepEqual((pod.spec?.imagePullSecrets ?? []).map((r) => r.name).sort(), fixtureCopies(ns));
  });

  it('never loses an entry written concurrently by another writer (resourceVersion guarded)', async () => {
    await s.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'busy' } } });
    await s.waitFor('busy patched', async () => (await s.pullSecretNames(ns, 'busy')).length === fixtureCopies(ns).length);
    const mine = Array.from({ length: 12 }, (_, i) => `user-${i}`);
    // The user appends entries one by one (read, modify, write with resourceVersion) while new
    // sources make the operator patch the same ServiceAccount.
    const user = (async () => {
      for (const name of mine) {
        for (;;) {
          const sa = (await s.serviceAccount(ns, 'busy')) as V1ServiceAccount;
          sa.imagePullSecrets = [...(sa.imagePullSecrets ?? []), { name }];
          try {
            await s.core.replaceNamespacedServiceAccount({ namespace: ns, name: 'busy', body: sa });
            break;
          } catch (err) {
            if ((err as { code?: number }).code !== 409) throw err;
          }
        }
      }
    })();
    const sources = Array.from({ length: 6 }, (_, i) => `extra-${i}`);
    const operatorSide = (async () => {
      for (const name of sources) {
        await s.core.createNamespacedSecret({
          namespace: s.source,
          body: { metadata: { name, labels: { 'pullsecret-operator.io/copy': 'true' } }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': Buffer.from('{"auths":{"us.icr.io":{"username":"u","password":"p"}}}').toString('base64') } },
        });
      }
    })();
    await Promise.all([user, operatorSide]);
    const names = await s.waitFor('all entries present', async () => {
      const n = await s.pullSecretNames(ns, 'busy');
      return [...mine, ...sources].every((x) => n.includes(x)) && n;
    });
    assert.deepEqual(names.filter((n) => n.startsWith('user-')), mine, "the user's entries, all there, in their order");
    assert.equal(new Set(names).size, names.length, 'no duplicates');
  });

  it('removes our entries (and only ours) from a ServiceAccount that opts out, and restores them when it opts back in', async () => {
    await s.core.patchNamespacedServiceAccount({ namespace: ns, name: 'builder', body: { metadata: { annotations: { [OPT_OUT]: 'true' } } } }, mergePatch);
    await s.waitFor('our entries removed', async () => {
      const n = await s.pullSecretNames(ns, 'builder');
      return n.join() === 'mine-z,all-icr-io,mine-a';
    });
    await s.core.patchNamespacedServiceAccount({ namespace: ns, name: 'builder', body: { metadata: { annotations: { [OPT_OUT]: null } } } }, mergePatch);
    await s.waitFor('our entries back', async () => (await s.pullSecretNames(ns, 'builder')).length > 3);
  });

  it('deletes the copies and our entries when a namespace opts out, and brings them back when it opts in', async () => {
    const team = await s.namespace('optout');
    await s.waitFor('copies', async () => (await s.pullSecretNames(team)).length > 0 && (await s.copies(team)).length > 0);
    const sa = (await s.serviceAccount(team)) as V1ServiceAccount;
    await s.core.replaceNamespacedServiceAccount({ namespace: team, name: 'default', body: { ...sa, imagePullSecrets: [{ name: 'my-own' }, ...(sa.imagePullSecrets ?? [])] } });
    await s.core.patchNamespace({ name: team, body: { metadata: { annotations: { [OPT_OUT]: 'true' } } } }, mergePatch);
    await s.waitFor('copies deleted and entries removed', async () => (await s.copies(team)).length === 0 && (await s.pullSecretNames(team)).join() === 'my-own');
    await s.core.patchNamespace({ name: team, body: { metadata: { annotations: { [OPT_OUT]: null } } } }, mergePatch);
    const names = await s.waitFor('copies back', async () => {
      const n = await s.pullSecretNames(team);
      return (await s.copies(team)).length >= fixtureCopies(team).length && n.length > 1 && n;
    });
    assert.equal(names[0], 'my-own');
  });
});

describe('ServiceAccounts limited by --service-accounts', () => {
  const s = new Scenario('salist');

  before(async () => {
    await s.setUp();
    await s.startOperator(['--service-accounts', 'builder']);
  });

  after(() => s.tearDown());

  it('patches only the listed ServiceAccounts', async () => {
    const ns = await s.namespace('apps');
    await s.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'builder' } } });
    await s.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'other' } } });
    await s.waitFor('builder patched', async () => (await s.pullSecretNames(ns, 'builder')).length === fixtureCopies(ns).length);
    await s.waitFor('default exists', async () => s.serviceAccount(ns, 'default'));
    assert.deepEqual(await s.pullSecretNames(ns, 'other'), []);
    assert.deepEqual(await s.pullSecretNames(ns, 'default'), []);
  });
});
