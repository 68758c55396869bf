/**
 * LeaderElector (src/kube/leader.ts): pure election logic against a fake clock and a fake
 * Lease store that behaves like the API server (resourceVersion, 409, JSON on the wire).
 * Also the leader-election flags of src/config.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Lease, V1LeaseSpec } from '@kubernetes/client-node';

import { loadConfig } from '../../src/config.js';
import { KubeError } from '../../src/kube/client.js';
import {
  LeaderElector,
  microTime,
  type AttemptResult,
  type LeaderElectionConfig,
  type StoppedLeading,
} from '../../src/kube/leader.js';
import { FakeClock } from './fake-clock.js';

// ---------------------------------------------------------------------------
// Fakes
// ---------------------------------------------------------------------------

/** The elector's clock: the wall clock starts at noon on 2024-01-01. */
const newClock = (): FakeClock => new FakeClock(Date.UTC(2024, 0, 1, 12, 0, 0));

/** A wire-faithful Lease store: JSON in and out (so times are strings on read), resourceVersion checks. */
class FakeLeases {
  stored: V1Lease | undefined;
  #rv = 100;
  /** Every successful write, as stored. */
  readonly writes: V1Lease[] = [];
  /** When set, every call fails with it. */
  failWith: Error | undefined;
  /** When set, every call hangs (never settles). */
  hang = false;
  /** Runs between the next get and the write that follows it (to simulate a racing writer). */
  beforeNextWrite: (() => void) | undefined;

  #gate(): Promise<void> {
    if (this.hang) return new Promise(() => undefined);
    if (this.failWith) return Promise.reject(this.failWith);
    return Promise.resolve();
  }

  #store(lease: V1Lease): V1Lease {
    const wire = JSON.parse(JSON.stringify(lease)) as V1Lease;
    wire.metadata = { ...wire.metadata, resourceVersion: String(++this.#rv) };
    this.stored = wire;
    this.writes.push(wire);
    return JSON.parse(JSON.stringify(wire)) as V1Lease;
  }

  #race(): void {
    const f = this.beforeNextWrite;
    this.beforeNextWrite = undefined;
    f?.();
  }

  async getLease(): Promise<V1Lease | undefined> {
    await this.#gate();
    return this.stored === undefined ? undefined : (JSON.parse(JSON.stringify(this.stored)) as V1Lease);
  }

  async createLease(lease: V1Lease): Promise<V1Lease> {
    await this.#gate();
    this.#race();
    if (this.stored) throw new KubeError('AlreadyExists', 409, 'create lease: 409 AlreadyExists');
    return this.#store(lease);
  }

  async replaceLease(lease: V1Lease): Promise<V1Lease> {
    await this.#gate();
    this.#race();
    if (!this.stored) throw new KubeError('NotFound', 404, 'update lease: 404');
    if (lease.metadata?.resourceVersion !== this.stored.metadata?.resourceVersion) throw new KubeError('Conflict', 409, 'update lease: 409 Conflict');
    return this.#store(lease);
  }

  /** Another replica writes the Lease (its own clock may be skewed: times are given as is). */
  writeAs(spec: V1LeaseSpec): void {
    this.#store({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { namespace: NS, name: NAME }, spec });
  }
}

const NS = 'pso-system';
const NAME = 'pullsecret-operator';
const LEASE_MS = 4000;
const RENEW_MS = 3000;
const RETRY_MS = 500;

interface Recorded {
  started: number[];
  stopped: (StoppedLeading & { at: number })[];
  leaders: string[];
}

function elector(kube: FakeLeases, clock: FakeClock, identity = 'me', over: Partial<LeaderElectionConfig> = {}): { e: LeaderElector; rec: Recorded } {
  const rec: Recorded = { started: [], stopped: [], leaders: [] };
  const e = new LeaderElector({
    kube,
    clock,
    random: () => 0,
    config: { namespace: NS, name: NAME, identity, leaseDurationMs: LEASE_MS, renewDeadlineMs: RENEW_MS, retryPeriodMs: RETRY_MS, ...over },
    callbacks: {
      onStartedLeading: () => rec.started.push(clock.now()),
      onStoppedLeading: (s) => rec.stopped.push({ ...s, at: clock.now() }),
      onNewLeader: (id) => rec.leaders.push(id),
    },
  });
  return { e, rec };
}

