/**
 * Leader election on a real control plane: several operator processes share a Lease; only the
 * leader reconciles; a killed leader is replaced within the lease duration, a stopped one at once
 * (it releases the Lease after draining); a leader that loses the Lease exits 1; no two replicas
 * ever write at the same time. The replicas run as the manifests' Deployment runs them (its args:
 * leader election and the webhook on; its identity, RBAC and admission policy), with shorter lease
 * timings; who wrote what, and when, is judged from the API server's audit log (by the user agent,
 * which names each replica), and the takeovers from the Lease itself.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CoordinationV1Api, type V1Lease, V1MicroTime } from '@kubernetes/client-node';
import { type AuditEvent, AuditLog, byIdentity, writes as writesIn } from '../harness/audit.js';
import { freePort } from '../harness/kube.js';
import { deploymentArgs } from '../harness/manifests.js';
import { type LogLine, type OperatorProcess, startOperator } from '../harness/operator.js';
import { Scenario, fixtureCopies, identityNamespace, isNotFound } from '../harness/scenario.js';

const LEASE_DURATION_MS = 4000;
const RETRY_PERIOD_MS = 500;
/**
 * A standby judges expiry from when it last SAW the Lease change, and polls every retryPeriod
 * with client-go's jitter (up to x2.2): it may see the last renewal up to one poll after it was
 * written, and take over up to one poll after expiry. So a killed leader is replaced within
 * leaseDuration + 2 polls of the kill.
 */
const KILL_TAKEOVER_BOUND_MS = LEASE_DURATION_MS + 2 * RETRY_PERIOD_MS * 2.2 + 300;
/** A released Lease is taken at the standby's next poll: well under the lease duration. */
const RELEASE_TAKEOVER_BOUND_MS = LEASE_DURATION_MS / 2;

const at = (l: LogLine): number => Date.parse(String(l['timestamp']));

