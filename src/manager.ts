/**
 * Start-up as a set of runnables, controller-runtime's manager being the model: one owner starts
 * and stops them all, and none waits for another.
 *
 * - Runnables of the `always` group (the caches, the HTTP server, the webhook) start on every
 *   replica, at once and in the order added. Their start() only sets up (a listen) and returns;
 *   long work (a certificate loop that retries for ever) runs in the background and reports
 *   through ready() and health(), so it can never hold the others back.
 * - Runnables of the `leader` group (the reconciler) start when this replica leads: at once
 *   without leader election, on acquiring the Lease with it.
 * - The first sync of the caches has a deadline whatever any runnable does: missed, run() resolves 1.
 * - SIGTERM: the leader group drains while the Lease is still renewed, the Lease is released only
 *   when nothing is in flight, then the always group stops. A lost Lease ends run() with 1 at once
 *   (the leader group is aborted, not drained: another replica may be writing already).
 */
import type { Clock, Timer } from './clock.js';
import type { LeaderCallbacks, StoppedLeading } from './kube/leader.js';
import { errorMessage, type Logger } from './log.js';

export interface Runnable {
  readonly name: string;
  /**
   * Starts the runnable and resolves once it is set up; its long work goes on in the background.
   * A rejection is fatal: the manager stops everything and run() resolves 1.
   */
  start(): Promise<void> | void;
  /** Stops it, letting work in flight finish; resolves when it has. */
  stop(): Promise<void> | void;
  /** Stops at once, dropping what is queued (a lost Lease). Default: nothing. */
  abort?(): void;
  /** Null when ready (for /readyz), else why not. */
  ready?(): string | null;
  /** Null when healthy (for /healthz), else why not. */
  health?(): string | null;
}

/** Leader election as the manager drives it (src/kube/leader.ts's LeaderElector fits). */
export interface Election {
  readonly isLeader: boolean;
  run(): Promise<void>;
  stop(opts: { release: boolean }): Promise<void>;
}

export interface ManagerOptions {
  logger: Logger;
  /** Timers of the first-sync deadline and of each shutdown step. */
  clock: Pick<Clock, 'setTimeout' | 'clearTimeout'>;
  /** Bounds each step of the shutdown (the drain, the release, stopping the rest). */
  shutdownTimeoutMs: number;
  /** The first sync of the caches: `wait` resolves when done; past `timeoutMs` run() resolves 1. */
  firstSync: { wait(): Promise<void>; timeoutMs: number; onMissed(): void };
  /**
   * With leader election: makes the elector, given the callbacks the manager needs. Without it,
   * this replica leads from the start.
   */
  election?: (callbacks: LeaderCallbacks) => Election;
  /** Told whenever this replica starts or stops leading (the leader metric). */
  onLeading?(leading: boolean): void;
  /** Fields of the log lines about leadership. */
  electionFields?: Record<string, unknown>;
}

/** Why run() ends. */
type Ending = 'signal' | 'lost' | 'sync-timeout' | 'failed';

