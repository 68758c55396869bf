/**
 * A keyed work queue with the semantics of client-go's `util/workqueue`
 * (rate-limited, delaying queue), using p-queue only for the concurrency limit.
 *
 * Guarantees:
 * - A key that is already waiting is not queued twice (adds collapse).
 * - A key is never handed to the worker twice at the same time, whatever the
 *   concurrency; a key added while it is being processed is marked dirty and
 *   runs exactly once more after the current run ends.
 * - Failed keys are retried with per-key exponential backoff, and every retry also takes a token
 *   of an overall bucket (client-go's DefaultControllerRateLimiter: the larger of the two delays
 *   wins), so that a storm of failures across thousands of keys cannot become a retry storm.
 *   A delay the error asks for (a 429's Retry-After) is honoured as a floor.
 *
 * @module
 */
import PQueue from 'p-queue';
import { TokenBucket } from '../kube/ratelimit.js';

/** Time source and timer functions; inject a fake one in tests. */
export interface Clock {
  /** Current time in milliseconds. */
  now(): number;
  /** Schedules `fn` to run after `ms` milliseconds and returns a handle for {@link Clock.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer created by {@link Clock.setTimeout}. */
  clearTimeout(handle: unknown): void;
}

/** Largest delay Node's timers accept without overflowing to 1 ms. */
const MAX_TIMER_DELAY_MS = 2_147_483_647;

/** {@link Clock} backed by the monotonic `performance.now` (a wall-clock step moves no backoff) and the real Node.js timers. */
export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  setTimeout: (fn: () => void, ms: number): unknown => setTimeout(fn, Math.min(Math.max(ms, 0), MAX_TIMER_DELAY_MS)),
  clearTimeout: (handle: unknown): void => clearTimeout(handle as ReturnType<typeof setTimeout>),
});

/**
 * What a worker may return: nothing (success), or `{ requeueAfterMs }` to have
 * the key forgotten (failure count reset) and added again after that delay.
 */
export type ReconcileResult = { requeueAfterMs?: number } | void;

/** Processes one key. Throwing or rejecting means failure (see {@link WorkQueueOptions.isTerminal}). */
export type Worker = (key: string) => Promise<ReconcileResult>;

/** Outcome of one worker run, reported through {@link WorkQueueOptions.onEvent}. */
export interface WorkQueueEvent {
  /**
   * `done`: the worker succeeded; `error`: the worker failed (retried with
   * backoff unless `isTerminal` said otherwise, and unless the queue is
   * shutting down); `requeue`: the worker asked for `requeueAfterMs`.
   */
  type: 'done' | 'error' | 'requeue';
  /** The key that was processed. */
  key: string;
  /** How long the worker ran, measured with the queue's clock. */
  durationMs: number;
  /** The thrown value, for `error` events. */
  error?: unknown;
  /** For `error` events: the key failed maxRetries times in a row and is not retried again. */
  gaveUp?: boolean;
}

/** Options for {@link WorkQueue}. */
export interface WorkQueueOptions {
  /** Maximum number of keys processed at once (an integer >= 1). */
  concurrency: number;
  /** Backoff for the first failure of a key, in ms. Default 5. */
  baseDelayMs?: number;
  /** Upper bound of the per-key backoff, in ms. Default 300 000 (5 minutes). */
  maxDelayMs?: number;
  /**
   * The overall bucket every retry draws from: `retryQps` retries a second, `retryBurst` at once.
   * Defaults 10 and 100 (client-go's). `retryQps` <= 0 turns it off.
   */
  retryQps?: number;
  retryBurst?: number;
  /** The least delay an error asks for (a 429's Retry-After), in ms; undefined for none. */
  retryAfterMs?: (err: unknown) => number | undefined;
  /** After this many consecutive failures a key is given up (not retried). Default: never. */
  maxRetries?: number;
  /** Time source; default {@link systemClock}. */
  clock?: Clock;
  /**
   * Decides whether an error is final: a final error is not retried and the
   * key's failure count is forgotten. Default: no error is final.
   * If this function throws, the error is treated as retryable.
   */
  isTerminal?: (err: unknown) => boolean;
  /**
   * Called after each worker run, for metrics and logging (the queue itself
   * never logs). Exceptions thrown by the hook are swallowed so they cannot
   * corrupt the queue's bookkeeping.
   */
  onEvent?: (e: WorkQueueEvent) => void;
}

interface PendingTimer {
  readyAt: number;
  handle: unknown;
  /** A backoff retry (not a requested requeue). */
  retry: boolean;
}

const DEFAULT_BASE_DELAY_MS = 5;
const DEFAULT_MAX_DELAY_MS = 300_000;

function assertNonNegative(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`${name} must be a finite number >= 0, got ${String(value)}`);
  }
}

