/**
 * When the credential check runs, and how often it may. Pure: the clock and randomness are passed in.
 */
import type { CheckResult } from './check.js';

/** After an unreachable result the check comes back sooner: 30 s, doubling, up to the interval. */
export const UNREACHABLE_RETRY_MS = 30_000;
/** Jitter: each delay is drawn from [0.9, 1.1) times its nominal value, so that hosts spread out. */
export const JITTER = 0.1;

/**
 * How long after a check of `result` the next one is due. `failures`: unreachable results in a
 * row, this one included; `random` in [0, 1).
 */
export function nextCheckDelay(result: CheckResult, failures: number, intervalMs: number, random: number): number {
  const nominal = result === 'unreachable' ? Math.min(intervalMs, UNREACHABLE_RETRY_MS * 2 ** Math.max(0, Math.min(failures - 1, 20))) : intervalMs;
  return Math.round(nominal * (1 - JITTER + 2 * JITTER * random));
}

/**
 * A token bucket of checks: `perMinute` checks a minute, `burst` at once. `take` spends a token
 * when one is there; `waitMs` says when the next will be.
 */
export class CheckBudget {
  readonly perMinute: number;
  readonly burst: number;
  #tokens: number;
  #at: number;

  constructor(perMinute: number, burst: number, now: number) {
    this.perMinute = perMinute;
    this.burst = Math.max(1, burst);
    this.#tokens = this.burst;
    this.#at = now;
  }

  #refill(now: number): void {
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) / 60_000) * this.perMinute);
    this.#at = now;
  }

  take(now: number): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** ms until a token is there (0: now). */
  waitMs(now: number): number {
    this.#refill(now);
    return this.#tokens >= 1 ? 0 : Math.ceil(((1 - this.#tokens) / this.perMinute) * 60_000);
  }
}
