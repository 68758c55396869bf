/**
 * Issue behaviour 4: which namespaces get copies, and terminating namespaces.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Secret } from '@kubernetes/client-node';
import { OPT_OUT, Scenario, fixtureCopies, mergePatch, orUndefined } from '../harness/scenario.js';

describe('namespaces', () => {
  const s = new Scenario('ns');
  const [labelKey, labelValue] = s.label.split('=') as [string, string];

  before(async () => {
    await s.setUp();
    // Select the source namespace and kube-system too: they must still get nothing.
    await s.core.patchNamespace({ name: s.source, body: { metadata: { labels: { [labelKey]: labelValue } } } }, mergePatch);
    await s.core.patchNamespace({ name: 'kube-system', body: { metadata: { labels: { [labelKey]: labelValue } } } }, mergePatch);
    await s.startOperator(['--exclude-namespaces', `${s.id}-skip-*,other-*`]);
  });

  after(async () => {
    await s.core.patchNamespace({ name: 'kube-system', body: { metadata: { labels: { [labelKey]: null } } } }, mergePatch);
    await s.tearDown();
  });

  it('gives a new namespace every copy', async () => {
    const ns = await s.namespace('new');
    const got = await s.waitFor('copies', async () => {
      const c = await s.copies(ns);
      return c.length === fixtureCopies(ns).length && c;
    });
    assert.deepEqual(got, fixtureCopies(ns));
  });

  it('gives nothing to the source namespace, kube-system, kube-public, kube-node-lease, excluded globs, unselected and opted-out namespaces', async () => {
    const skipped = await s.namespace('skip-me');
    const optedOut = await s.namespace('opted-out', { annotations: { [OPT_OUT]: 'true' } });
    const unselected = `${s.id}-unselected`;
    await s.core.createNamespace({ body: { metadata: { name: unselected } } });
    s.namespaces.push(unselected);
    // A namespace created after them proves the operator has processed the earlier ones.
    const marker = await s.namespace('marker');
    await s.waitFor('copies in the marker namespace', async () => (await s.copies(marker)).length === fixtureCopies(marker).length);
    for (const ns of [s.source, 'kube-system', 'kube-public', 'kube-node-lease', skipped, optedOut, unselected]) {
      assert.deepEqual(await s.copies(ns), [], `${ns} must get no copies`);
    }
    assert.deepEqual(await s.pullSecretNames(optedOut).catch(() => []), []);
  });

  it('writes nothing to a terminating namespace and does not retry "being terminated"', async () => {
    const ns = await s.namespace('doomed');
    await s.waitFor('copies and the default ServiceAccount patched', async () => (await s.copies(ns)).length > 0 && (await s.pullSecretNames(ns)).length > 0);
    // A finalizer on an object inside holds the namespace in Terminating.
    await s.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'hold', finalizers: ['pso.test/hold'] } } });
    try {
      const op = s.operator!;
      const before = op.logs.length;
      await s.core.deleteNamespace({ name: ns });
      await s.waitFor('the namespace to be terminating', async () => (await s.core.readNamespace({ name: ns })).status?.phase === 'Terminating');
      // From the moment the operator has seen the deletion, nothing more may be written there.
      await op.waitForLog((l) => l.message === 'namespace left alone' && l['namespace'] === ns && l['reason'] === 'terminating' && op.logs.indexOf(l) >= before, 20000, 'the operator to see the namespace terminating');
      const mark = op.logs.length;
      // A source rotation fans out to every namespace, the terminating one included.
      const src = (await s.secret(s.source, 'all-icr-io')) as V1Secret;
      const rotated = Buffer.from(JSON.stringify({ auths: { 'icr.io': { username: 'iamapikey', password: 'rotated-for-termination-test' } } })).toString('base64');
      await s.core.replaceNamespacedSecret({ namespace: s.source, name: 'all-icr-io', body: { ...src, data: { '.dockerconfigjson': rotated } } });
      const other = s.namespaces.find((n) => n.endsWith('-new')) ?? '';
      await s.waitFor('the rotation to reach another namespace', async () => (await s.secret(other, 'all-icr-io'))?.data?.['.dockerconfigjson'] === rotated);
      await sleep(1000);
      const lines = op.logs.slice(mark).filter((l) => l['namespace'] === ns);
      assert.deepEqual(lines.filter((l) => l.level !== 'debug'), [], 'no writes, warnings or retries for the terminating namespace');
      assert.ok(lines.some((l) => l.message === 'namespace left alone'), 'the rotation did reach it, and it was left alone');
    } finally {
      // Let it go.
      await s.core.patchNamespacedConfigMap({ namespace: ns, name: 'hold', body: { metadata: { finalizers: null } } }, mergePatch);
    }
    await s.waitFor('the namespace to be gone', async () => (await orUndefined(s.core.readNamespace({ name: ns }))) === undefined, 30000);
    assert.equal(s.operator!.child.exitCode, null, 'still running');
  });
});
