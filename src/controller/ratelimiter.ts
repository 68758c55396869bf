/**
 * How long a failed key waits before it is retried: client-go's DefaultControllerRateLimiter, the
 * larger of
 * - a per-key exponential backoff (`baseDelayMs` doubling up to `maxDelayMs`; success forgets it),
 * - a token of an overall bucket (`qps` retries a second, `burst` at once), so that a storm of
 *   failures across thousands of keys cannot become a storm of retries,
 * and, as a floor, the delay the error itself asks for (a 429's Retry-After).
 */
import type { Clock } from '../clock.js';
import { TokenBucket } from '../kube/ratelimit.js';

export interface RateLimiterOptions {
  /** Backoff after the first failure of a key, in ms. Default 5. */
  baseDelayMs?: number;
  /** Upper bound of the per-key backoff, in ms. Default 300 000 (5 minutes). */
  maxDelayMs?: number;
  /** The overall bucket: retries a second (<= 0 turns it off) and at once. Defaults 10 and 100 (client-go's). */
  qps?: number;
  burst?: number;
  /** The least delay an error asks for, in ms; undefined for none. A throw counts as none. */
  retryAfterMs?: (err: unknown) => number | undefined;
  clock?: Pick<Clock, 'monotonic' | 'setTimeout' | 'clearTimeout'>;
}

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a finite number >= 0, got ${String(value)}`);
  return value;
}

export class RateLimiter {
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #bucket: TokenBucket;
  readonly #retryAfterMs: (err: unknown) => number | undefined;
  /** Consecutive failures per key. */
  readonly #failures = new Map<string, number>();

  /** @throws RangeError if a delay is negative or not finite. */
  constructor(o: RateLimiterOptions = {}) {
    this.#baseDelayMs = nonNegative('baseDelayMs', o.baseDelayMs ?? 5);
    this.#maxDelayMs = nonNegative('maxDelayMs', o.maxDelayMs ?? 300_000);
    this.#bucket = new TokenBucket(o.qps ?? 10, o.burst ?? 100, o.clock);
    this.#retryAfterMs = o.retryAfterMs ?? (() => undefined);
  }

  /** Counts a failure of `key` and returns how long to wait before retrying it. */
  when(key: string, err: unknown): number {
    const failures = this.failures(key);
    this.#failures.set(key, failures + 1);
    const perKey = Math.min(this.#baseDelayMs * 2 ** failures, this.#maxDelayMs);
    return Math.max(perKey, this.#bucket.reserve(), this.#asked(err));
  }

  /** Consecutive failures of `key` (0 after forget). */
  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** Forgets the failures of `key`: its next failure backs off from the base delay. */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  #asked(err: unknown): number {
    try {
      return this.#retryAfterMs(err) ?? 0;
    } catch {
      return 0;
    }
  }
}
