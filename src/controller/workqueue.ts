/**
 * The work queue the controller runs on, client-go's rate-limited delaying queue put together
 * from its layers, plus the handling of each run's result (controller-runtime's):
 *
 * - queue.ts: dirty and processing sets, adds that collapse, one run per key at a time, drain;
 * - delays.ts: a key added after a delay, one timer per key;
 * - ratelimiter.ts: how long a failed key waits (per-key backoff, the overall bucket, Retry-After);
 * - here: a run's result. Success forgets the key's failures; `{ requeueAfterMs }` forgets them
 *   and looks again after that delay; a failure is retried after the rate limiter's delay, or,
 *   past `maxRetries` failures in a row, given up until the key is added again.
 *
 * The queue never logs: each run is reported through `onEvent`, for metrics and logs.
 */
import { type Clock, systemClock } from '../clock.js';
import { Delays } from './delays.js';
import { Queue } from './queue.js';
import { RateLimiter, type RateLimiterOptions } from './ratelimiter.js';

/** What a worker may return: nothing (success), or `{ requeueAfterMs }` to look again after that delay. */
export type ReconcileResult = { requeueAfterMs?: number } | void;

/** Processes one key. Throwing or rejecting means failure. */
export type Worker = (key: string) => Promise<ReconcileResult>;

/** One worker run, reported through {@link WorkQueueOptions.onEvent}. */
export interface WorkQueueEvent {
  /** `done`: success; `requeue`: success that asked for `requeueAfterMs`; `error`: failure. */
  type: 'done' | 'error' | 'requeue';
  key: string;
  /** How long the worker ran, on the monotonic clock. */
  durationMs: number;
  /** The thrown value, for `error` events. */
  error?: unknown;
  /** For `error` events: in how many ms it is retried; absent when it is not (given up, shutting down). */
  retryInMs?: number;
  /** For `error` events: the key failed maxRetries times in a row and is not retried again. */
  gaveUp?: boolean;
}

export interface WorkQueueOptions extends Omit<RateLimiterOptions, 'clock' | 'qps' | 'burst'> {
  /** Keys processed at once (an integer >= 1). */
  concurrency: number;
  /** The overall bucket of retries (RateLimiterOptions' qps and burst). */
  retryQps?: number;
  retryBurst?: number;
  /** After this many consecutive failures a key is given up (not retried). Default: never. */
  maxRetries?: number;
  clock?: Pick<Clock, 'monotonic' | 'setTimeout' | 'clearTimeout'>;
  /** Called after each run. A throw from it is swallowed: it cannot corrupt the queue. */
  onEvent?: (e: WorkQueueEvent) => void;
}

export class WorkQueue {
  readonly #worker: Worker;
  readonly #clock: Pick<Clock, 'monotonic' | 'setTimeout' | 'clearTimeout'>;
  readonly #queue: Queue;
  readonly #delays: Delays;
  readonly #limiter: RateLimiter;
  readonly #maxRetries: number;
  readonly #onEvent: ((e: WorkQueueEvent) => void) | undefined;
  #settledWaiters: (() => void)[] = [];
  #retriesTotal = 0;

