/**
 * Issue behaviour 7: a secret with a copy's name that is not ours is never changed or deleted,
 * is reported, and stays off ServiceAccounts, until an admin hands it over with our label.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MANAGED, Scenario, mergePatch } from '../harness/scenario.js';

describe('ownership', () => {
  const s = new Scenario('own');
  let ns = '';
  const theirs = Buffer.from('{"auths":{"icr.io":{"username":"someone","password":"their-own"}}}').toString('base64');

  before(async () => {
    await s.setUp();
    ns = `${s.id}-team`;
    await s.core.createNamespace({ body: { metadata: { name: ns, labels: { 'pso-test': s.id } } } });
    s.namespaces.push(ns);
    // The user's own all-icr-io, made by hand from IBM's docs before the operator came.
    await s.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'all-icr-io', labels: { owner: 'me' } }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': theirs } } });
    await s.startOperator();
  });

  after(() => s.tearDown());

  it('leaves a same-named secret that is not ours unchanged, reports it, and keeps it off ServiceAccounts', async () => {
    const before = await s.secret(ns, 'all-icr-io');
    await s.waitFor('the other copies', async () => (await s.copies(ns)).includes(`${ns}-icr-io`));
    await s.waitFor('default SA patched', async () => (await s.pullSecretNames(ns)).includes(`${ns}-icr-io`));
    const ev = await s.waitFor('a Warning Event on the namespace', async () => {
      // Events about a Namespace live in `default`, as client-go records them (`kubectl describe namespace` shows them).
      const l = await s.core.listEventForAllNamespaces({ fieldSelector: `involvedObject.kind=Namespace,involvedObject.name=${ns},metadata.namespace=default` });
      return l.items.find((e) => e.type === 'Warning');
    });
    // And in the namespace itself, where its owners look (`kubectl get events -n <ns>`).
    const local = await s.waitFor('the same Event in the namespace', async () =>
      (await s.core.listNamespacedEvent({ namespace: ns })).items.find((e) => e.type === 'Warning' && e.involvedObject.kind === 'Namespace' && e.involvedObject.name === ns),
    );
    assert.equal(local.reason, 'ForeignSecret');
    assert.equal(ev.reason, 'ForeignSecret');
    assert.ok(ev.message?.includes('all-icr-io'));
    await s.operator!.waitForLog((l) => l.message.includes('not ours') && l['secret'] === 'all-icr-io', 5000, 'the foreign-secret log line');
    const after = await s.secret(ns, 'all-icr-io');
    assert.equal(after?.metadata?.resourceVersion, before?.metadata?.resourceVersion, 'never written');
    assert.equal(after?.data?.['.dockerconfigjson'], theirs);
    assert.ok(!(await s.pullSecretNames(ns)).includes('all-icr-io'), 'not added to the ServiceAccount');
  });

  it('takes over a secret an admin hands over with the managed-by label', async () => {
    await s.core.patchNamespacedSecret({ namespace: ns, name: 'all-icr-io', body: { metadata: { labels: { [MANAGED]: 'pullsecret-operator' } } } }, mergePatch);
    const src = await s.secret(s.source, 'all-icr-io');
    await s.waitFor('the data synced from the source', async () => (await s.secret(ns, 'all-icr-io'))?.data?.['.dockerconfigjson'] === src?.data?.['.dockerconfigjson']);
    await s.waitFor('all-icr-io on the ServiceAccount', async () => (await s.pullSecretNames(ns)).includes('all-icr-io'));
  });

  it('creates the copy once a foreign secret in its way is deleted', async () => {
    const ns2 = `${s.id}-team2`;
    await s.core.createNamespace({ body: { metadata: { name: ns2 } } });
    s.namespaces.push(ns2);
    await s.core.createNamespacedSecret({ namespace: ns2, body: { metadata: { name: 'all-icr-io' }, type: 'Opaque', data: { x: 'eA==' } } });
    await s.core.patchNamespace({ name: ns2, body: { metadata: { labels: { 'pso-test': s.id } } } }, mergePatch);
    await s.waitFor('the other copies', async () => (await s.copies(ns2)).includes(`${ns2}-icr-io`));
    assert.equal((await s.secret(ns2, 'all-icr-io'))?.type, 'Opaque');
    await s.core.deleteNamespacedSecret({ namespace: ns2, name: 'all-icr-io' });
    // Deleting a secret that is not ours sends us no event; the next reconcile of the namespace
    // (any change in it, or the resync) re-checks the name. Touch the namespace's ServiceAccount,
    // once kube-controller-manager has made it (on a busy machine that can come after the copies).
    await s.waitFor('the default ServiceAccount', async () => (await s.serviceAccount(ns2)) !== undefined);
    await s.core.patchNamespacedServiceAccount({ namespace: ns2, name: 'default', body: { metadata: { labels: { touched: 'yes' } } } }, mergePatch);
    await s.waitFor('our copy created', async () => (await s.secret(ns2, 'all-icr-io'))?.metadata?.labels?.[MANAGED] === 'pullsecret-operator');
  });
});
