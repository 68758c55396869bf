/**
 * Leader election on a coordination.k8s.io/v1 Lease, following client-go's leaderelection rules
 * (client-node has no elector):
 *
 * - Expiry is judged by LOCAL observation time: a replica remembers when it last saw the Lease
 *   record change (holder, renewTime, resourceVersion, ...) and considers it expired once
 *   leaseDurationSeconds have passed on its own clock without a change. The holder's renewTime
 *   is never compared with the local clock, so clock skew between nodes does not matter.
 * - Every write is a PUT carrying the resourceVersion that was read; a 409 means another replica
 *   wrote first, and this one is not the leader.
 * - acquireTime and renewTime are V1MicroTime (the API rejects millisecond-precision timestamps).
 * - leaseTransitions increments whenever a replica takes the Lease over from another holder.
 * - The leader renews every retryPeriod. If it cannot renew within renewDeadline of the start of
 *   its last successful renewal, or sees another holder, it stops leading (the process must then
 *   stop writing; main exits non-zero). renewDeadline < leaseDuration leaves a margin before any
 *   standby can consider the Lease expired.
 * - stop({ release: true }) releases the Lease like client-go's ReleaseOnCancel: empty holder,
 *   leaseDurationSeconds 1, so a standby takes over at its next retry.
 *
 * Two clocks, as client-go keeps them: the wall clock only stamps the Lease's acquireTime and
 * renewTime; every duration (a standby's local expiry, the leader's renew deadline) is measured on
 * the monotonic clock, so that a step of the wall clock (NTP, a VM resumed) can neither end a
 * healthy leadership nor make a standby take over a Lease that is still held.
 *
 * The clock and the Kube calls are injected; there is no logging here, only typed callbacks.
 */
import type { V1Lease, V1MicroTime } from '@kubernetes/client-node';
import { type Clock, sleep } from '../clock.js';
import { KubeError, type Kube } from './client.js';

export interface LeaderElectionConfig {
  /** Namespace and name of the Lease. */
  namespace: string;
  name: string;
  /** This replica's identity, written as holderIdentity. */
  identity: string;
  /** How long a standby waits, from its last observed change of the Lease, before taking over. Whole seconds. */
  leaseDurationMs: number;
  /** How long the leader keeps trying to renew before it gives up leadership. */
  renewDeadlineMs: number;
  /** Interval between attempts to acquire or renew. */
  retryPeriodMs: number;
}

/** Why a leader stopped leading. */
export type StoppedReason =
  /** stop() was called and the Lease was released (or release was not asked for). */
  | 'stopped'
  /** No successful renewal within renewDeadline. */
  | 'renew-deadline'
  /** Another replica holds the Lease now. */
  | 'taken-over';

export interface StoppedLeading {
  reason: StoppedReason;
  /** Whether the Lease was released (only for reason 'stopped'). */
  released: boolean;
  /** The last renewal or release error, if any. */
  error?: unknown;
}

export interface LeaderCallbacks {
  /** This replica has become the leader: it may start writing. */
  onStartedLeading(): void;
  /** This replica is no longer the leader: it must stop writing at once. */
  onStoppedLeading(e: StoppedLeading): void;
  /** The observed holder of the Lease changed (to this replica or another one). */
  onNewLeader(identity: string): void;
}

export interface LeaderElectorDeps {
  kube: Pick<Kube, 'getLease' | 'createLease' | 'replaceLease'>;
  clock: Clock;
  config: LeaderElectionConfig;
  callbacks: LeaderCallbacks;
  /** Random numbers in [0, 1) for the jitter of acquire attempts; default Math.random. */
  random?: () => number;
}

/** client-go's JitterFactor for acquire attempts: wait retryPeriod * (1 + random * 1.2). */
export const ACQUIRE_JITTER = 1.2;

/** The outcome of one acquire-or-renew attempt. */
export type AttemptResult =
  | { ok: true }
  | { ok: false; reason: 'held'; holder: string }
  | { ok: false; reason: 'conflict' | 'error'; error: unknown };

/** Microsecond-precision timestamp for the Lease's acquireTime and renewTime. */
export function microTime(ms: number): V1MicroTime {
  return new MicroTime(ms);
}

/**
 * A Date that serializes with microseconds (`...T10:00:00.123000Z`), as client-node's V1MicroTime
 * does; ours, so that the elector needs none of client-node's generated models at runtime.
 */
