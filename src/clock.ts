/**
 * Time, as every part of the operator reads it: one type, injected (client-go's `clock.Clock`,
 * kubebuilder's injected clock), so that a test drives time instead of waiting for it.
 *
 * - `now()` is the wall clock: what is written down or compared with what others wrote (a Lease's
 *   renewTime, a copy's orphaned-since mark, an Event's time, a certificate's validity) and what
 *   grace periods are planned against.
 * - `monotonic()` measures durations (backoff, liveness, deadlines, dedupe windows, how long a
 *   reconcile took): a step of the wall clock (NTP, a resumed VM) must move none of them.
 * - `setTimeout` waits a duration, so it runs on the monotonic clock, as Node's timers do.
 *
 * Each component takes `Pick<Clock, ...>` of what it reads, so its tests fake no more than that.
 */

/** A pending timer. `unref()`: it alone does not keep the process alive (Node's Timeout.unref). */
export interface Timer {
  unref(): void;
}

export interface Clock {
  /** Wall-clock time, ms since the epoch. */
  now(): number;
  /** Monotonic time, ms from any origin: for durations only. */
  monotonic(): number;
  /** Runs `fn` once after `ms` (at once for ms <= 0). */
  setTimeout(fn: () => void, ms: number): Timer;
  /** Cancels a timer; a timer that has fired or is undefined is ignored. */
  clearTimeout(timer: Timer | undefined): void;
}

/** Largest delay Node's timers accept: beyond it a timer fires after 1 ms. */
const MAX_TIMER_DELAY_MS = 2_147_483_647;

/** Date.now, performance.now and Node's timers. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (fn: () => void, ms: number): Timer => setTimeout(fn, Math.min(Math.max(ms, 0), MAX_TIMER_DELAY_MS)),
  clearTimeout: (timer: Timer | undefined): void => clearTimeout(timer as ReturnType<typeof setTimeout> | undefined),
});

/** Resolves after `ms`, or as soon as `signal` aborts. Never rejects. */
export function sleep(clock: Pick<Clock, 'setTimeout' | 'clearTimeout'>, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clock.clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = clock.setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * `p`, or a rejection with `error()` when it has not settled within `ms`. The timer is cleared
 * either way; `p` itself is not cancelled (the caller aborts what it started).
 */
export function deadline<T>(clock: Pick<Clock, 'setTimeout' | 'clearTimeout'>, p: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: Timer | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = clock.setTimeout(() => reject(error()), ms);
  });
  return Promise.race([p, expired]).finally(() => clock.clearTimeout(timer));
}
