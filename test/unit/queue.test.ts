/**
 * The layers under WorkQueue (src/controller/queue.ts, delays.ts, ratelimiter.ts), each on its own.
 * WorkQueue, which puts them together with the handling of results, has test/unit/workqueue.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Delays } from '../../src/controller/delays.js';
import { Queue } from '../../src/controller/queue.js';
import { RateLimiter } from '../../src/controller/ratelimiter.js';
import { FakeClock, settle } from './fake-clock.js';

/** A process function whose runs wait until the test releases them. */
function gated(): { process: (key: string) => Promise<void>; runs: string[]; release(key: string): void; running: Set<string> } {
  const runs: string[] = [];
  const running = new Set<string>();
  const gates = new Map<string, () => void>();
  return {
    runs,
    running,
    process: (key) =>
      new Promise<void>((resolve) => {
        runs.push(key);
        running.add(key);
        gates.set(key, () => (running.delete(key), resolve()));
      }),
    release: (key) => gates.get(key)?.(),
  };
}

describe('Queue', () => {
  it('hands waiting keys out in the order they came, at most `concurrency` at once', async () => {
    const g = gated();
    const q = new Queue(g.process, 2);
    for (const k of ['a', 'b', 'c']) q.add(k);
    await settle();
    assert.deepEqual(g.runs, ['a', 'b']);
    assert.equal(q.length, 1);
    assert.equal(q.processingCount, 2);
    g.release('a');
    await settle();
    assert.deepEqual(g.runs, ['a', 'b', 'c']);
  });

  it('collapses adds of a waiting key, and runs a key added while it runs exactly once more, after', async () => {
    const g = gated();
    const q = new Queue(g.process, 4);
    q.add('a');
    await settle();
    q.add('a');
    q.add('a');
    await settle();
    assert.deepEqual(g.runs, ['a'], 'never twice at once');
    g.release('a');
    await settle();
    assert.deepEqual(g.runs, ['a', 'a']);
    g.release('a');
    await q.idle();
    assert.deepEqual(g.runs, ['a', 'a']);
  });

  it('drain drops waiting keys and dirty re-runs, and resolves when the runs in progress end', async () => {
    const g = gated();
    const q = new Queue(g.process, 1);
    q.add('a');
    q.add('b');
    await settle();
    q.add('a');
    let drained = false;
    const done = q.drain().then(() => (drained = true));
    assert.equal(q.length, 0);
    q.add('c');
    await settle();
    assert.equal(drained, false);
    g.release('a');
    await done;
    assert.deepEqual(g.runs, ['a'], 'nothing more ran');
  });

  it('tells its listeners whenever a run ends', async () => {
    const g = gated();
    const q = new Queue(g.process, 1);
    let changes = 0;
    q.onChange(() => changes++);
    q.add('a');
    await settle();
    g.release('a');
    await q.idle();
    assert.equal(changes, 1);
  });
});

describe('Delays', () => {
  it('keeps one timer per key: an earlier deadline replaces a later one, a later one is dropped', () => {
    const clock = new FakeClock();
    const fired: string[] = [];
    const d = new Delays(clock, (k) => fired.push(k));
    d.add('a', 100, false);
    d.add('a', 300, false);
    d.add('a', 50, false);
    assert.deepEqual(clock.pendingDelays, [50]);
    clock.advance(50);
    assert.deepEqual(fired, ['a']);
  });

  it('knows whether a backoff retry is pending, and clear() cancels everything', () => {
    const clock = new FakeClock();
    const d = new Delays(clock, () => undefined);
    d.add('later', 1000, false);
    assert.equal(d.hasRetry, false);
    d.add('failed', 5, true);
    assert.equal(d.hasRetry, true);
    clock.advance(5);
    assert.equal(d.hasRetry, false, 'a fired retry is no longer pending');
    d.clear();
    assert.deepEqual(clock.pendingDelays, []);
  });
});

describe('RateLimiter', () => {
  it('backs a key off exponentially up to the cap, per key, and forget() starts it again', () => {
    const l = new RateLimiter({ baseDelayMs: 100, maxDelayMs: 500, qps: 0, clock: new FakeClock() });
    assert.deepEqual([1, 2, 3, 4].map(() => l.when('a', new Error())), [100, 200, 400, 500]);
    assert.equal(l.when('b', new Error()), 100, 'per key');
    assert.equal(l.failures('a'), 4);
    l.forget('a');
    assert.equal(l.when('a', new Error()), 100);
  });

  it('takes a token of the overall bucket for every retry: past the burst, retries are spaced at qps', () => {
    const l = new RateLimiter({ baseDelayMs: 5, qps: 10, burst: 2, clock: new FakeClock() });
    assert.deepEqual(['a', 'b', 'c', 'd'].map((k) => l.when(k, new Error())), [5, 5, 100, 200]);
  });

  it("waits at least what the error asks for; an asking function that throws asks for nothing", () => {
    const asked = new RateLimiter({ qps: 0, clock: new FakeClock(), retryAfterMs: () => 1500 });
    assert.equal(asked.when('a', new Error()), 1500);
    const broken = new RateLimiter({ qps: 0, clock: new FakeClock(), retryAfterMs: () => { throw new Error('broken'); } });
    assert.equal(broken.when('a', new Error()), 5);
  });
});