const MICRO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

// ---------------------------------------------------------------------------
// One attempt (tryAcquireOrRenew): table-driven
// ---------------------------------------------------------------------------

interface AttemptCase {
  name: string;
  /** Prepares the store and may make earlier attempts / let time pass. */
  setup(kube: FakeLeases, clock: FakeClock, e: LeaderElector): Promise<void>;
  want: AttemptResult['ok'];
  wantReason?: 'held' | 'conflict' | 'error';
  /** Expected spec of the stored Lease afterwards (subset). */
  wantStored?: Partial<V1LeaseSpec>;
}

const otherHolds = (kube: FakeLeases, renewTime: number, transitions = 3): void =>
  kube.writeAs({ holderIdentity: 'other', leaseDurationSeconds: 4, acquireTime: microTime(renewTime), renewTime: microTime(renewTime), leaseTransitions: transitions });

const attemptCases: AttemptCase[] = [
  {
    name: 'acquires the lease when none exists (creates it, 0 transitions)',
    setup: async () => undefined,
    want: true,
    wantStored: { holderIdentity: 'me', leaseDurationSeconds: 4, leaseTransitions: 0 },
  },
  {
    name: 'does not acquire a lease whose renewTime is an hour old by its own clock but which it has only just observed',
    setup: async (kube, clock) => otherHolds(kube, clock.now() - 3_600_000),
    want: false,
    wantReason: 'held',
    wantStored: { holderIdentity: 'other' },
  },
  {
    name: 'does not acquire a lease renewed (observed locally) less than leaseDuration ago',
    setup: async (kube, clock, e) => {
      otherHolds(kube, clock.now());
      await e.tryAcquireOrRenew();
      await clock.advanceAndSettle(3000);
      otherHolds(kube, clock.now()); // the holder renews: the countdown restarts
      await e.tryAcquireOrRenew();
      await clock.advanceAndSettle(LEASE_MS - 1);
    },
    want: false,
    wantReason: 'held',
    wantStored: { holderIdentity: 'other' },
  },
  {
    name: 'takes over after leaseDuration without an observed change, even though the holder\'s renewTime is in the future (clock skew)',
    setup: async (kube, clock, e) => {
      otherHolds(kube, clock.now() + 3_600_000, 3);
      await e.tryAcquireOrRenew();
      await clock.advanceAndSettle(LEASE_MS);
    },
    want: true,
    wantStored: { holderIdentity: 'me', leaseTransitions: 4, leaseDurationSeconds: 4 },
  },
  {
    name: 'takes over a released lease (empty holder) at once',
    setup: async (kube, clock) => kube.writeAs({ holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(clock.now()), leaseTransitions: 2 }),
    want: true,
    wantStored: { holderIdentity: 'me', leaseTransitions: 3 },
  },
  {
    name: 'renews a lease it holds already (same identity) without counting a transition',
    setup: async (kube, clock) => kube.writeAs({ holderIdentity: 'me', leaseDurationSeconds: 4, acquireTime: microTime(clock.now() - 60_000), renewTime: microTime(clock.now()), leaseTransitions: 5 }),
    want: true,
    wantStored: { holderIdentity: 'me', leaseTransitions: 5 },
  },
  {
    name: 'is not leader when the update gets 409 (another replica wrote the lease after our read)',
    setup: async (kube, clock, e) => {
      otherHolds(kube, clock.now());
      await e.tryAcquireOrRenew();
      await clock.advanceAndSettle(LEASE_MS);
      kube.beforeNextWrite = () => kube.writeAs({ holderIdentity: 'third', leaseDurationSeconds: 4, renewTime: microTime(clock.now()), leaseTransitions: 4 });
    },
    want: false,
    wantReason: 'conflict',
    wantStored: { holderIdentity: 'third' },
  },
  {
    name: 'is not leader when the create gets 409 AlreadyExists (another replica created it first)',
    setup: async (kube, clock) => {
      kube.beforeNextWrite = () => otherHolds(kube, clock.now(), 0);
    },
    want: false,
    wantReason: 'conflict',
    wantStored: { holderIdentity: 'other' },
  },
  {
    name: 'is not leader when the API server cannot be reached',
    setup: async (kube) => {
      kube.failWith = new KubeError('ServerError', 503, 'get lease: 503');
    },
    want: false,
    wantReason: 'error',
  },
];


