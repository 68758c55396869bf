/**
 * Issue behaviour 9: in sync, the operator writes nothing, resyncs included; a new namespace is
 * served from events, not from polling.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Watch } from '@kubernetes/client-node';
import { AuditLog, byIdentity, lists } from '../harness/audit.js';
import { apiserverWrites } from '../harness/kube.js';
import { Scenario, fixtureCopies } from '../harness/scenario.js';
import { setTimeout as sleep } from 'node:timers/promises';


describe('steady state', () => {
  const s = new Scenario('steady');
  const identity = `${s.id}-op`;

  before(async () => {
    await s.setUp();
    await s.startOperator(['--resync-period', '1s'], { POD_NAME: identity });
  });

  after(() => s.tearDown());

  it('makes no write calls and no LISTs when everything is in sync, through several resyncs', async () => {
    const a = await s.namespace('a');
    const b = await s.namespace('b');
    await s.core.createNamespacedServiceAccount({ namespace: b, body: { metadata: { name: 'builder' }, imagePullSecrets: [{ name: 'mine' }] } });
    for (const ns of [a, b]) await s.waitFor(`${ns} in sync`, async () => (await s.pullSecretNames(ns)).length === fixtureCopies(ns).length);
    await s.waitFor('builder in sync', async () => (await s.pullSecretNames(b, 'builder')).length === fixtureCopies(b).length + 1);
    // Other test files' namespaces must be gone: the namespace controller's deletes would count.
    await s.waitFor('no terminating namespaces', async () => (await s.core.listNamespace()).items.every((n) => n.status?.phase !== 'Terminating'), 60000);
    await sleep(1500);
    const op = s.operator!;
    const audit = new AuditLog();
    // The process's first LISTs are in the log: a steady state adds none.
    assert.ok(lists(byIdentity(await audit.since(0), identity)).length >= 4, 'the audit log records the first LISTs of the four informers by this identity');
    const mark = await audit.mark();
    const resyncsBefore = op.logs.filter((l) => l.message === 'periodic resync').length;
    const writesBefore = await apiserverWrites(s.kc);
    await sleep(4500);
    const writesAfter = await apiserverWrites(s.kc);
    // The resyncs are the operator's own doing; counting them only checks the window saw some.
    const resyncs = op.logs.filter((l) => l.message === 'periodic resync').length - resyncsBefore;
    assert.ok(resyncs >= 3, `expected at least 3 resyncs in the window, saw ${resyncs}`);
    const requests = byIdentity(await audit.since(mark), identity).filter((e) => e.stage === 'ResponseComplete' && e.verb !== 'watch');
    assert.deepEqual(requests.map((e) => `${e.verb} ${e.requestURI ?? ''}`), [], 'by the audit log: no request at all but the open watches (a resync replays the caches: no LIST, no GET, no write)');
    assert.equal(writesAfter - writesBefore, 0, 'write requests to secrets, serviceaccounts and events counted by the API server');
  });
});

describe('reaction to a new namespace', () => {
  const s = new Scenario('speed');

  before(async () => {
    await s.setUp();
    // A resync period of an hour: whatever happens within the test comes from watch events.
    await s.startOperator(['--resync-period', '1h']);
  });

  after(() => s.tearDown());

  it("creates the copies and patches the new default ServiceAccount from watch events, not from polling", async (t) => {
    const ns = `${s.id}-fresh`;
    const seen: { added?: number; patched?: number } = {};
    const watch = await new Watch(s.kc).watch(`/api/v1/namespaces/${ns}/serviceaccounts`, {}, (type, obj: { metadata?: { name?: string }; imagePullSecrets?: unknown[] }) => {
      if (obj.metadata?.name !== 'default') return;
      if (type === 'ADDED') seen.added ??= performance.now();
      if ((obj.imagePullSecrets ?? []).length === fixtureCopies(ns).length) seen.patched ??= performance.now();
    }, () => undefined);
    try {
      await s.core.createNamespace({ body: { metadata: { name: ns, labels: { 'pso-test': s.id } } } });
      s.namespaces.push(ns);
      await s.waitFor('the default ServiceAccount patched', async () => seen.patched !== undefined && seen.added !== undefined);
      assert.deepEqual(await s.copies(ns), fixtureCopies(ns));
      // Reported, not asserted: speed is measured by `npm run bench` (see docs/sizing.md).
      t.diagnostic(`default ServiceAccount patched ${Math.round((seen.patched ?? 0) - (seen.added ?? 0))} ms after it appeared`);
    } finally {
      watch.abort();
    }
  });
});