/**
 * Keyed work queue with client-go `workqueue` semantics: deduplication via a
 * `dirty` and a `processing` set, delayed adds, per-key exponential backoff on
 * failure, and shutdown with drain.
 */
export class WorkQueue {
  readonly #worker: Worker;
  readonly #clock: Clock;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #isTerminal: (err: unknown) => boolean;
  readonly #onEvent: ((e: WorkQueueEvent) => void) | undefined;
  readonly #pqueue: PQueue;
  readonly #bucket: TokenBucket;
  readonly #retryAfterMs: (err: unknown) => number | undefined;
  readonly #maxRetries: number;

  /** Keys that need processing: waiting ones, and processing ones that were added again. */
  readonly #dirty = new Set<string>();
  /** Keys the worker is running on right now. */
  readonly #processing = new Set<string>();
  /** Keys with a task in the p-queue that has not started yet (always a subset of `#dirty`). */
  readonly #waiting = new Set<string>();
  /** At most one pending delayed add per key. */
  readonly #timers = new Map<string, PendingTimer>();
  /** Consecutive failures per key. */
  readonly #failures = new Map<string, number>();

  #idleWaiters: Array<() => void> = [];
  #settledWaiters: Array<() => void> = [];
  #drainWaiters: Array<() => void> = [];
  #shuttingDown = false;
  #retriesTotal = 0;

