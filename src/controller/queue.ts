/**
 * The queue of client-go's `util/workqueue` (its `Type`): keys that need processing, handed to at
 * most `concurrency` workers at once, and never the same key to two workers at once.
 *
 * - `dirty`: every key that needs processing: the waiting ones, and processing ones added again.
 * - `processing`: the keys a worker has now. A key added while it is processed is only marked
 *   dirty; it is queued again when its run ends, so it runs exactly once more.
 * - `waiting`: the dirty keys that are not processing, in the order they came (client-go's
 *   `queue`). p-queue limits the concurrency only: each of its tasks takes the next waiting key,
 *   so what waits is known in one place.
 *
 * Delays, backoff and what a run's result means are the layers above (delays.ts, ratelimiter.ts,
 * workqueue.ts).
 */
import PQueue from 'p-queue';

/** Processes one key; must not reject (the layer above turns failures into results). */
export type Process = (key: string) => Promise<void>;

export class Queue {
  readonly #process: Process;
  readonly #pqueue: PQueue;
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #waiting = new Set<string>();
  readonly #listeners: (() => void)[] = [];
  #idleWaiters: (() => void)[] = [];
  #drainWaiters: (() => void)[] = [];
  #shuttingDown = false;

  /** @throws RangeError if `concurrency` is not an integer >= 1. */
  constructor(process: Process, concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be an integer >= 1, got ${String(concurrency)}`);
    this.#process = process;
    this.#pqueue = new PQueue({ concurrency });
  }

  /** Marks `key` as needing processing; nothing when it already waits or the queue shuts down. */
  add(key: string): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    if (!this.#processing.has(key)) this.#enqueue(key);
  }

  /** Keys waiting (not those being processed). */
  get length(): number {
    return this.#waiting.size;
  }

  get processingCount(): number {
    return this.#processing.size;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Whether no key waits and none is being processed. */
  get isIdle(): boolean {
    return this.#waiting.size === 0 && this.#processing.size === 0;
  }

  /** Called whenever a run ends or the queue shuts down (the layer above re-checks its waiters). */
  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** Stops intake and drops the waiting keys; runs in progress finish, and are not run again. Idempotent. */
  shutDown(): void {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    this.#pqueue.clear();
    for (const key of this.#waiting) this.#dirty.delete(key);
    this.#waiting.clear();
    this.#changed();
  }

  /** Shuts down and resolves once no run is in progress (client-go's ShutDownWithDrain). */
  drain(): Promise<void> {
    this.shutDown();
    if (this.#processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** Resolves when no key waits and none is being processed. */
  idle(): Promise<void> {
    if (this.isIdle) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #enqueue(key: string): void {
    this.#waiting.add(key);
    // #runNext never rejects; the catch is a safety net against unhandled rejections.
    this.#pqueue.add(() => this.#runNext()).catch(() => undefined);
  }

  async #runNext(): Promise<void> {
    const key = this.#waiting.values().next().value;
    if (key === undefined) return; // dropped by shutDown() after p-queue started the task
    this.#waiting.delete(key);
    this.#dirty.delete(key);
    this.#processing.add(key);
    try {
      await this.#process(key);
    } finally {
      this.#processing.delete(key);
      if (this.#dirty.has(key)) {
        if (this.#shuttingDown) this.#dirty.delete(key);
        else this.#enqueue(key);
      }
      this.#changed();
    }
  }

  #changed(): void {
    if (this.#processing.size === 0) for (const resolve of this.#drainWaiters.splice(0)) resolve();
    if (this.isIdle) for (const resolve of this.#idleWaiters.splice(0)) resolve();
    for (const l of this.#listeners) l();
  }
}
