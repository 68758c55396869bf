/**
 * The delaying layer of client-go's workqueue: a key added after a delay. At most one timer per
 * key: a later deadline for a key that already has one is dropped, an earlier one replaces it.
 * A timer remembers whether it is a backoff retry, so that `settled()` (what --once waits for)
 * can tell a key in backoff from one that asked to be looked at again later.
 */
import type { Clock, Timer } from '../clock.js';

interface Pending {
  readyAt: number;
  timer: Timer;
  retry: boolean;
}

export class Delays {
  readonly #clock: Pick<Clock, 'monotonic' | 'setTimeout' | 'clearTimeout'>;
  readonly #fire: (key: string) => void;
  readonly #pending = new Map<string, Pending>();

  /** `fire(key)` runs when a key's delay is over. */
  constructor(clock: Pick<Clock, 'monotonic' | 'setTimeout' | 'clearTimeout'>, fire: (key: string) => void) {
    this.#clock = clock;
    this.#fire = fire;
  }

  /** Schedules `key` in `ms` (> 0); the earlier of this and a pending deadline wins. */
  add(key: string, ms: number, retry: boolean): void {
    const readyAt = this.#clock.monotonic() + ms;
    const existing = this.#pending.get(key);
    if (existing !== undefined) {
      if (existing.readyAt <= readyAt) return;
      this.#clock.clearTimeout(existing.timer);
    }
    const pending: Pending = { readyAt, retry, timer: this.#clock.setTimeout(() => {
      if (this.#pending.get(key) === pending) this.#pending.delete(key);
      this.#fire(key);
    }, ms) };
    this.#pending.set(key, pending);
  }

  /** Whether some key waits out a backoff retry. */
  get hasRetry(): boolean {
    for (const p of this.#pending.values()) if (p.retry) return true;
    return false;
  }

  /** Cancels every pending delay. */
  clear(): void {
    for (const p of this.#pending.values()) this.#clock.clearTimeout(p.timer);
    this.#pending.clear();
  }
}