  /** @throws RangeError if `concurrency` is not an integer >= 1 or a delay is invalid. */
  constructor(worker: Worker, o: WorkQueueOptions) {
    this.#worker = worker;
    this.#clock = o.clock ?? systemClock;
    this.#queue = new Queue((key) => this.#run(key), o.concurrency);
    this.#limiter = new RateLimiter({ ...o, qps: o.retryQps, burst: o.retryBurst, clock: this.#clock });
    this.#delays = new Delays(this.#clock, (key) => {
      this.#queue.add(key);
      this.#checkSettled();
    });
    this.#maxRetries = o.maxRetries ?? Infinity;
    this.#onEvent = o.onEvent;
    this.#queue.onChange(() => this.#checkSettled());
  }

  /** Marks `key` as needing processing (see Queue.add). */
  add(key: string): void {
    this.#queue.add(key);
  }

  /** Adds `key` after `ms` (at once for ms <= 0); one pending delay per key, the earliest wins. Ignored once shutting down. */
  addAfter(key: string, ms: number): void {
    this.#addAfter(key, ms, false);
  }

  /** Consecutive failures of `key` (0 after success or when given up). */
  numRequeues(key: string): number {
    return this.#limiter.failures(key);
  }

  /** Keys waiting to be processed (not those being processed or delayed). */
  get length(): number {
    return this.#queue.length;
  }

  get processingCount(): number {
    return this.#queue.processingCount;
  }

  /** Retries scheduled after failures since construction. */
  get retriesTotal(): number {
    return this.#retriesTotal;
  }

  get shuttingDown(): boolean {
    return this.#queue.shuttingDown;
  }

  /** Stops intake, drops waiting keys and pending delays; runs in progress finish and are not retried. Idempotent. */
  shutDown(): void {
    this.#delays.clear();
    this.#queue.shutDown();
  }

  /** Shuts down and resolves once the runs in progress have finished (client-go's ShutDownWithDrain). */
  drain(): Promise<void> {
    this.#delays.clear();
    return this.#queue.drain();
  }

  /** Resolves when no key waits or is being processed; delayed keys do not count. */
  idle(): Promise<void> {
    return this.#queue.idle();
  }

  /**
   * Resolves when no key waits, is being processed, or waits out a backoff after a failure (what
   * --once waits for: a transient error is retried before it reports). Delays asked for with
   * addAfter or requeueAfter do not count.
   */
  settled(): Promise<void> {
    if (this.#isSettled()) return Promise.resolve();
    return new Promise((resolve) => this.#settledWaiters.push(resolve));
  }

  #addAfter(key: string, ms: number, retry: boolean): void {
    if (this.#queue.shuttingDown) return;
    if (ms > 0) this.#delays.add(key, ms, retry);
    else this.#queue.add(key);
  }

  /** One run of the worker and what its result means. Never rejects. */
  async #run(key: string): Promise<void> {
    const started = this.#clock.monotonic();
    let event: WorkQueueEvent;
    try {
      const result = await this.#worker(key);
      this.#limiter.forget(key);
      const after = result?.requeueAfterMs;
      if (typeof after === 'number' && Number.isFinite(after)) this.addAfter(key, after);
      event = { type: after === undefined || !Number.isFinite(after) ? 'done' : 'requeue', key, durationMs: this.#clock.monotonic() - started };
    } catch (error: unknown) {
      event = { type: 'error', key, durationMs: this.#clock.monotonic() - started, error, ...this.#failed(key, error) };
    }
    this.#emit(event);
  }

  /** A failed run: retried after the rate limiter's delay, or given up past maxRetries. */
  #failed(key: string, error: unknown): Pick<WorkQueueEvent, 'retryInMs' | 'gaveUp'> {
    if (this.#limiter.failures(key) + 1 >= this.#maxRetries) {
      this.#limiter.forget(key);
      return { gaveUp: true };
    }
    if (this.#queue.shuttingDown) return {};
    const delay = this.#limiter.when(key, error);
    this.#retriesTotal++;
    // A retry that is due at once still goes through a timer, so it counts as in backoff for settled().
    const retryInMs = Math.max(delay, 1);
    this.#addAfter(key, retryInMs, true);
    return { retryInMs };
  }

  #emit(event: WorkQueueEvent): void {
    try {
      this.#onEvent?.(event);
    } catch {
      // A broken metrics or logging hook must not break the queue.
    }
  }

  #isSettled(): boolean {
    return this.#queue.isIdle && !this.#delays.hasRetry;
  }

  #checkSettled(): void {
    if (this.#settledWaiters.length > 0 && this.#isSettled()) for (const resolve of this.#settledWaiters.splice(0)) resolve();
  }
}
