/**
 * /healthz, /readyz and /metrics of a running operator, an API server that cannot be reached, and
 * Warning Events that do not flood the API when a problem stays.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startOperator } from '../harness/operator.js';
import { Scenario, mergePatch } from '../harness/scenario.js';

const get = async (port: number | undefined, path: string): Promise<{ status: number; body: string }> => {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, body: await r.text() };
};

/** A port that nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('health, readiness and metrics', () => {
  const s = new Scenario('http');

  before(async () => {
    await s.setUp();
    await s.startOperator(['--resync-period', '1s']);
  });

  after(() => s.tearDown());

  it('answers /healthz and /readyz with 200 once synced, and serves the documented metrics', async () => {
    const ns = await s.namespace('a');
    await s.waitFor('copies', async () => (await s.pullSecretNames(ns)).length > 0);
    const port = s.operator!.httpPort;
    assert.equal((await get(port, '/healthz')).status, 200);
    assert.equal((await get(port, '/readyz')).status, 200);
    const expected = [
      'controller_runtime_reconcile_total{controller="pullsecret",result="success"}',
      'controller_runtime_reconcile_time_seconds_bucket',
      'workqueue_depth{name="pullsecret"}',
      'pullsecret_operator_managed_copies 5',
      'pullsecret_operator_secret_writes_total{op="create"} 5',
      'pullsecret_operator_serviceaccount_patches_total 1',
      'pullsecret_operator_informer_last_event_timestamp_seconds{informer="namespaces"}',
      'pullsecret_operator_leader 1',
      'process_resident_memory_bytes',
    ];
    // The gauges follow the caches, which see our own writes a moment later: poll.
    const m = await s.waitFor('the metrics', async () => {
      const r = await get(port, '/metrics');
      return r.status === 200 && expected.every((name) => r.body.includes(name)) && r;
    }).catch(async () => get(port, '/metrics'));
    assert.equal(m.status, 200);
    for (const name of expected) assert.ok(m.body.includes(name), `metrics include ${name}`);
  });

  it('records a Warning Event for a problem that stays once, not at every resync', async () => {
    const ns = `${s.id}-foreign`;
    await s.core.createNamespace({ body: { metadata: { name: ns } } });
    s.namespaces.push(ns);
    await s.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'all-icr-io' }, type: 'Opaque', data: { x: 'eA==' } } });
    await s.core.patchNamespace({ name: ns, body: { metadata: { labels: { 'pso-test': s.id } } } }, mergePatch);
    // One Event in `default` (for `kubectl describe namespace`) and one in the namespace itself.
    const list = async (): Promise<string[]> =>
      (await s.core.listEventForAllNamespaces({ fieldSelector: `involvedObject.kind=Namespace,involvedObject.name=${ns},reason=ForeignSecret` })).items
        .map((e) => e.metadata?.namespace ?? '')
        .sort();
    await s.waitFor('the first Events', async () => (await list()).length === 2);
    const resyncs = s.operator!.logs.filter((l) => l.message === 'periodic resync').length;
    await sleep(3500);
    assert.ok(s.operator!.logs.filter((l) => l.message === 'periodic resync').length - resyncs >= 3, 'resyncs happened meanwhile');
    assert.deepEqual(await list(), ['default', ns].sort(), 'one Event in each place, however many reconciles saw the problem');
  });
});

describe('an API server that cannot be reached', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pso-http-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is not ready, turns /healthz to 500 after --unhealthy-after, and keeps running and retrying', async () => {
    const kubeconfig = join(dir, 'kubeconfig');
    const real = readFileSync(process.env.PSO_TEST_KUBECONFIG ?? '', 'utf8');
    writeFileSync(kubeconfig, real.replace(/server: https:\/\/127\.0\.0\.1:\d+/, `server: https://127.0.0.1:${await closedPort()}`));
    const op = await startOperator({ kubeconfig, args: ['--unhealthy-after', '1s'], waitSynced: false });
    try {
      await op.waitForLog((l) => l.message === 'watch failed; restarting', 10000, 'a failed list');
      assert.equal((await get(op.httpPort, '/readyz')).status, 503);
      await sleep(1500);
      const h = await get(op.httpPort, '/healthz');
      assert.equal(h.status, 500, h.body);
      assert.match(h.body, /failing/);
      assert.match((await get(op.httpPort, '/metrics')).body, /pullsecret_operator_informer_restarts_total\{informer="namespaces"\} [1-9]/);
      assert.equal(op.child.exitCode, null, 'still running');
    } finally {
      await op.stop();
    }
  });
});
