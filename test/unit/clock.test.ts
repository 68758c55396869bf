import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deadline, sleep, systemClock } from '../../src/clock.js';
import { FakeClock, settle } from './fake-clock.js';

describe('Clock', () => {
  it('systemClock reads Date.now as the wall clock and performance.now as the monotonic one, and runs real timers', async () => {
    const wall = Date.now();
    const mono = performance.now();
    assert.ok(Math.abs(systemClock.now() - wall) < 1000);
    assert.ok(systemClock.monotonic() >= mono && systemClock.monotonic() < mono + 60_000);
    let fired = false;
    const cancelled = systemClock.setTimeout(() => (fired = true), 1);
    systemClock.clearTimeout(cancelled);
    await new Promise<void>((resolve) => systemClock.setTimeout(resolve, 5));
    assert.equal(fired, false, 'a cleared timer does not fire');
  });

  it('sleep ends after its time, or at once when its signal aborts', async () => {
    const clock = new FakeClock();
    let slept = false;
    void sleep(clock, 100).then(() => (slept = true));
    await clock.advanceAndSettle(99);
    assert.equal(slept, false);
    await clock.advanceAndSettle(1);
    assert.equal(slept, true);
    const abort = new AbortController();
    let woken = false;
    void sleep(clock, 1_000_000, abort.signal).then(() => (woken = true));
    abort.abort();
    await settle();
    assert.equal(woken, true);
    assert.deepEqual(clock.pendingDelays, [], 'its timer is cleared');
  });

  it('deadline rejects a promise that has not settled in time, and clears its timer when it has', async () => {
    const clock = new FakeClock();
    const late = deadline(clock, new Promise(() => undefined), 50, () => new Error('too late'));
    clock.advance(50);
    await assert.rejects(late, /too late/);
    assert.equal(await deadline(clock, Promise.resolve('ok'), 50, () => new Error('too late')), 'ok');
    assert.deepEqual(clock.pendingDelays, []);
  });

  it('a wall-clock step moves now() and neither monotonic() nor timers', () => {
    const clock = new FakeClock(1000);
    let fired = false;
    clock.setTimeout(() => (fired = true), 10);
    clock.wallStep = 3_600_000;
    assert.equal(clock.now(), 3_601_000);
    assert.equal(clock.monotonic(), 1000);
    assert.equal(fired, false);
  });
});