/** Replica a leads (its first attempt acquired the Lease), then b starts as its standby. */
async function leaderAndStandby() {
  const kube = new FakeLeases();
  const clock = newClock();
  const a = elector(kube, clock, 'a');
  const ra = a.e.run();
  await clock.advanceAndSettle(0);
  const b = elector(kube, clock, 'b');
  const rb = b.e.run();
  return { kube, clock, a, ra, b, rb };
}

describe('LeaderElector.tryAcquireOrRenew', () => {
  for (const c of attemptCases) {
    it(c.name, async () => {
      const kube = new FakeLeases();
      const clock = newClock();
      const { e } = elector(kube, clock);
      await c.setup(kube, clock, e);
      const r = await e.tryAcquireOrRenew();
      assert.equal(r.ok, c.want);
      if (!r.ok) assert.equal(r.reason, c.wantReason);
      if (c.wantStored) {
        const spec = kube.stored?.spec ?? {};
        for (const [k, v] of Object.entries(c.wantStored)) assert.deepEqual(spec[k as keyof V1LeaseSpec], v, k);
      }
      if (r.ok) {
        const spec = kube.stored?.spec ?? {};
        assert.equal(spec.renewTime, new Date(clock.now()).toISOString().replace('Z', '000Z'), 'renewTime is now, in microseconds');
        assert.match(String(spec.acquireTime), MICRO);
      }
    });
  }
});

// ---------------------------------------------------------------------------
// The run loop
// ---------------------------------------------------------------------------