class MicroTime extends Date {
  override toISOString(): string {
    return `${super.toISOString().slice(0, -1)}000Z`;
  }
  override toJSON(): string {
    return this.toISOString();
  }
}

/** A Lease time as sent on the wire (read Leases carry strings; written ones V1MicroTime). */
function wireTime(t: unknown): string {
  if (t instanceof Date) return t.toISOString();
  return t === undefined || t === null ? '' : String(t);
}

/** What, when it changes, restarts a standby's expiry countdown. */
function recordKey(lease: V1Lease): string {
  const s = lease.spec ?? {};
  return JSON.stringify([
    s.holderIdentity ?? '',
    wireTime(s.renewTime),
    wireTime(s.acquireTime),
    s.leaseDurationSeconds ?? null,
    s.leaseTransitions ?? null,
    lease.metadata?.resourceVersion ?? '',
  ]);
}

function isConflict(err: unknown): boolean {
  return err instanceof KubeError && (err.kind === 'Conflict' || err.kind === 'AlreadyExists');
}

export class LeaderElector {
  readonly #d: LeaderElectorDeps;
  readonly #random: () => number;
  readonly #abort = new AbortController();
  /** The Lease as last read or written, with its resourceVersion. */
  #lease: V1Lease | undefined;
  /** recordKey of the Lease as last observed, and the local (monotonic) time it was first observed so. */
  #observedKey = '';
  #observedAt = 0;
  #reportedLeader: string | undefined;
  #leading = false;
  #release = false;
  #running: Promise<void> | undefined;

  constructor(deps: LeaderElectorDeps) {
    const c = deps.config;
    if (!(c.leaseDurationMs >= 1000) || c.leaseDurationMs % 1000 !== 0) throw new Error('leaseDurationMs must be a whole number of seconds, at least 1s');
    if (!(c.renewDeadlineMs < c.leaseDurationMs)) throw new Error('renewDeadlineMs must be less than leaseDurationMs');
    if (!(c.retryPeriodMs > 0 && c.retryPeriodMs < c.renewDeadlineMs)) throw new Error('retryPeriodMs must be positive and less than renewDeadlineMs');
    if (c.identity === '') throw new Error('identity must not be empty');
    this.#d = deps;
    this.#random = deps.random ?? Math.random;
  }

  /** Whether this replica holds the Lease and has not stopped leading. */
  get isLeader(): boolean {
    return this.#leading;
  }

  /**
   * Runs the election: tries to acquire every retryPeriod (jittered) until it succeeds, then
   * renews every retryPeriod until stop() is called or leadership is lost. Resolves when done;
   * never rejects. Call once.
   */
  run(): Promise<void> {
    this.#running ??= this.#run();
    return this.#running;
  }

  /**
   * Stops acquiring and renewing. With release, a leader then releases the Lease so a standby
   * takes over at once: call it only after this replica's in-flight writes have drained.
   * Resolves once the loop has ended (and the release, if any, was attempted).
   */
  async stop(opts: { release: boolean }): Promise<void> {
    this.#release = opts.release;
    this.#abort.abort();
    await (this.#running ?? Promise.resolve());
  }

  /**
   * One attempt, as client-go's tryAcquireOrRenew: read the Lease (create it if missing); if
   * another holder's record changed less than its leaseDuration ago (by the local clock), give
   * up; otherwise write our record with the resourceVersion read.
   */
  async tryAcquireOrRenew(): Promise<AttemptResult> {
    const { kube, clock, config } = this.#d;
    const now = clock.now();
    let current: V1Lease | undefined;
    try {
      current = await kube.getLease(config.namespace, config.name);
    } catch (error) {
      return { ok: false, reason: 'error', error };
    }
    if (current === undefined) {
      const lease: V1Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { namespace: config.namespace, name: config.name },
        spec: {
          holderIdentity: config.identity,
          leaseDurationSeconds: Math.round(config.leaseDurationMs / 1000),
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        },
      };
      try {
        this.#observe(await kube.createLease(lease));
        return { ok: true };
      } catch (error) {
        return { ok: false, reason: isConflict(error) ? 'conflict' : 'error', error };
      }
    }
    this.#observe(current);
    const spec = current.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const held = holder === config.identity;
    const durationMs = (spec.leaseDurationSeconds ?? config.leaseDurationMs / 1000) * 1000;
    const valid = this.#observedAt + durationMs > clock.monotonic();
    if (holder !== '' && !held && valid) return { ok: false, reason: 'held', holder };

    const next: V1Lease = {
      ...current,
      spec: {
        ...spec,
        holderIdentity: config.identity,
        leaseDurationSeconds: Math.round(config.leaseDurationMs / 1000),
        acquireTime: held && spec.acquireTime !== undefined ? spec.acquireTime : microTime(now),
        renewTime: microTime(now),
        leaseTransitions: held ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
      },
    };
    try {
      this.#observe(await kube.replaceLease(next));
      return { ok: true };
    } catch (error) {
      return { ok: false, reason: isConflict(error) ? 'conflict' : 'error', error };
    }
  }