  /**
   * @param worker Called with each key; see {@link Worker} and {@link ReconcileResult}.
   * @param options Concurrency, backoff, clock and hooks.
   * @throws RangeError if `concurrency` is not an integer >= 1 or a delay is invalid.
   */
  constructor(worker: Worker, options: WorkQueueOptions) {
    const { concurrency } = options;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`concurrency must be an integer >= 1, got ${String(concurrency)}`);
    }
    const baseDelayMs = options.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
    const maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
    assertNonNegative('baseDelayMs', baseDelayMs);
    assertNonNegative('maxDelayMs', maxDelayMs);

    this.#worker = worker;
    this.#clock = options.clock ?? systemClock;
    this.#baseDelayMs = baseDelayMs;
    this.#maxDelayMs = maxDelayMs;
    this.#isTerminal = options.isTerminal ?? (() => false);
    this.#onEvent = options.onEvent;
    this.#pqueue = new PQueue({ concurrency });
    this.#bucket = new TokenBucket(options.retryQps ?? 10, options.retryBurst ?? 100, this.#clock);
    this.#retryAfterMs = options.retryAfterMs ?? (() => undefined);
    this.#maxRetries = options.maxRetries ?? Infinity;
  }

  /**
   * Marks `key` as needing processing. Does nothing if the key is already
   * waiting or the queue is shutting down. If the key is being processed, it
   * is marked dirty and runs once more after the current run ends.
   */
  add(key: string): void {
    if (this.#shuttingDown || this.#dirty.has(key)) {
      return;
    }
    this.#dirty.add(key);
    if (this.#processing.has(key)) {
      return;
    }
    this.#enqueue(key);
  }

  /**
   * Adds `key` after `ms` milliseconds (immediately if `ms <= 0`). Keeps at
   * most one pending timer per key: if one exists, the earlier deadline wins.
   * Ignored once the queue is shutting down.
   */
  addAfter(key: string, ms: number): void {
    this.#addAfter(key, ms, false);
  }

  #addAfter(key: string, ms: number, retry: boolean): void {
    if (this.#shuttingDown) {
      return;
    }
    if (!(ms > 0)) {
      this.add(key);
      return;
    }
    const readyAt = this.#clock.now() + ms;
    const existing = this.#timers.get(key);
    if (existing !== undefined) {
      if (existing.readyAt <= readyAt) {
        return;
      }
      this.#clock.clearTimeout(existing.handle);
    }
    const timer: PendingTimer = { readyAt, handle: undefined, retry };
    timer.handle = this.#clock.setTimeout(() => {
      if (this.#timers.get(key) === timer) {
        this.#timers.delete(key);
      }
      this.add(key);
      this.#settleWaiters();
    }, ms);
    this.#timers.set(key, timer);
  }

  /** Number of consecutive failures recorded for `key` (0 after success or when forgotten). */
  numRequeues(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** Number of keys waiting to be processed (not counting keys being processed or delayed). */
  get length(): number {
    return this.#waiting.size;
  }

  /** Number of keys the worker is running on right now. */
  get processingCount(): number {
    return this.#processing.size;
  }

  /** Total number of backoff requeues (after retryable failures) since construction. */
  get retriesTotal(): number {
    return this.#retriesTotal;
  }

  /** Whether {@link WorkQueue.shutDown} has been called. */
  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /**
   * Stops intake: later `add`/`addAfter` calls are ignored, pending timers are
   * cleared and waiting (not yet started) keys are dropped. Keys being
   * processed finish, but are neither retried nor re-run. Idempotent.
   */
  shutDown(): void {
    if (this.#shuttingDown) {
      return;
    }
    this.#shuttingDown = true;
    for (const { handle } of this.#timers.values()) {
      this.#clock.clearTimeout(handle);
    }
    this.#timers.clear();
    this.#pqueue.clear();
    for (const key of this.#waiting) {
      this.#dirty.delete(key);
    }
    this.#waiting.clear();
    this.#settleWaiters();
  }

  /**
   * Shuts the queue down (see {@link WorkQueue.shutDown}) and resolves once
   * all in-flight work has finished, like client-go's `ShutDownWithDrain`.
   * Never rejects.
   */
  drain(): Promise<void> {
    this.shutDown();
    if (this.#processing.size === 0) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#drainWaiters.push(resolve);
    });
  }

  /**
   * Resolves when no key is waiting or being processed. Keys scheduled with a
   * delay (addAfter, backoff, requeueAfter) do not count. Never rejects.
   */
  idle(): Promise<void> {
    if (this.#isIdle()) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#idleWaiters.push(resolve);
    });
  }

  /**
   * Resolves when no key is waiting, being processed, or waiting out a backoff after a failure
   * (what --once waits for: a transient error is retried before it reports). Keys scheduled with
   * addAfter or requeueAfter do not count. Never rejects.
   */
  settled(): Promise<void> {
    if (this.#isSettled()) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#settledWaiters.push(resolve);
    });
  }

  #enqueue(key: string): void {
    this.#waiting.add(key);
    // #run never rejects; the catch is a safety net against unhandled rejections.
    this.#pqueue.add(() => this.#run(key)).catch(() => undefined);
  }

  async #run(key: string): Promise<void> {
    if (!this.#waiting.has(key)) {
      // Dropped by shutDown() after p-queue dequeued the task.
      return;
    }
    this.#waiting.delete(key);
    this.#dirty.delete(key);
    this.#processing.add(key);

    const started = this.#clock.now();
    let event: WorkQueueEvent;
    try {
      const result = await this.#worker(key);
      const durationMs = this.#clock.now() - started;
      const requeueAfterMs = result?.requeueAfterMs;
      this.#failures.delete(key);
      if (typeof requeueAfterMs === 'number' && Number.isFinite(requeueAfterMs)) {
        this.addAfter(key, requeueAfterMs);
        event = { type: 'requeue', key, durationMs };
      } else {
        event = { type: 'done', key, durationMs };
      }
    } catch (error: unknown) {
      const durationMs = this.#clock.now() - started;
      let gaveUp = false;
      if (this.#terminal(error)) {
        this.#failures.delete(key);
      } else if (this.numRequeues(key) + 1 >= this.#maxRetries) {
        this.#failures.delete(key);
        gaveUp = true;
      } else {
        this.#retry(key, error);
      }
      event = gaveUp ? { type: 'error', key, durationMs, error, gaveUp } : { type: 'error', key, durationMs, error };
    }

    this.#emit(event);
    this.#done(key);
  }

  #retry(key: string, error: unknown): void {
    const failures = this.numRequeues(key);
    this.#failures.set(key, failures + 1);
    if (this.#shuttingDown) {
      return;
    }
    const perKey = Math.min(this.#baseDelayMs * 2 ** failures, this.#maxDelayMs);
    let asked: number | undefined;
    try {
      asked = this.#retryAfterMs(error);
    } catch {
      asked = undefined;
    }
    const delay = Math.max(perKey, this.#bucket.reserve(), asked ?? 0);
    this.#retriesTotal++;
    // A retry that is due at once still goes through a timer, so it counts as "in backoff" for settled().
    this.#addAfter(key, Math.max(delay, 1), true);
  }

  #done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key)) {
      if (this.#shuttingDown) {
        this.#dirty.delete(key);
      } else {
        this.#enqueue(key);
      }
    }
    this.#settleWaiters();
  }

  #terminal(error: unknown): boolean {
    try {
      return this.#isTerminal(error) === true;
    } catch {
      return false;
    }
  }

  #emit(event: WorkQueueEvent): void {
    if (this.#onEvent === undefined) {
      return;
    }
    try {
      this.#onEvent(event);
    } catch {
      // A broken metrics/logging hook must not break the queue.
    }
  }

  #isIdle(): boolean {
    return this.#waiting.size === 0 && this.#processing.size === 0;
  }

  #isSettled(): boolean {
    if (!this.#isIdle()) return false;
    for (const t of this.#timers.values()) if (t.retry) return false;
    return true;
  }

  #settleWaiters(): void {
    if (this.#processing.size === 0 && this.#drainWaiters.length > 0) {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const resolve of waiters) resolve();
    }
    if (this.#isIdle() && this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
    if (this.#settledWaiters.length > 0 && this.#isSettled()) {
      const waiters = this.#settledWaiters;
      this.#settledWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}
