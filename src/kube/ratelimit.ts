/**
 * A token bucket (golang.org/x/time/rate's Limiter, as client-go uses it): `qps` tokens a second,
 * at most `burst` saved up. A caller reserves a token and learns how long to wait for it; tokens
 * may go negative, so waiters are served in the order they reserved and none starves.
 *
 * Pure: the clock is injected, and nothing here sleeps except take().
 */
import { type Clock, sleep, systemClock } from '../clock.js';

export class TokenBucket {
  readonly qps: number;
  readonly burst: number;
  #clock: Pick<Clock, 'monotonic' | 'setTimeout' | 'clearTimeout'>;
  #tokens: number;
  #at: number;

  /**
   * `qps` <= 0 means no limit. It reads the monotonic clock, as golang.org/x/time/rate does: a step
   * of the wall clock must neither park every request for hours nor lift the limit.
   */
  constructor(qps: number, burst: number, clock: Pick<Clock, 'monotonic' | 'setTimeout' | 'clearTimeout'> = systemClock) {
    this.qps = qps;
    this.burst = Math.max(1, burst);
    this.#clock = clock;
    this.#tokens = this.burst;
    this.#at = clock.monotonic();
  }

  get unlimited(): boolean {
    return !(this.qps > 0);
  }

  /** Takes a token and returns how many ms the caller must wait before using it (0: at once). */
  reserve(): number {
    if (this.unlimited) return 0;
    const now = this.#clock.monotonic();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) / 1000) * this.qps);
    this.#at = now;
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens / this.qps) * 1000);
  }

  /** Resolves when the caller may go on. */
  take(): Promise<void> {
    const ms = this.reserve();
    return ms === 0 ? Promise.resolve() : sleep(this.#clock, ms);
  }
}

/**
 * The delay a Retry-After header asks for, in ms: delta-seconds or an HTTP date. Undefined when
 * absent or unreadable. Capped, so that a broken header cannot park a caller for hours.
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number, capMs = 60_000): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  let ms: number;
  if (/^\d+$/.test(v.trim())) ms = Number(v.trim()) * 1000;
  else {
    const at = Date.parse(v);
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  return Math.min(capMs, Math.max(0, ms));
}