  /** Records a Lease read or written; restarts the expiry countdown when its record changed. */
  #observe(lease: V1Lease): void {
    this.#lease = lease;
    const key = recordKey(lease);
    if (key !== this.#observedKey) {
      this.#observedKey = key;
      this.#observedAt = this.#d.clock.monotonic();
    }
    const holder = lease.spec?.holderIdentity ?? '';
    if (holder !== '' && holder !== this.#reportedLeader) {
      this.#reportedLeader = holder;
      this.#d.callbacks.onNewLeader(holder);
    }
  }

  get #stopped(): boolean {
    return this.#abort.signal.aborted;
  }

  async #run(): Promise<void> {
    const { clock, config, callbacks } = this.#d;
    const signal = this.#abort.signal;

    // Acquire.
    let acquiredAt = 0;
    for (;;) {
      if (this.#stopped) return;
      const started = clock.monotonic();
      const r = await this.tryAcquireOrRenew();
      if (r.ok) {
        acquiredAt = started;
        break;
      }
      await sleep(clock, config.retryPeriodMs * (1 + this.#random() * ACQUIRE_JITTER), signal);
    }
    if (this.#stopped) {
      // Stopped while acquiring: nothing was written under this leadership, so hand it back.
      await this.#releaseLease().catch(() => false);
      return;
    }
    this.#leading = true;
    callbacks.onStartedLeading();

    // Renew.
    let lastRenewStart = acquiredAt;
    let lastError: unknown;
    for (;;) {
      await sleep(clock, config.retryPeriodMs, signal);
      if (this.#stopped) return this.#finish();
      for (;;) {
        const deadline = lastRenewStart + config.renewDeadlineMs;
        const remaining = deadline - clock.monotonic();
        if (remaining <= 0) return this.#lose('renew-deadline', lastError);
        const started = clock.monotonic();
        const timeout = new AbortController();
        const r = await Promise.race([
          this.tryAcquireOrRenew(),
          sleep(clock, remaining, timeout.signal).then((): 'timeout' => 'timeout'),
        ]);
        timeout.abort();
        if (r === 'timeout') return this.#lose('renew-deadline', lastError);
        if (r.ok) {
          lastRenewStart = started;
          lastError = undefined;
          break;
        }
        if (r.reason === 'held') return this.#lose('taken-over', undefined);
        lastError = r.error;
        if (this.#stopped) return this.#finish();
        // A 409 or an error: read and try again, until the deadline.
        await sleep(clock, Math.min(config.retryPeriodMs, Math.max(0, deadline - clock.monotonic())), signal);
        if (this.#stopped) return this.#finish();
      }
    }
  }

  #lose(reason: 'renew-deadline' | 'taken-over', error: unknown): void {
    this.#leading = false;
    this.#d.callbacks.onStoppedLeading(error === undefined ? { reason, released: false } : { reason, released: false, error });
  }

  /** Ends the loop of a leader after stop(): releases the Lease when asked to. */
  async #finish(): Promise<void> {
    let released = false;
    let error: unknown;
    if (this.#release) {
      try {
        released = await this.#releaseLease();
      } catch (err) {
        error = err;
      }
    }
    this.#leading = false;
    this.#d.callbacks.onStoppedLeading(error === undefined ? { reason: 'stopped', released } : { reason: 'stopped', released, error });
  }

  /**
   * Writes an empty holder with leaseDurationSeconds 1 over the Lease last read or written (its
   * resourceVersion guards it: a 409 means another replica holds the Lease, nothing to release).
   */
  async #releaseLease(): Promise<boolean> {
    const { kube, clock, config } = this.#d;
    const lease = this.#lease;
    if (lease === undefined || (lease.spec?.holderIdentity ?? '') !== config.identity) return false;
    const now = clock.now();
    const next: V1Lease = {
      ...lease,
      spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: microTime(now), renewTime: microTime(now) },
    };
    try {
      this.#observe(await kube.replaceLease(next));
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }
}