describe('LeaderElector.run', () => {
  it('becomes leader once and renews every retryPeriod, keeping acquireTime', async () => {
    const kube = new FakeLeases();
    const clock = newClock();
    const { e, rec } = elector(kube, clock);
    const t0 = clock.now();
    const done = e.run();
    await clock.advanceAndSettle(0);
    assert.deepEqual(rec.started, [t0]);
    assert.equal(e.isLeader, true);
    assert.deepEqual(rec.leaders, ['me']);
    await clock.advanceAndSettle(RETRY_MS * 4);
    assert.equal(kube.writes.length, 5, 'created, then renewed every retryPeriod');
    const acquire = new Set(kube.writes.map((w) => w.spec?.acquireTime));
    assert.equal(acquire.size, 1);
    assert.equal(kube.stored?.spec?.renewTime, new Date(clock.now()).toISOString().replace('Z', '000Z'));
    await e.stop({ release: false });
    await done;
    assert.equal(rec.started.length, 1);
  });

  const renewFailures: { name: string; fault: (kube: FakeLeases) => void }[] = [
    { name: 'renewals fail', fault: (kube) => (kube.failWith = new KubeError('ServerError', 500, 'update lease: 500')) },
    { name: 'a renewal hangs', fault: (kube) => (kube.hang = true) },
  ];
  for (const f of renewFailures) {
    it(`loses leadership when ${f.name} for renewDeadline (and not before)`, async () => {
      const kube = new FakeLeases();
      const clock = newClock();
      const { e, rec } = elector(kube, clock);
      const done = e.run();
      await clock.advanceAndSettle(RETRY_MS * 2);
      const lastRenew = clock.now();
      assert.equal(rec.started.length, 1);
      f.fault(kube);
      await clock.advanceAndSettle(RENEW_MS - 1);
      assert.equal(rec.stopped.length, 0, 'still leader just before the deadline');
      assert.equal(e.isLeader, true);
      await clock.advanceAndSettle(1);
      assert.equal(rec.stopped.length, 1);
      assert.equal(rec.stopped[0]?.reason, 'renew-deadline');
      assert.equal(rec.stopped[0]?.released, false);
      assert.equal(rec.stopped[0]?.at, lastRenew + RENEW_MS);
      assert.equal(e.isLeader, false);
      await done; // the loop has ended: no more attempts
      const writes = kube.writes.length;
      kube.failWith = undefined;
      kube.hang = false;
      await clock.advanceAndSettle(LEASE_MS * 2);
      assert.equal(kube.writes.length, writes);
    });
  }

  it('recovers when a renewal fails briefly, within renewDeadline', async () => {
    const kube = new FakeLeases();
    const clock = newClock();
    const { e, rec } = elector(kube, clock);
    const done = e.run();
    await clock.advanceAndSettle(0);
    kube.failWith = new KubeError('ServerError', 500, 'update lease: 500');
    await clock.advanceAndSettle(RENEW_MS - RETRY_MS - 1); // renewals at +500 ... +2000 fail
    kube.failWith = undefined; // the one at +2500 succeeds
    await clock.advanceAndSettle(RETRY_MS * 10);
    assert.deepEqual(rec.stopped, []);
    assert.equal(e.isLeader, true);
    await e.stop({ release: false });
    await done;
  });

  it('stops leading at once when a renewal finds another holder in the lease', async () => {
    const kube = new FakeLeases();
    const clock = newClock();
    const { e, rec } = elector(kube, clock);
    const done = e.run();
    await clock.advanceAndSettle(0);
    otherHolds(kube, clock.now());
    await clock.advanceAndSettle(RETRY_MS);
    assert.equal(rec.stopped[0]?.reason, 'taken-over');
    assert.equal(e.isLeader, false);
    assert.deepEqual(rec.leaders, ['me', 'other']);
    await done;
  });

  it('of two electors starting together, exactly one becomes leader', async () => {
    const kube = new FakeLeases();
    const clock = newClock();
    const a = elector(kube, clock, 'a');
    const b = elector(kube, clock, 'b');
    const runs = [a.e.run(), b.e.run()];
    await clock.advanceAndSettle(LEASE_MS * 3);
    assert.equal(a.rec.started.length + b.rec.started.length, 1);
    assert.notEqual(a.e.isLeader, b.e.isLeader);
    await a.e.stop({ release: false });
    await b.e.stop({ release: false });
    await Promise.all(runs);
  });

  it('a standby takes over only after leaseDuration without an observed renewal (leader gone without releasing)', async () => {
    const { kube, clock, a, ra, b, rb } = await leaderAndStandby();
    await clock.advanceAndSettle(RETRY_MS * 6);
    assert.deepEqual(b.rec.started, [], 'the standby waits while the leader renews');
    // The leader dies (no release): its last renewal is the last change the standby can see.
    await a.e.stop({ release: false });
    await ra;
    const lastRenewal = clock.now();
    await clock.advanceAndSettle(LEASE_MS * 2);
    assert.equal(b.rec.started.length, 1);
    const took = (b.rec.started[0] ?? 0) - lastRenewal;
    assert.ok(took >= LEASE_MS - RETRY_MS && took <= LEASE_MS + RETRY_MS, `took over ${took} ms after the last renewal`);
    assert.equal(kube.stored?.spec?.holderIdentity, 'b');
    assert.equal(kube.stored?.spec?.leaseTransitions, 1);
    await b.e.stop({ release: false });
    await rb;
  });

  for (const step of [3_600_000, -3_600_000]) {
    it(`a step of the wall clock (${step > 0 ? 'forward' : 'back'} an hour) neither ends a leadership nor lets a standby take over`, async () => {
      const { kube, clock, a, ra, b, rb } = await leaderAndStandby();
      await clock.advanceAndSettle(RETRY_MS * 2);
      clock.wallStep = step; // NTP steps the clock of both replicas' node
      await clock.advanceAndSettle(LEASE_MS * 3);
      assert.equal(a.e.isLeader, true, 'the leader keeps its leadership: its deadlines are monotonic');
      assert.deepEqual(a.rec.stopped, []);
      assert.deepEqual(b.rec.started, [], 'the standby judges expiry by its monotonic clock');
      assert.equal(kube.stored?.spec?.holderIdentity, 'a');
      await a.e.stop({ release: false });
      await b.e.stop({ release: false });
      await Promise.all([ra, rb]);
    });
  }

  it('releases the lease on stop (empty holder, 1s duration), so a standby takes over at its next attempt', async () => {
    const { kube, clock, a, ra, b, rb } = await leaderAndStandby();
    await clock.advanceAndSettle(RETRY_MS * 3);
    const stoppedAt = clock.now();
    await a.e.stop({ release: true });
    await ra;
    assert.deepEqual(a.rec.stopped.map((s) => [s.reason, s.released]), [['stopped', true]]);
    const released = kube.writes.at(-1)?.spec;
    assert.equal(released?.holderIdentity, '');
    assert.equal(released?.leaseDurationSeconds, 1);
    assert.match(String(released?.renewTime), MICRO);
    await clock.advanceAndSettle(RETRY_MS);
    assert.equal(b.rec.started.length, 1);
    assert.ok((b.rec.started[0] ?? 0) - stoppedAt <= RETRY_MS, 'at the next retry, not after leaseDuration');
    assert.equal(kube.stored?.spec?.holderIdentity, 'b');
    await b.e.stop({ release: true });
    await rb;
  });

  it('does not release on stop when asked not to (a drain that timed out): the lease stays held', async () => {
    const kube = new FakeLeases();
    const clock = newClock();
    const { e, rec } = elector(kube, clock);
    const done = e.run();
    await clock.advanceAndSettle(RETRY_MS);
    await e.stop({ release: false });
    await done;
    assert.deepEqual(rec.stopped.map((s) => [s.reason, s.released]), [['stopped', false]]);
    assert.equal(kube.stored?.spec?.holderIdentity, 'me');
  });

  it('a standby that is stopped writes nothing and reports no leadership', async () => {
    const kube = new FakeLeases();
    const clock = newClock();
    otherHolds(kube, clock.now());
    const { e, rec } = elector(kube, clock);
    const done = e.run();
    await clock.advanceAndSettle(RETRY_MS * 3);
    const writes = kube.writes.length;
    await e.stop({ release: true });
    await done;
    assert.equal(kube.writes.length, writes);
    assert.deepEqual(rec.started, []);
    assert.deepEqual(rec.stopped, []);
    assert.deepEqual(rec.leaders, ['other']);
  });
});