describe('leader election between operator replicas', () => {
  const s = new Scenario('le');
  const coord = s.kc.makeApiClient(CoordinationV1Api);
  const audit = new AuditLog();
  const procs: { name: string; p: OperatorProcess; killedAt?: number }[] = [];
  let leaseNamespace = '';
  let leader: (typeof procs)[number] | undefined;
  let standby: (typeof procs)[number] | undefined;

  const lease = (): Promise<V1Lease> => coord.readNamespacedLease({ namespace: leaseNamespace, name: 'pullsecret-operator' });

  async function replica(name: string): Promise<(typeof procs)[number]> {
    const d = deploymentArgs(await freePort(), leaseNamespace);
    const p = await startOperator({
      kubeconfig: s.operatorKubeconfigPath,
      args: s.args([...d.args, '--lease-duration', '4s', '--renew-deadline', '3s', '--retry-period', '500ms']),
      env: { ...d.env, POD_NAME: `${s.id}-${name}` },
      waitSynced: false,
    });
    const r = { name, p };
    procs.push(r);
    await p.waitForLog((l) => l.message.startsWith('caches synced'), 20000, `${name}: caches synced`);
    return r;
  }

  const identity = (r: (typeof procs)[number]): string => `${s.id}-${r.name}`;
  const becameLeader = (r: (typeof procs)[number]): LogLine | undefined => r.p.logs.find((l) => l.message === 'became leader');
  /** The replica's writes to secrets and ServiceAccounts, as the API server's audit log records them. */
  const writes = async (r: (typeof procs)[number]): Promise<AuditEvent[]> => writesIn(byIdentity(await audit.since(0), identity(r)));
  const wroteIn = async (r: (typeof procs)[number], ns: string): Promise<boolean> => (await writes(r)).some((e) => e.objectRef?.namespace === ns);
  /** When the Lease says its holder acquired it (written by that holder). */
  const acquiredAt = async (): Promise<number> => Date.parse(String((await lease()).spec?.acquireTime));

  async function probe(r: (typeof procs)[number], path: string): Promise<{ status: number; body: string }> {
    const res = await fetch(`http://127.0.0.1:${r.p.httpPort}${path}`);
    return { status: res.status, body: await res.text() };
  }

  async function reconciled(ns: string): Promise<void> {
    await s.waitFor(`copies and ServiceAccount patch in ${ns}`, async () => {
      const copies = await s.copies(ns);
      const names = await s.pullSecretNames(ns);
      return copies.join() === fixtureCopies(ns).join() && names.length === fixtureCopies(ns).length;
    });
  }

  before(async () => {
    await s.setUp();
    // The manifests' Role grants the one Lease `pullsecret-operator` of the identity's namespace: start from none.
    leaseNamespace = identityNamespace();
    await coord.deleteNamespacedLease({ namespace: leaseNamespace, name: 'pullsecret-operator' }).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
  });

  after(async () => {
    for (const r of procs) await r.p.stop('SIGKILL');
    await s.tearDown();
  });

  it('elects exactly one of two replicas; only the leader reconciles, and the standby is ready too', async () => {
    const a = await replica('a');
    const b = await replica('b');
    const first = await s.waitFor('a leader', async () => [a, b].find((r) => becameLeader(r) !== undefined));
    leader = first;
    standby = first === a ? b : a;
    await standby.p.waitForLog((l) => l.message === 'new leader observed' && l['leader'] === identity(first), 10000, 'the standby to observe the leader');

    const ns = await s.namespace('first');
    await reconciled(ns);

    assert.equal(becameLeader(standby), undefined, 'the standby never became leader');
    assert.deepEqual(await writes(standby), [], 'the standby wrote nothing, by the audit log');
    assert.ok(await wroteIn(leader, ns), 'the leader wrote the copies, by the audit log');
    assert.equal((await lease()).spec?.holderIdentity, identity(leader));

    // Ready: caches synced and the webhook serving, on the standby too.
    for (const r of [leader, standby]) await s.waitFor(`${r.name} ready`, async () => (await probe(r, '/readyz')).status === 200);
    for (const r of [leader, standby]) assert.match((await probe(r, '/metrics')).body, /^pullsecret_operator_webhook_serving 1$/m, `${r.name} serves the webhook`);
    assert.match((await probe(leader, '/metrics')).body, /^pullsecret_operator_leader 1$/m);
    assert.match((await probe(standby, '/metrics')).body, /^pullsecret_operator_leader 0$/m);
  });

  it('replaces a killed leader (SIGKILL, lease not released) within the lease duration; the new leader reconciles a namespace created after the kill', async () => {
    assert.ok(leader && standby);
    const dead = leader;
    dead.killedAt = Date.now();
    await dead.p.stop('SIGKILL');
    const ns = await s.namespace('after-kill');

    const next = standby;
    await s.waitFor('the standby to take the Lease over', async () => (await lease()).spec?.holderIdentity === identity(next), KILL_TAKEOVER_BOUND_MS + 5000);
    const tookMs = (await acquiredAt()) - dead.killedAt;
    console.log(`takeover after SIGKILL: ${tookMs} ms (lease duration ${LEASE_DURATION_MS} ms, bound ${KILL_TAKEOVER_BOUND_MS} ms)`);
    assert.ok(tookMs <= KILL_TAKEOVER_BOUND_MS, `took over ${tookMs} ms after the kill`);

    await reconciled(ns);
    assert.ok(await wroteIn(standby, ns), 'the new leader wrote the copies, by the audit log');
    const spec = (await lease()).spec;
    assert.equal(spec?.holderIdentity, identity(standby));
    assert.equal(spec?.leaseTransitions, 1);
    leader = standby;
    standby = undefined;
  });

  it('hands over at once when the leader is stopped (SIGTERM): it drains, releases the lease, exits 0, and a standby takes over', async () => {
    assert.ok(leader);
    const c = await replica('c');
    await c.p.waitForLog((l) => l.message === 'new leader observed' && l['leader'] === identity(leader as (typeof procs)[number]), 10000, 'c to observe the leader');
    const old = leader;

    const termAt = Date.now();
    const exit = await old.p.stop('SIGTERM');
    assert.equal(exit.code, 0);
    const released = old.p.logs.find((l) => l.message === 'leadership released');
    assert.ok(released, 'the old leader released the lease');

    await s.waitFor('c to take the Lease over', async () => (await lease()).spec?.holderIdentity === identity(c), LEASE_DURATION_MS * 2);
    const tookMs = (await acquiredAt()) - termAt;
    console.log(`takeover after SIGTERM: ${tookMs} ms after the signal, ${(await acquiredAt()) - at(released)} ms after the release (bound ${RELEASE_TAKEOVER_BOUND_MS} ms)`);
    assert.ok(tookMs < RELEASE_TAKEOVER_BOUND_MS, `took over ${tookMs} ms after SIGTERM`);

    const ns = await s.namespace('after-term');
    await reconciled(ns);
    assert.ok(await wroteIn(c, ns), 'the new leader wrote the copies, by the audit log');
    const spec = (await lease()).spec;
    assert.equal(spec?.holderIdentity, identity(c));
    assert.equal(spec?.leaseTransitions, 2);
    leader = c;
  });

  it('makes a leader that finds the lease taken by another holder stop at once and exit 1 (lost leadership)', async () => {
    assert.ok(leader);
    const current = await lease();
    await coord.replaceNamespacedLease({
      namespace: leaseNamespace,
      name: 'pullsecret-operator',
      body: { ...current, spec: { ...current.spec, holderIdentity: 'intruder', renewTime: new V1MicroTime(Date.now()) } },
    });
    const exit = await Promise.race([leader.p.exited, new Promise<'running'>((r) => setTimeout(() => r('running'), LEASE_DURATION_MS * 2))]);
    assert.notEqual(exit, 'running', 'the old leader exited');
    assert.equal(exit !== 'running' && exit.code, 1);
    const lost = leader.p.logs.find((l) => l.message === 'lost leadership');
    assert.equal(lost?.['reason'], 'taken-over');
  });

  it('never lets two replicas write at once: by the audit log, each replica that led wrote in a span of its own, and the others wrote nothing', async () => {
    const spans: { name: string; first: number; last: number; n: number }[] = [];
    for (const r of procs) {
      const w = await writes(r);
      if (becameLeader(r) === undefined) {
        assert.deepEqual(w, [], `${r.name} never led and wrote nothing`);
        continue;
      }
      assert.ok(w.length > 0, `${r.name} led and wrote`);
      spans.push({ name: r.name, first: Math.min(...w.map((e) => Date.parse(e.requestReceivedTimestamp))), last: Math.max(...w.map((e) => Date.parse(e.stageTimestamp))), n: w.length });
    }
    spans.sort((x, y) => x.first - y.first);
    assert.equal(spans.length, 3, 'three replicas led, one after another');
    for (let i = 1; i < spans.length; i++) {
      const prev = spans[i - 1];
      const cur = spans[i];
      assert.ok(prev && cur && prev.last < cur.first, `${prev?.name}'s last write (${new Date(prev?.last ?? 0).toISOString()}) ended before ${cur?.name}'s first began (${new Date(cur?.first ?? 0).toISOString()})`);
    }
  });
});
