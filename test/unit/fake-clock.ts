/** The one fake of src/clock.ts's Clock for unit tests. Not a test file itself. */
import type { Clock, Timer } from '../../src/clock.js';

interface FakeTimer extends Timer {
  at: number;
  ms: number;
  fn: () => void;
}

/**
 * Time that moves only when the test says so: timers fire from advance() and
 * advanceAndSettle(), never on their own. The monotonic time is `t`; the wall clock is `t`
 * plus `wallStep`, so a test can step the wall clock (NTP, a resumed VM) and leave durations alone.
 */
export class FakeClock implements Clock {
  t: number;
  wallStep = 0;
  readonly #timers = new Set<FakeTimer>();

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t + this.wallStep;
  }

  monotonic(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const timer: FakeTimer = { at: this.t + Math.max(0, ms), ms, fn, unref: () => undefined };
    this.#timers.add(timer);
    return timer;
  }

  clearTimeout(timer: Timer | undefined): void {
    this.#timers.delete(timer as FakeTimer);
  }

  /** Requested delays of the timers still pending, in creation order. */
  get pendingDelays(): number[] {
    return [...this.#timers].map((t) => t.ms);
  }

  /** Moves time forward without firing timers (work that takes time). */
  tick(ms: number): void {
    this.t += ms;
  }

  /** Moves time forward by `ms`, firing due timers synchronously, in deadline order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (let due = this.#next(end); due; due = this.#next(end)) this.#fire(due);
    this.t = end;
  }

  /** As advance(), letting promises settle before each timer fires and at the end. */
  async advanceAndSettle(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const due = this.#next(end);
      if (!due) break;
      this.#fire(due);
    }
    this.t = end;
    await settle();
  }

  #next(end: number): FakeTimer | undefined {
    let next: FakeTimer | undefined;
    for (const t of this.#timers) if (t.at <= end && (next === undefined || t.at < next.at)) next = t;
    return next;
  }

  #fire(t: FakeTimer): void {
    this.#timers.delete(t);
    this.t = Math.max(this.t, t.at);
    t.fn();
  }
}

/** Lets pending promise callbacks run (a few turns of the event loop). */
export async function settle(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}