// ---------------------------------------------------------------------------
// MicroTime and validation
// ---------------------------------------------------------------------------

describe('Lease times', () => {
  it('serialise with microsecond precision (six fractional digits), as the API requires', () => {
    assert.equal(JSON.stringify(microTime(Date.UTC(2024, 0, 2, 3, 4, 5, 678))), '"2024-01-02T03:04:05.678000Z"');
    assert.equal(JSON.stringify({ t: microTime(Date.UTC(2024, 0, 2, 3, 4, 5, 0)) }), '{"t":"2024-01-02T03:04:05.000000Z"}');
  });
});

const badTimings: { name: string; over: Partial<LeaderElectionConfig>; message: RegExp }[] = [
  { name: 'renewDeadline equal to leaseDuration', over: { renewDeadlineMs: LEASE_MS }, message: /renewDeadlineMs must be less than leaseDurationMs/ },
  { name: 'retryPeriod equal to renewDeadline', over: { retryPeriodMs: RENEW_MS }, message: /retryPeriodMs must be positive and less than renewDeadlineMs/ },
  { name: 'leaseDuration not whole seconds', over: { leaseDurationMs: 4500 }, message: /whole number of seconds/ },
  { name: 'empty identity', over: { identity: '' }, message: /identity/ },
];

describe('LeaderElector timings', () => {
  for (const c of badTimings) {
    it(`rejects ${c.name}`, () => {
      assert.throws(() => elector(new FakeLeases(), newClock(), 'me', c.over), c.message);
    });
  }
});