export class Manager {
  #o: ManagerOptions;
  #always: Runnable[] = [];
  #leader: Runnable[] = [];
  #leaderStarted = false;
  #stopping = false;
  #fail: (err: unknown) => void = () => undefined;
  readonly #failed = new Promise<'failed'>((resolve) => {
    this.#fail = () => resolve('failed');
  });

  constructor(o: ManagerOptions) {
    this.#o = o;
  }

  add(r: Runnable, opts: { leaderOnly?: boolean } = {}): this {
    (opts.leaderOnly ? this.#leader : this.#always).push(r);
    return this;
  }

  /** Null when every runnable is ready, else the first reason. */
  ready(): string | null {
    for (const r of [...this.#always, ...this.#leader]) {
      const why = r.ready?.() ?? null;
      if (why !== null) return why;
    }
    return null;
  }

  /** Null when every runnable is healthy, else the first reason. */
  health(): string | null {
    for (const r of [...this.#always, ...this.#leader]) {
      const why = r.health?.() ?? null;
      if (why !== null) return why;
    }
    return null;
  }

  /** Runs until a signal (resolves 0), a lost Lease, a missed first sync or a failed runnable (1). */
  async run(signalled: Promise<void>): Promise<number> {
    if (!(await this.#startAlways())) return 1;
    const firstSync = this.#firstSyncDeadline();
    const { election, electing, lost } = this.#elect();
    const ending: Ending = await Promise.race([signalled.then(() => 'signal' as const), lost, firstSync.missed, this.#failed]);
    firstSync.cancel();
    this.#stopping = true;
    if (ending === 'lost') return 1;
    if (ending === 'sync-timeout') {
      // Nothing was written, and the informers may hang in a LIST: no drain, just exit. A leader
      // hands the Lease over at once rather than hold it idle; a standby has nothing to hand over
      // and does not wait for its elector's request in flight.
      for (const r of this.#leader) r.abort?.();
      this.#o.firstSync.onMissed();
      if (election?.isLeader) await this.#bounded(election.stop({ release: true }).then(() => electing));
      else void election?.stop({ release: false });
      return 1;
    }
    // Drain while the elector keeps renewing; a lost Lease meanwhile ends the process at once.
    const drained = await Promise.race([this.#bounded(this.#stopGroup(this.#leader)).then((ok) => (ok ? ('drained' as const) : ('timeout' as const))), lost]);
    if (drained === 'lost') return 1;
    // Release only when nothing is in flight any more; after a timed-out drain the Lease expires instead.
    if (election) await this.#bounded(election.stop({ release: drained === 'drained' }).then(() => electing));
    await this.#bounded(this.#stopGroup(this.#always));
    this.#o.logger.info('stopped', { result: drained });
    return ending === 'failed' ? 1 : 0;
  }

  /** Starts the always group in order; false (after stopping what started) when one fails to start. */
  async #startAlways(): Promise<boolean> {
    for (const r of this.#always) {
      try {
        await r.start();
      } catch (err) {
        this.#o.logger.error('runnable failed to start; stopping', { runnable: r.name, error: errorMessage(err) });
        await this.#bounded(this.#stopGroup(this.#always));
        return false;
      }
    }
    return true;
  }

  /** The first sync's deadline, whatever any runnable does. */
  #firstSyncDeadline(): { missed: Promise<'sync-timeout'>; cancel(): void } {
    let timer: Timer | undefined;
    const missed = new Promise<'sync-timeout'>((resolve) => {
      timer = this.#o.clock.setTimeout(() => resolve('sync-timeout'), this.#o.firstSync.timeoutMs);
    });
    void this.#o.firstSync.wait().then(() => this.#o.clock.clearTimeout(timer));
    return { missed, cancel: () => this.#o.clock.clearTimeout(timer) };
  }

  /**
   * Starts leading at once without an election; with one, runs it (`electing` ends with it). `lost`
   * resolves if leadership is lost: the leader group is aborted, not drained.
   */
  #elect(): { election: Election | undefined; electing: Promise<void>; lost: Promise<'lost'> } {
    const { logger } = this.#o;
    const fields = this.#o.electionFields ?? {};
    let onLost: (e: StoppedLeading) => void = () => undefined;
    const lost = new Promise<'lost'>((resolve) => {
      onLost = () => resolve('lost');
    });
    const election = this.#o.election?.({
      onStartedLeading: () => {
        this.#o.onLeading?.(true);
        logger.info('became leader', fields);
        if (!this.#stopping) this.#startLeader();
      },
      onStoppedLeading: (e) => {
        this.#o.onLeading?.(false);
        if (e.reason === 'stopped') return this.#logStopped(e);
        // Stop writing now: drop every waiting key; run() returns before in-flight ones go further.
        for (const r of this.#leader) r.abort?.();
        logger.error('lost leadership', { ...fields, reason: e.reason, ...(e.error === undefined ? {} : { error: errorMessage(e.error) }) });
        onLost(e);
      },
      onNewLeader: (leader) => logger.info('new leader observed', { ...fields, leader }),
    });
    if (!election) {
      this.#o.onLeading?.(true);
      this.#startLeader();
      return { election, electing: Promise.resolve(), lost };
    }
    this.#o.onLeading?.(false);
    const electing = election.run();
    void this.#o.firstSync.wait().then(() => {
      if (!election.isLeader) logger.info('caches synced; standing by', fields);
    });
    return { election, electing, lost };
  }

  #logStopped(e: StoppedLeading): void {
    const fields = { ...this.#o.electionFields, ...(e.error === undefined ? {} : { error: errorMessage(e.error) }) };
    if (e.released) this.#o.logger.info('leadership released', fields);
    else this.#o.logger.warn('stopped leading without releasing the lease', fields);
  }

  #startLeader(): void {
    if (this.#leaderStarted) return;
    this.#leaderStarted = true;
    for (const r of this.#leader) {
      Promise.resolve()
        .then(() => r.start())
        .catch((err: unknown) => {
          this.#o.logger.error('runnable failed; stopping', { runnable: r.name, error: errorMessage(err) });
          this.#fail(err);
        });
    }
  }

  /** Stops a group, last started first; a stop that throws is logged, the others still stop. */
  async #stopGroup(group: readonly Runnable[]): Promise<void> {
    if (group === this.#leader && !this.#leaderStarted) return;
    for (const r of [...group].reverse()) {
      try {
        await r.stop();
      } catch (err) {
        this.#o.logger.warn('runnable did not stop cleanly', { runnable: r.name, error: errorMessage(err) });
      }
    }
  }

  /** Resolves true when `p` settles within the shutdown timeout, false when the time ran out. */
  #bounded(p: Promise<unknown>): Promise<boolean> {
    let timer: Timer | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = this.#o.clock.setTimeout(() => resolve(false), this.#o.shutdownTimeoutMs);
      timer.unref();
    });
    return Promise.race([p.then(() => true, () => true), timeout]).finally(() => this.#o.clock.clearTimeout(timer));
  }
}
