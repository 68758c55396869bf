/**
 * Issue 8: the operator against a misbehaving API server, for real. This file runs its own control
 * plane (with an audit log) because it kills and restarts the plane's processes:
 *
 * - kube-apiserver SIGKILLed in the middle of a burst, and started again on the same port;
 * - etcd SIGKILLed and started again under a running operator;
 * - a black hole: a TCP proxy whose connections stop forwarding and stay open for ever;
 * - real 429s from priority and fairness (a FlowSchema that squeezes the operator's identity);
 * - 500s and connection resets on writes from an HTTPS fault proxy;
 * - the leader's connection black-holed: the standby takes over, and the API server's audit log
 *   shows that no write of the two overlapped;
 * - --once against a plane that answers 429 and 500 now and then.
 *
 * Each test prints a `fault figure:` line (time to recover, requests during the fault, proof);
 * `npm run test:faults` runs only this file, and the fault figures of docs/faults.md (docs/benchmarks/) come from it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CoordinationV1Api, CoreV1Api, KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { cachesRunnable } from '../../src/app.js';
import { Operator } from '../../src/controller/operator.js';
import { parseSelector } from '../../src/domain/selector.js';
import { DEFAULT_REGISTRY_HOSTS } from '../../src/domain/sources.js';
import { createKube } from '../../src/kube/client.js';
import { systemClock } from '../../src/clock.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import { type AuditEvent, AuditLog } from '../harness/audit.js';
import { type ControlPlane, IDENTITY_NAMESPACE, startControlPlane } from '../harness/control-plane.js';
import { ibmSecrets } from '../harness/fixtures.js';
import { type HttpFaultProxy, type TcpProxy, kubeconfigVia, startHttpFaultProxy, startTcpProxy } from '../harness/faults.js';
import { apiserverMetrics, freePort, waitFor } from '../harness/kube.js';
import { deploymentArgs, installOperatorIdentity } from '../harness/manifests.js';
import { type LogLine, type OperatorProcess, REPO_ROOT, type SupervisedOperator, startOperator, startSupervised } from '../harness/operator.js';
import { MANAGED, Scenario, assertNoDenial, fixtureCopies } from '../harness/scenario.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { sum } from '../harness/metrics.js';



function figure(name: string, fields: Record<string, string | number>): void {
  console.log(`fault figure: ${name}: ${Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' ')}`);
}

describe('faults on a real control plane (own plane, audit log)', { timeout: 20 * 60_000 }, () => {
  let dir: string;
  let plane: ControlPlane;
  let admin: KubeConfig;
  let core: CoreV1Api;
  let operatorKubeconfig: string;
  let operatorUser: string;
  /** What the running test must undo, whatever its outcome (run in reverse by each test's finally). */
  let local: (() => Promise<unknown>)[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pso-faults-'));
    plane = await startControlPlane({ dir: join(dir, 'plane'), audit: true, log: (m) => console.log(m) });
    // Scenario and the operator harness read these.
    process.env.PSO_TEST_KUBECONFIG = plane.kubeconfigPath;
    admin = new KubeConfig();
    admin.loadFromFile(plane.kubeconfigPath);
    core = admin.makeApiClient(CoreV1Api);
    const identity = await installOperatorIdentity(admin, IDENTITY_NAMESPACE, 'faults', join(dir, 'operator-kubeconfig'));
    operatorKubeconfig = identity.kubeconfigPath;
    operatorUser = `system:serviceaccount:${identity.namespace}:${identity.serviceAccount}`;
    process.env.PSO_TEST_OPERATOR_KUBECONFIG = operatorKubeconfig;
  });

  async function undo(): Promise<void> {
    const todo = local.reverse();
    local = [];
    for (const c of todo) await c().catch((err: unknown) => console.log(`cleanup failed: ${String(err)}`));
  }

  after(async () => {
    await plane?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A TCP proxy in front of the plane, closed after the test, and a kubeconfig of the operator's identity through it. */
  async function viaTcpProxy(name: string): Promise<{ proxy: TcpProxy; kubeconfig: string }> {
    const proxy = await startTcpProxy(Number(new URL(plane.server).port));
    local.push(() => proxy.close());
    return { proxy, kubeconfig: await kubeconfigVia(operatorKubeconfig, `https://127.0.0.1:${proxy.port}`, join(dir, `${name}-kubeconfig`)) };
  }

  /** The same with the HTTPS fault proxy (the plane's own serving certificate). */
  async function viaHttpFaultProxy(name: string): Promise<{ proxy: HttpFaultProxy; kubeconfig: string }> {
    const proxy = await startHttpFaultProxy({ target: plane.server, caPath: plane.caCertPath, certPath: plane.serverCertPath, keyPath: plane.serverKeyPath });
    local.push(() => proxy.close());
    return { proxy, kubeconfig: await kubeconfigVia(operatorKubeconfig, `https://127.0.0.1:${proxy.port}`, join(dir, `${name}-kubeconfig`)) };
  }

  /**
   * The operator as the manifests' Deployment runs it (its args: leader election and the webhook
   * on; POD_NAMESPACE the identity's namespace, where the Lease and the webhook's Secret live), as
   * the identity the manifests install, confined to scenario `s`, through `kubeconfig` (a proxy's).
   */
  async function replica(s: Scenario, o: { kubeconfig?: string; extra?: string[]; name?: string; waitSynced?: boolean; env?: Record<string, string>; nodeArgs?: string[] } = {}): Promise<OperatorProcess> {
    const d = deploymentArgs(await freePort(), IDENTITY_NAMESPACE);
    const op = await startOperator({
      kubeconfig: o.kubeconfig ?? operatorKubeconfig,
      args: s.args([...d.args, ...(o.extra ?? [])]),
      env: { ...d.env, POD_NAME: o.name ?? `${s.id}-op`, ...o.env },
      ...(o.waitSynced === undefined ? {} : { waitSynced: o.waitSynced }),
      ...(o.nodeArgs ? { nodeArgs: o.nodeArgs } : {}),
    });
    s.operator ??= op;
    return op;
  }

  /**
   * The same, restarted whenever it exits, as the kubelet restarts the Deployment's container: a
   * leader that cannot renew its Lease within the renew deadline (10 s) exits 1 by design, and in a
   * cluster comes back as a standby. Stopped, and checked for denials, when the test ends.
   */
  async function supervised(s: Scenario, o: { kubeconfig?: string; extra?: string[]; deniedOk?: (line: string) => boolean } = {}): Promise<SupervisedOperator> {
    const d = deploymentArgs(await freePort(), IDENTITY_NAMESPACE);
    const op = await startSupervised({ kubeconfig: o.kubeconfig ?? operatorKubeconfig, args: s.args([...d.args, ...(o.extra ?? [])]), env: { ...d.env, POD_NAME: `${s.id}-op` } });
    local.push(async () => {
      await op.stop();
      assertNoDenial(op.stderr().split('\n').filter((l) => !(o.deniedOk?.(l) ?? false)).join('\n'));
    });
    return op;
  }

  /** Exits of a supervised replica are only ever a lost Lease (exit 1), never a crash. */
  function onlyLostLeases(op: SupervisedOperator): void {
    for (const e of op.exits) assert.equal(e.code, 1, `an exit other than a lost Lease: ${JSON.stringify(e)}`);
    const lost = op.logs.filter((l) => l.message === 'lost leadership').length;
    assert.equal(lost, op.exits.length, `each exit followed a lost leadership (${lost} of ${op.exits.length})`);
  }

  /** Every namespace has all its copies and its default ServiceAccount lists each once. */
  async function converged(s: Scenario, namespaces: readonly string[], copies: (ns: string) => string[] = fixtureCopies): Promise<boolean> {
    for (const ns of namespaces) {
      const want = copies(ns);
      if ((await s.copies(ns)).join(',') !== want.join(',')) return false;
      const names = await s.pullSecretNames(ns);
      if (!want.every((c) => names.filter((n) => n === c).length === 1)) return false;
    }
    return true;
  }

  async function audit(): Promise<AuditEvent[]> {
    return new AuditLog(plane.auditLogPath).since(0);
  }

  /** Creates of the same secret that succeeded more than once: a duplicate would show here. */
  function duplicateCreates(events: readonly AuditEvent[], namespaces: ReadonlySet<string>): string[] {
    const seen = new Map<string, number>();
    for (const e of events) {
      if (e.verb !== 'create' || e.objectRef?.resource !== 'secrets' || e.responseStatus?.code !== 201) continue;
      if (!namespaces.has(e.objectRef.namespace ?? '')) continue;
      const k = `${e.objectRef.namespace}/${e.objectRef.name}`;
      seen.set(k, (seen.get(k) ?? 0) + 1);
    }
    return [...seen].filter(([, n]) => n > 1).map(([k]) => k);
  }

  async function createNamespaces(s: Scenario, prefix: string, n: number, gapMs = 0): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      // The admin's own client retries while the API server is down: it is not the one under test.
      out.push(await waitFor(`namespace ${prefix}-${i}`, () => s.namespace(`${prefix}-${i}`), 60_000, 200));
      if (gapMs) await sleep(gapMs);
    }
    return out;
  }

  function retriesLogged(op: { logs: readonly LogLine[] }, from: number, to = Infinity): number {
    return op.logs.filter((l) => {
      const at = Date.parse(String(l['timestamp'] ?? ''));
      return (l.message === 'reconcile failed; retrying with backoff' || l.message === 'watch failed; restarting') && at >= from && at <= to;
    }).length;
  }

  it('kube-apiserver SIGKILLed mid-burst and restarted on the same port: every namespace converges; the operator stays up unless the outage outlasts its renew deadline', async () => {
    try {
      const s = new Scenario('f-apiserver');
      await s.setUp();
      local.push(() => s.tearDown());
      const window = { from: Infinity, to: -Infinity }; // the API server's restart, set below
      // A restarted API server answers 403 for a moment, until its RBAC informers have synced:
      // those are the restart's, not the operator's. Outside that window, no denial.
      const op = await supervised(s, {
        deniedOk: (l) => {
          const at = Date.parse((/"timestamp":"([^"]+)"/.exec(l) ?? [])[1] ?? '');
          return at >= window.from && at <= window.to;
        },
      });
      const first = await createNamespaces(s, 'a', 15);
      window.from = Date.now();
      await plane.kill('kube-apiserver');
      await sleep(2000);
      await plane.start('kube-apiserver');
      const readyAt = Date.now();
      window.to = readyAt + 15_000;
      const rest = await createNamespaces(s, 'b', 15);
      const all = [...first, ...rest];
      await s.waitFor('every namespace converged after the restart', () => converged(s, all), 120_000);
      const recoveredMs = Date.now() - readyAt;
      onlyLostLeases(op);
      // Down less than the renew deadline (10 s), the leader keeps its Lease and does not exit.
      if (readyAt - window.from < 10_000 - 1000) assert.deepEqual(op.exits, [], 'the operator did not exit');
      const dups = duplicateCreates(await audit(), new Set(all));
      assert.deepEqual(dups, [], 'no copy was created twice');
      figure('kube-apiserver SIGKILL', { downMs: readyAt - window.from, recoveredMs, retriesDuringFault: retriesLogged(op, window.from, readyAt), exits: op.exits.length, namespaces: all.length, duplicateCreates: dups.length });
    } finally {
      await undo();
    }
  });

  it('etcd SIGKILLed and restarted under a running operator: it converges, stays up and healthy', async () => {
    try {
      const s = new Scenario('f-etcd');
      await s.setUp();
      local.push(() => s.tearDown());
      const op = await supervised(s);
      const before1 = await createNamespaces(s, 'a', 5);
      await s.waitFor('converged before the fault', () => converged(s, before1), 30_000);
      const killedAt = Date.now();
      await plane.kill('etcd');
      await sleep(3000);
      await plane.start('etcd');
      const readyAt = Date.now();
      const after1 = await createNamespaces(s, 'b', 10);
      const all = [...before1, ...after1];
      await s.waitFor('every namespace converged after etcd came back', () => converged(s, all), 120_000);
      const recoveredMs = Date.now() - readyAt;
      onlyLostLeases(op);
      if (readyAt - killedAt < 10_000 - 1000) assert.deepEqual(op.exits, [], 'the operator did not exit');
      const health = await fetch(`http://127.0.0.1:${op.httpPort}/healthz`);
      assert.equal(health.status, 200);
      const dups = duplicateCreates(await audit(), new Set(all));
      assert.deepEqual(dups, []);
      figure('etcd SIGKILL', { downMs: readyAt - killedAt, recoveredMs, retriesDuringFault: retriesLogged(op, killedAt, readyAt), exits: op.exits.length, namespaces: all.length, duplicateCreates: dups.length });
    } finally {
      await undo();
    }
  });

  it('a black hole: connections stop forwarding and stay open for ever; the leader gives its Lease up, is restarted, and everything converges within 90 s', async () => {
    try {
      const s = new Scenario('f-blackhole');
      await s.setUp();
      local.push(() => s.tearDown());
      const { proxy, kubeconfig } = await viaTcpProxy('blackhole');
      const op = await supervised(s, { kubeconfig });
      const warm = await createNamespaces(s, 'a', 3);
      await s.waitFor('converged before the fault', () => converged(s, warm), 30_000);
      // Every connection it holds goes dark for ever; for the first 20 s new ones are swallowed too.
      const frozenAt = Date.now();
      const acceptedBefore = proxy.accepted;
      proxy.freeze({ newOnes: true });
      const during = await createNamespaces(s, 'b', 5, 1000);
      await sleep(Math.max(0, frozenAt + 20_000 - Date.now()));
      proxy.blackHoleNew(false);
      await s.waitFor('the namespaces created in the dark converged', () => converged(s, [...warm, ...during]), 120_000, );
      const recoveredMs = Date.now() - frozenAt;
      assert.ok(recoveredMs < 90_000, `converged ${recoveredMs} ms after the black hole began (bound 90 s)`);
      // 20 s without a connection is longer than the renew deadline: the leader stops and exits 1,
      // and its restart (as the kubelet's) takes the Lease again once it can reach the API server.
      onlyLostLeases(op);
      assert.ok(op.exits.length >= 1, 'the leader gave its Lease up');
      const lostAt = Date.parse(String(op.logs.find((l) => l.message === 'lost leadership')?.['timestamp']));
      figure('black hole', { recoveredMs, leaseGivenUpAfterMs: lostAt - frozenAt, exits: op.exits.length, connectionsDuringFault: proxy.accepted - acceptedBefore, namespaces: warm.length + during.length });
    } finally {
      await undo();
    }
  });

  it('real 429s from priority and fairness: 300 namespaces at once converge within 3 minutes, with no retry storm', async () => {
    try {
      const s = new Scenario('f-429');
      await s.setUp({ fixtures: false });
      local.push(() => s.tearDown());
      // Two sources: two copies and one ServiceAccount write a namespace.
      const two = ibmSecrets().filter((x) => ['all-icr-io', 'default-us-icr-io'].includes(x.metadata?.name ?? ''));
      for (const x of two) await core.createNamespacedSecret({ namespace: s.source, body: { ...x, metadata: { name: x.metadata?.name ?? '', namespace: s.source } } });
      const copies = (ns: string): string[] => ['all-icr-io', `${ns}-us-icr-io`].sort();
      const op = await supervised(s);
      const level = `pso-squeeze-${s.id}`;
      const [saNamespace, saName] = operatorUser.replace('system:serviceaccount:', '').split(':') as [string, string];
      const flowcontrol = (body: unknown, kind: string): Promise<unknown> => adminRequest('POST', `/apis/flowcontrol.apiserver.k8s.io/v1/${kind}`, body);
      await flowcontrol(
        { apiVersion: 'flowcontrol.apiserver.k8s.io/v1', kind: 'PriorityLevelConfiguration', metadata: { name: level }, spec: { type: 'Limited', limited: { nominalConcurrencyShares: 1, lendablePercent: 0, borrowingLimitPercent: 0, limitResponse: { type: 'Reject' } } } },
        'prioritylevelconfigurations',
      );
      await flowcontrol(
        {
          apiVersion: 'flowcontrol.apiserver.k8s.io/v1',
          kind: 'FlowSchema',
          metadata: { name: level },
          spec: {
            priorityLevelConfiguration: { name: level },
            matchingPrecedence: 100,
            distinguisherMethod: { type: 'ByUser' },
            rules: [
              {
                subjects: [{ kind: 'ServiceAccount', serviceAccount: { namespace: saNamespace, name: saName } }],
                // Every core resource the operator reconciles, not its Lease: as Kubernetes gives leader
                // election a FlowSchema of its own, an admin who squeezes an operator leaves its Lease
                // alone, or the squeeze costs the leader its Lease (docs: Faults).
                resourceRules: [{ verbs: ['*'], apiGroups: [''], resources: ['namespaces', 'secrets', 'serviceaccounts', 'events'], namespaces: ['*'], clusterScope: true }],
                nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }],
              },
            ],
          },
        },
        'flowschemas',
      );
      local.push(() => adminRequest('DELETE', `/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas/${level}`));
      local.push(() => adminRequest('DELETE', `/apis/flowcontrol.apiserver.k8s.io/v1/prioritylevelconfigurations/${level}`));
      // The API server applies a new FlowSchema within a second or so: wait until it reports the level.
      await waitFor('the squeezed priority level in force', async () => (await apiserverMetrics(admin)).includes(`priority_level="${level}"`), 30_000, 200);
      const before1 = levelCounts(await apiserverMetrics(admin), level);
      const started = Date.now();
      const names = Array.from({ length: 300 }, (_, i) => `${s.id}-n${i}`);
      const [k, v] = s.label.split('=') as [string, string];
      await Promise.all(names.map((name) => core.createNamespace({ body: { metadata: { name, labels: { [k]: v } } } })));
      s.namespaces.push(...names);
      await s.waitFor('300 namespaces converged under the squeeze', () => converged(s, names, copies), 180_000);
      const convergedMs = Date.now() - started;
      // Let the last answers land in the metrics before reading them.
      await sleep(1000);
      const after1 = levelCounts(await apiserverMetrics(admin), level);
      const dispatched = after1.dispatched - before1.dispatched;
      const rejected = after1.rejected - before1.rejected;
      const necessary = names.length * 3;
      assert.ok(rejected > 0, 'the squeeze really answered some requests with 429');
      assert.ok(dispatched + rejected <= 3 * necessary, `requests at the level: ${dispatched} dispatched + ${rejected} rejected, more than 3x the ${necessary} necessary writes`);
      assert.deepEqual(op.exits, [], 'the operator did not exit');
      figure('429 from priority and fairness', { convergedMs, dispatched, rejected, necessaryWrites: necessary, ratio: ((dispatched + rejected) / necessary).toFixed(2) });
    } finally {
      await undo();
    }
  });

  it('500s and connection resets on writes for a few seconds: it converges once they stop', async () => {
    try {
      const s = new Scenario('f-500');
      await s.setUp();
      local.push(() => s.tearDown());
      const { proxy, kubeconfig } = await viaHttpFaultProxy('http-fault');
      const op = await supervised(s, { kubeconfig });
      let n = 0;
      const faultFrom = Date.now();
      proxy.setFaults((r) => (r.method === 'GET' ? 'pass' : n++ % 2 === 0 ? { status: 500 } : 'reset'));
      const during = await createNamespaces(s, 'a', 6, 500);
      await sleep(Math.max(0, faultFrom + 5000 - Date.now()));
      proxy.setFaults(() => 'pass');
      const stoppedAt = Date.now();
      await s.waitFor('converged after the faults stopped', () => converged(s, during), 60_000);
      const recoveredMs = Date.now() - stoppedAt;
      const injected = proxy.log.filter((l) => l.at >= faultFrom && l.at <= stoppedAt && l.action !== 'pass').length;
      assert.ok(injected > 0, 'faults were injected');
      // 5 s of failed writes (the Lease's too) is less than the renew deadline: no exit.
      assert.deepEqual(op.exits, [], 'the operator did not exit');
      const dups = duplicateCreates(await audit(), new Set(during));
      assert.deepEqual(dups, []);
      figure('500s and resets on writes', { faultMs: stoppedAt - faultFrom, injected, recoveredMs, duplicateCreates: dups.length });
    } finally {
      await undo();
    }
  });

  it("the leader's connection black-holed: it stops within the renew deadline, the standby takes over, and no write overlaps", async () => {
    try {
      const s = new Scenario('f-leader');
      await s.setUp();
      local.push(() => s.tearDown());
      // The manifests' Role grants the one Lease `pullsecret-operator` in the operator's namespace.
      const leArgs = ['--lease-duration', '6s', '--renew-deadline', '4s', '--retry-period', '1s'];
      const start = async (name: string): Promise<{ op: OperatorProcess; proxy: TcpProxy }> => {
        const { proxy, kubeconfig } = await viaTcpProxy(name);
        const op = await replica(s, { kubeconfig, extra: leArgs, name, waitSynced: false });
        local.push(() => op.stop());
        return { op, proxy };
      };
      const a = await start(`${s.id}-a`);
      await a.op.waitForLog((l) => l.message === 'caches synced; reconciling', 30_000, 'a to lead');
      const b = await start(`${s.id}-b`);
      await b.op.waitForLog((l) => l.message === 'caches synced; standing by', 30_000, 'b to stand by');
      // A stream of namespaces through the whole fault.
      let streaming = true;
      const streamed: string[] = [];
      const stream = (async () => {
        for (let i = 0; streaming; i++) {
          streamed.push(await s.namespace(`n${i}`));
          await sleep(250);
        }
      })();
      await sleep(2000);
      const frozenAt = Date.now();
      a.proxy.freeze({ newOnes: true });
      const lost = await a.op.waitForLog((l) => l.message === 'lost leadership', 30_000, 'a to give up leadership');
      const stoppedMs = Date.parse(String(lost['timestamp'])) - frozenAt;
      await b.op.waitForLog((l) => l.message === 'caches synced; reconciling', 30_000, 'b to take over');
      const takeoverMs = Date.now() - frozenAt;
      await sleep(2000);
      streaming = false;
      await stream;
      await s.waitFor('every streamed namespace converged', () => converged(s, streamed), 60_000);
      const exit = await a.op.exited;
      assert.equal(exit.code, 1, 'the old leader exits 1');
      assert.ok(stoppedMs <= 4000 + 1000, `the old leader stopped ${stoppedMs} ms after its connection went dark (renew deadline 4000 ms)`);
      // The API server's own record: every write of a, then every write of b, never interleaved.
      const writes = (await audit()).filter((e) => e.user?.username === operatorUser && ['create', 'update', 'patch', 'delete'].includes(e.verb) && ['secrets', 'serviceaccounts'].includes(e.objectRef?.resource ?? ''));
      const by = (who: string): AuditEvent[] => writes.filter((e) => (e.userAgent ?? '').includes(`(${who})`));
      const aw = by(`${s.id}-a`);
      const bw = by(`${s.id}-b`);
      assert.ok(aw.length > 0 && bw.length > 0, `both wrote: a ${aw.length}, b ${bw.length}`);
      const aLast = Math.max(...aw.map((e) => Date.parse(e.stageTimestamp)));
      const bFirst = Math.min(...bw.map((e) => Date.parse(e.requestReceivedTimestamp)));
      assert.ok(aLast < bFirst, `a's last write ended at ${new Date(aLast).toISOString()}, b's first began at ${new Date(bFirst).toISOString()}`);
      figure('leader black-holed', { stoppedMs, takeoverMs, gapMs: bFirst - aLast, writesA: aw.length, writesB: bw.length, namespaces: streamed.length });
    } finally {
      await undo();
    }
  });

  it('--once against a plane that answers 429 and 500 now and then exits 0 once everything is written', async () => {
    try {
      const s = new Scenario('f-once');
      await s.setUp();
      local.push(() => s.tearDown());
      const names = await createNamespaces(s, 'a', 10);
      const { proxy, kubeconfig } = await viaHttpFaultProxy('once');
      let n = 0;
      // Every fourth write is refused with 429 (Retry-After: 1), every seventh with 500.
      proxy.setFaults((r) => {
        if (r.method === 'GET') return 'pass';
        n++;
        return n % 4 === 0 ? { status: 429, retryAfterSeconds: 1 } : n % 7 === 0 ? { status: 500 } : 'pass';
      });
      const started = Date.now();
      const op = await replica(s, { kubeconfig, extra: ['--once'] });
      const exit = await op.exited;
      const tookMs = Date.now() - started;
      const injected = proxy.log.filter((l) => l.action !== 'pass').length;
      assert.equal(exit.code, 0, `--once exits 0; stdout:\n${op.stdout()}\nstderr tail:\n${op.stderr().slice(-2000)}`);
      assert.ok(injected > 0);
      assert.ok(await converged(s, names), 'everything is written');
      figure('--once under 429/500', { tookMs, injected, namespaces: names.length });
    } finally {
      await undo();
    }
  });

  it('a first sync that cannot finish (a black hole from the start) ends the process with exit 1 after --sync-timeout', async () => {
    try {
      const s = new Scenario('f-sync');
      const { proxy, kubeconfig } = await viaTcpProxy('sync');
      proxy.blackHoleNew(true);

      const started = Date.now();
      const op = await replica(s, { kubeconfig, extra: ['--sync-timeout', '5s'], waitSynced: false });
      local.push(() => op.stop());
      const exit = await op.exited;
      const exitedAt = Date.now();
      // Timed from the operator's own first log line: loading tsx is not the operator's time.
      const startedAt = Date.parse(String(op.logs.find((l) => l.message === 'starting')?.['timestamp'] ?? started));
      const tookMs = exitedAt - startedAt;
      assert.equal(exit.code, 1);
      assert.ok(op.logs.some((l) => l.message === 'caches did not sync in time; exiting'));
      assert.ok(tookMs < 5000 + 3000, `exited ${tookMs} ms after it started (sync timeout 5 s)`);
      figure('first sync black-holed', { exitCode: exit.code ?? -1, tookMs, connections: proxy.accepted });
    } finally {
      await undo();
    }
  });

  it('the client-side token bucket holds on the wire: with --qps 20 --burst 5, requests are spaced at 20 a second', async () => {
    try {
      const s = new Scenario('f-qps');
      await s.setUp();
      local.push(() => s.tearDown());
      const { proxy, kubeconfig } = await viaHttpFaultProxy('qps');
      await replica(s, { kubeconfig, extra: ['--qps', '20', '--burst', '5'] });
      const from = Date.now();
      const names = await Promise.all(Array.from({ length: 20 }, (_, i) => s.namespace(`n${i}`)));
      await s.waitFor('converged at 20 requests a second', () => converged(s, names), 60_000);
      // The bucket's requests: not watches, not the Lease's, not the webhook's own client (none is counted by it).
      const requests = proxy.log.filter((l) => !l.watch && l.at >= from && !l.path.includes('/leases/') && !(l.userAgent ?? '').includes('; webhook)'));
      // The most requests in any window of one second.
      let peak = 0;
      for (let i = 0, j = 0; j < requests.length; j++) {
        while ((requests[j]?.at ?? 0) - (requests[i]?.at ?? 0) >= 1000) i++;
        peak = Math.max(peak, j - i + 1);
      }
      assert.ok(requests.length >= 20 * 6, `at least the necessary writes went through (${requests.length})`);
      // The bucket lets burst + qps = 25 leave in any second; they reach the proxy with the jitter of
      // the socket pool, so allow a few. Unlimited, the 120-odd requests would all land in one second.
      assert.ok(peak <= 25 + 3, `peak ${peak} requests in one second`);
      const spanMs = (requests.at(-1)?.at ?? 0) - (requests[0]?.at ?? 0);
      assert.ok(requests.length <= 5 + 20 * (spanMs / 1000) + 3, `${requests.length} requests in ${spanMs} ms`);
      figure('token bucket --qps 20 --burst 5', { requests: requests.length, peakPerSecond: peak, convergedMs: Date.now() - from });
    } finally {
      await undo();
    }
  });

  it('watches that go silent again and again (no data, no bookmark) count as broken: /healthz and the metric say so; a silence resets only that watch', async () => {
    // In-process, so that one informer's liveness period can be short (1.5 s instead of 75 s): the
    // operator's own informers and client, against the real API server through the HTTPS fault proxy.
    const s = new Scenario('f-silent');
    let op: Operator | undefined;
    let kube: Awaited<ReturnType<typeof createKube>> | undefined;
    try {
      await s.setUp();
      local.push(() => s.tearDown());
      const { proxy, kubeconfig } = await viaHttpFaultProxy('silent');
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfig);
      kube = await createKube(kc);
      const ref: { op?: Operator } = {};
      const metrics = new Metrics({ informers: () => ref.op?.informerStats().map((i) => ({ name: i.name, broken: i.brokenSince !== undefined })) ?? [] });
      op = ref.op = new Operator({
        kube,
        policy: { sourceNamespace: s.source, registryHosts: DEFAULT_REGISTRY_HOSTS, excludeNamespaces: [], namespaceSelector: parseSelector(s.label), serviceAccounts: 'all', orphanGraceMs: 600_000, maxSourceBytes: 16 * 1024 },
        logger: createLogger('error'),
        clock: systemClock,
        dryRun: false,
        workers: 4,
        resyncPeriodMs: 3_600_000,
        identity: `${s.id}-op`,
        metrics,
        // Only this informer's liveness is short: an idle watch hears a bookmark once a minute.
        informerByName: { serviceaccounts: { livenessMs: 1500 } },
      });
      op.startInformers();
      await op.waitForSync();
      op.startWorking();
      const health = cachesRunnable(op, { unhealthyAfterMs: 1000 });
      const broken = async (informer: string): Promise<string | undefined> => new RegExp(`^pullsecret_operator_informer_broken\\{informer="${informer}"\\} (\\d)$`, 'm').exec(await metrics.registry.metrics())?.[1];
      // From now on every watch of ServiceAccounts is answered and then silent; a GET of one Secret is slow.
      proxy.setFaults((r) => (r.watch && r.path === '/api/v1/serviceaccounts' ? 'silent' : !r.watch && r.path.endsWith('/secrets/slow-probe') ? { delayMs: 6000 } : 'pass'));
      for (const inf of Object.values(op.caches)) inf.relist(); // every watch is opened again, under the faults
      // A request in flight across the silences: a pool reset would kill it.
      const inFlight = kube.getSecret(s.source, 'slow-probe').then(() => 'answered', (err: unknown) => `failed: ${String(err)}`);
      await s.waitFor('the ServiceAccount informer to count as broken', async () => (await broken('serviceaccounts')) === '1', 30_000);
      assert.equal(await broken('namespaces'), '0', 'the other informers are not');
      await s.waitFor('/healthz to fail after --unhealthy-after', async () => health.health?.() !== null, 10_000);
      assert.match(health.health?.() ?? '', /a watch has been failing for \d+s/);
      assert.equal(await inFlight, 'answered', 'the request in flight during the silences was not reset');
      // The link heals: the next watch hears (an event), and the informer is healthy again.
      proxy.setFaults(() => 'pass');
      const ns = await s.namespace('heal');
      await s.waitFor('the informer healthy again', async () => (await broken('serviceaccounts')) === '0', 30_000);
      assert.equal(health.health?.(), null);
      await s.waitFor('the namespace converged', () => converged(s, [ns]), 30_000);
      figure('silent watches', { livenessMs: 1500, silentWatches: proxy.log.filter((l) => l.action === 'silent').length });
    } finally {
      await op?.stop();
      kube?.close();
      await undo();
    }
  });

  it("a step of the wall clock (an hour forward, then two back) ends no leadership and stalls no request", async () => {
    try {
      const s = new Scenario('f-clock');
      await s.setUp();
      local.push(() => s.tearDown());
      const name = `${s.id}-op`;
      const coord = admin.makeApiClient(CoordinationV1Api);
      const lease = (): Promise<V1Lease> => coord.readNamespacedLease({ namespace: IDENTITY_NAMESPACE, name: 'pullsecret-operator' });
      const op = await replica(s, { name, env: { PSO_TEST_CLOCK_STEPS: '3600000,-7200000' }, nodeArgs: ['--import', join(REPO_ROOT, 'test', 'harness', 'clock-step.ts')] });
      await s.waitFor('the replica to hold the Lease', async () => (await lease()).spec?.holderIdentity === name, 30_000);
      const before1 = await createNamespaces(s, 'a', 2);
      await s.waitFor('converged before the steps', () => converged(s, before1), 30_000);
      // An hour forward; past the renew deadline (10 s) with room to spare; then two hours back.
      for (const step of [1, 2]) {
        op.child.kill('SIGUSR2');
        await op.waitForLog((l) => l.message === 'test: wall clock stepped' && op.logs.filter((x) => x.message === 'test: wall clock stepped').length === step, 5000, `step ${step}`);
        await sleep(12_000);
      }
      const rv = (await lease()).metadata?.resourceVersion;
      const after1 = await createNamespaces(s, 'b', 3);
      await s.waitFor('namespaces created after the steps converged', () => converged(s, after1), 20_000);
      await s.waitFor('the Lease renewed after the steps', async () => (await lease()).metadata?.resourceVersion !== rv, 10_000);
      assert.equal((await lease()).spec?.holderIdentity, name, 'still the leader');
      assert.equal(op.child.exitCode, null, 'still running');
      assert.equal((await fetch(`http://127.0.0.1:${op.httpPort}/healthz`)).status, 200);
      assert.match(await (await fetch(`http://127.0.0.1:${op.httpPort}/metrics`)).text(), /^pullsecret_operator_leader 1$/m);
    } finally {
      await undo();
    }
  });

  it('Lease renewals never wait behind the reconciler: leader election on, 2,000 namespaces converging through a slow API server, no leadership lost', async () => {
    try {
      const s = new Scenario('f-lane');
      await s.setUp();
      local.push(() => s.tearDown());
      const names = Array.from({ length: 2000 }, (_, i) => `${s.id}-n${i}`);
      const [k, v] = s.label.split('=') as [string, string];
      for (let i = 0; i < names.length; i += 50) await Promise.all(names.slice(i, i + 50).map((name) => core.createNamespace({ body: { metadata: { name, labels: { [k]: v } } } })));
      s.namespaces.push(...names);
      const { proxy, kubeconfig } = await viaHttpFaultProxy('lane');
      // Every request but watches and the Lease's takes 2 s more: with 32 workers writing a
      // namespace's copies at once, more than a hundred wait for one of the 32 pooled sockets.
      proxy.setFaults((r) => (r.watch || r.path.includes('/leases/') ? 'pass' : { delayMs: 2000 }));
      const name = `${s.id}-op`;
      const coord = admin.makeApiClient(CoordinationV1Api);
      const lease = (): Promise<V1Lease> => coord.readNamespacedLease({ namespace: IDENTITY_NAMESPACE, name: 'pullsecret-operator' });
      const op = await replica(s, { kubeconfig, name, waitSynced: false });
      await op.waitForLog((l) => l.message === 'caches synced; reconciling', 90_000, 'the replica to lead and reconcile');
      const from = Date.now();
      // 40 s under load: 4 renew deadlines (10 s), 20 renewals (every 2 s).
      const renewals = new Set<string>();
      while (Date.now() - from < 40_000) {
        const l = await lease();
        assert.equal(l.spec?.holderIdentity, name, 'the leader keeps the Lease');
        renewals.add(String(l.spec?.renewTime));
        await sleep(1000);
      }
      assert.equal(op.child.exitCode, null, 'the leader is still running: it never lost its leadership');
      const busy = proxy.log.filter((l) => l.action.startsWith('delay') && l.at >= from).length;
      assert.ok(busy > 300, `the reconciler kept the API server busy meanwhile (${busy} slow requests)`);
      assert.ok(renewals.size >= 10, `the Lease was renewed all along (${renewals.size} renewals seen)`);
      // The slowness ends; everything converges, under the same leader.
      proxy.setFaults(() => 'pass');
      await s.waitFor('2,000 namespaces converged', async () => {
        const l = await core.listSecretForAllNamespaces({ labelSelector: `${MANAGED}=pullsecret-operator` });
        return l.items.filter((x) => names.includes(x.metadata?.namespace ?? '')).length === names.length * 5;
      }, 300_000);
      assert.equal((await lease()).spec?.holderIdentity, name);
      figure('Lease lane under a slow API server', { namespaces: names.length, slowRequests: busy, renewalsSeen: renewals.size });
    } finally {
      await undo();
    }
  });

  /** An admin request to the plane (flowcontrol objects have no typed client in the harness). */
  async function adminRequest(method: string, path: string, body?: unknown): Promise<unknown> {
    const https = await import('node:https');
    const opts: import('node:https').RequestOptions = {};
    await admin.applyToHTTPSOptions(opts);
    return new Promise((resolve, reject) => {
      const req = https.request(`${plane.server}${path}`, { ...opts, method, headers: { ...opts.headers, 'Content-Type': 'application/json' } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => ((res.statusCode ?? 0) < 300 ? resolve(JSON.parse(text || '{}')) : reject(new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 300)}`))));
      });
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }
});

/** Requests dispatched and rejected at one priority level, from the API server's /metrics. */
function levelCounts(metrics: string, level: string): { dispatched: number; rejected: number } {
  const at = (l: Record<string, string>): boolean => l['priority_level'] === level;
  return { dispatched: sum(metrics, 'apiserver_flowcontrol_dispatched_requests_total', at), rejected: sum(metrics, 'apiserver_flowcontrol_rejected_requests_total', at) };
}