// ---------------------------------------------------------------------------
// The flags (src/config.ts)
// ---------------------------------------------------------------------------

describe('leader-election flags', () => {
  const cases: { name: string; argv: string[]; env: Record<string, string>; want: Record<string, unknown> }[] = [
    {
      name: 'defaults: off, Lease pullsecret-operator/pullsecret-operator, 15s/10s/2s',
      argv: [],
      env: {},
      want: { enabled: false, namespace: 'pullsecret-operator', name: 'pullsecret-operator', leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 },
    },
    { name: 'POD_NAMESPACE is the default lease namespace', argv: [], env: { POD_NAMESPACE: 'ops' }, want: { namespace: 'ops' } },
    { name: 'PSO_LEASE_NAMESPACE wins over POD_NAMESPACE', argv: [], env: { POD_NAMESPACE: 'ops', PSO_LEASE_NAMESPACE: 'elect' }, want: { namespace: 'elect' } },
    { name: 'the flag wins over the environment', argv: ['--lease-namespace', 'flag-ns', '--lease-name', 'l'], env: { PSO_LEASE_NAMESPACE: 'elect', PSO_LEASE_NAME: 'x' }, want: { namespace: 'flag-ns', name: 'l' } },
    { name: '--leader-elect and PSO_LEADER_ELECT', argv: ['--leader-elect'], env: {}, want: { enabled: true } },
    { name: 'PSO_LEADER_ELECT=true', argv: [], env: { PSO_LEADER_ELECT: 'true' }, want: { enabled: true } },
    {
      name: 'durations from flags and environment',
      argv: ['--lease-duration', '4s', '--renew-deadline', '3s'],
      env: { PSO_RETRY_PERIOD: '500ms' },
      want: { leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 500 },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const le = loadConfig(c.argv, c.env, 'node-1', 'abc').leaderElection as unknown as Record<string, unknown>;
      for (const [k, v] of Object.entries(c.want)) assert.deepEqual(le[k], v, k);
    });
  }

  const identities: { name: string; env: Record<string, string>; want: string }[] = [
    { name: 'POD_NAME is the identity', env: { POD_NAME: 'pso-7d9-x2' }, want: 'pso-7d9-x2' },
    { name: 'without POD_NAME: hostname, pid and a random suffix', env: {}, want: `node-1-${process.pid}-abc` },
  ];
  for (const c of identities) {
    it(c.name, () => assert.equal(loadConfig([], c.env, 'node-1', 'abc').identity, c.want));
  }

  it('two replicas on one host without POD_NAME get different identities', () => {
    assert.notEqual(loadConfig([], {}, 'node-1').identity, loadConfig([], {}, 'node-1').identity);
  });

  const invalid: { name: string; argv: string[]; message: RegExp }[] = [
    { name: 'renew-deadline equal to lease-duration', argv: ['--lease-duration', '10s'], message: /--renew-deadline \(10s\) must be less than --lease-duration \(10s\)/ },
    { name: 'retry-period longer than renew-deadline', argv: ['--renew-deadline', '2s', '--retry-period', '3s'], message: /--retry-period \(3s\) must be less than --renew-deadline \(2s\)/ },
    { name: 'lease-duration not whole seconds', argv: ['--lease-duration', '4500ms', '--renew-deadline', '3s'], message: /--lease-duration: must be whole seconds/ },
    { name: 'a zero retry-period', argv: ['--retry-period', '0s'], message: /--retry-period: 0s is out of range \(1ms to 1h\)/ },
    { name: 'an invalid lease namespace', argv: ['--lease-namespace', 'Not_A_Namespace'], message: /--lease-namespace/ },
  ];
  for (const c of invalid) {
    it(`rejects ${c.name}`, () => assert.throws(() => loadConfig(c.argv, {}, 'node-1'), c.message));
  }
});
