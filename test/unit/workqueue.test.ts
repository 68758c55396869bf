import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';

import { FakeClock } from './fake-clock.js';
import {
  WorkQueue,
  type ReconcileResult,
  type Worker,
  type WorkQueueEvent,
  type WorkQueueOptions,
} from '../../src/controller/workqueue.js';

// ---------------------------------------------------------------------------
// Test helpers
// ---------------------------------------------------------------------------

const macrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Lets pending promise callbacks and p-queue scheduling run. */
async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await macrotask();
}

async function waitFor(predicate: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (predicate()) return;
    await macrotask();
  }
  assert.fail(`timed out waiting for: ${what}`);
}

type Outcome = ReconcileResult | Error;

/** Worker whose runs block until the test releases them; tracks concurrency. */
class ControlledWorker {
  readonly runs: string[] = [];
  readonly #active = new Map<string, number>();
  readonly maxActivePerKey = new Map<string, number>();
  activeTotal = 0;
  maxActiveTotal = 0;
  readonly #pending = new Map<string, Array<(o: Outcome) => void>>();

  readonly worker: Worker = async (key) => {
    this.runs.push(key);
    const active = (this.#active.get(key) ?? 0) + 1;
    this.#active.set(key, active);
    this.maxActivePerKey.set(key, Math.max(this.maxActivePerKey.get(key) ?? 0, active));
    this.activeTotal++;
    this.maxActiveTotal = Math.max(this.maxActiveTotal, this.activeTotal);
    try {
      const outcome = await new Promise<Outcome>((resolve) => {
        const list = this.#pending.get(key) ?? [];
        list.push(resolve);
        this.#pending.set(key, list);
      });
      if (outcome instanceof Error) throw outcome;
      return outcome;
    } finally {
      this.#active.set(key, (this.#active.get(key) ?? 1) - 1);
      this.activeTotal--;
    }
  };

  isBlocked(key: string): boolean {
    return (this.#pending.get(key)?.length ?? 0) > 0;
  }

  blockedKeys(): string[] {
    return [...this.#pending].filter(([, list]) => list.length > 0).map(([key]) => key);
  }

  release(key: string, outcome: Outcome = undefined): void {
    const resolve = this.#pending.get(key)?.shift();
    assert.ok(resolve, `no run of ${key} is blocked`);
    resolve(outcome);
  }

  runCount(key: string): number {
    return this.runs.filter((k) => k === key).length;
  }
}

/** Worker that plays back a script of outcomes immediately; `undefined` = success. */
function scriptedWorker(script: Outcome[]): { worker: Worker; runs: () => number } {
  let runs = 0;
  return {
    runs: () => runs,
    worker: async () => {
      const outcome = script[runs++];
      if (outcome instanceof Error) throw outcome;
      return outcome;
    },
  };
}

function makeQueue(worker: Worker, options: Partial<WorkQueueOptions> = {}) {
  const clock = new FakeClock();
  const events: WorkQueueEvent[] = [];
  const queue = new WorkQueue(worker, {
    concurrency: 1,
    clock,
    onEvent: (e) => events.push(e),
    ...options,
  });
  return { queue, clock, events };
}

// Fails the suite if anything in the queue lets a rejection go unhandled.
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
process.on('unhandledRejection', onUnhandled);
after(() => {
  process.off('unhandledRejection', onUnhandled);
  assert.deepEqual(unhandled, [], 'no promise rejection may go unhandled');
});

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

describe('WorkQueue deduplication', () => {
  const cases: Array<{ name: string; adds: string[]; expectedRuns: Record<string, number> }> = [
    { name: 'the same key added twice', adds: ['a', 'a'], expectedRuns: { a: 1 } },
    { name: 'the same key added ten times', adds: Array<string>(10).fill('a'), expectedRuns: { a: 1 } },
    { name: 'two keys interleaved', adds: ['a', 'b', 'a', 'b', 'a'], expectedRuns: { a: 1, b: 1 } },
  ];
  for (const { name, adds, expectedRuns } of cases) {
    it(`collapses repeated adds of a waiting key into one run: ${name}`, async () => {
      const cw = new ControlledWorker();
      const { queue } = makeQueue(cw.worker, { concurrency: 1 });
      queue.add('blocker'); // occupies the only slot so the other keys stay waiting
      await waitFor(() => cw.isBlocked('blocker'), 'blocker running');

      for (const key of adds) queue.add(key);
      assert.equal(queue.length, Object.keys(expectedRuns).length);

      cw.release('blocker');
      for (const key of Object.keys(expectedRuns)) {
        await waitFor(() => cw.isBlocked(key), `${key} running`);
        cw.release(key);
      }
      await queue.idle();
      for (const [key, count] of Object.entries(expectedRuns)) {
        assert.equal(cw.runCount(key), count, `runs of ${key}`);
      }
    });
  }

  it('runs a key added during its processing exactly once more afterwards, never concurrently (concurrency 4)', async () => {
    const cw = new ControlledWorker();
    const { queue } = makeQueue(cw.worker, { concurrency: 4 });
    queue.add('a');
    await waitFor(() => cw.isBlocked('a'), 'first run of a');

    queue.add('a');
    queue.add('a');
    queue.add('a');
    assert.equal(queue.length, 0, 'a dirty key being processed is not waiting');
    assert.equal(queue.processingCount, 1);
    await settle();
    assert.equal(cw.runCount('a'), 1, 'no second run while the first is in flight');

    cw.release('a');
    await waitFor(() => cw.isBlocked('a'), 'second run of a');
    assert.equal(cw.runCount('a'), 2);
    cw.release('a');
    await queue.idle();

    assert.equal(cw.runCount('a'), 2);
    assert.equal(cw.maxActivePerKey.get('a'), 1);
  });

  it('never works on a key twice at once and never loses an add under random load (concurrency 4)', async () => {
    // Deterministic PRNG (mulberry32) so failures are reproducible.
    let seed = 0x5eed;
    const random = (): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'];
    let seq = 0;
    const lastAdd = new Map<string, number>();
    const lastRunStart = new Map<string, number>();
    const active = new Map<string, number>();
    let maxActivePerKey = 0;
    let maxActiveTotal = 0;
    let activeTotal = 0;

    const queue = new WorkQueue(
      async (key) => {
        lastRunStart.set(key, ++seq);
        active.set(key, (active.get(key) ?? 0) + 1);
        activeTotal++;
        maxActivePerKey = Math.max(maxActivePerKey, active.get(key) ?? 0);
        maxActiveTotal = Math.max(maxActiveTotal, activeTotal);
        const yields = Math.floor(random() * 4);
        for (let i = 0; i < yields; i++) await macrotask();
        active.set(key, (active.get(key) ?? 1) - 1);
        activeTotal--;
      },
      { concurrency: 4, clock: new FakeClock() },
    );

    for (let i = 0; i < 400; i++) {
      const key = keys[Math.floor(random() * keys.length)] ?? 'k0';
      lastAdd.set(key, ++seq);
      queue.add(key);
      if (random() < 0.3) await macrotask();
    }
    await queue.idle();

    assert.equal(maxActivePerKey, 1, 'a key ran concurrently with itself');
    assert.ok(maxActiveTotal <= 4, `concurrency limit exceeded: ${maxActiveTotal}`);
    for (const [key, added] of lastAdd) {
      const started = lastRunStart.get(key) ?? 0;
      assert.ok(started > added, `${key} was added at ${added} but its last run started at ${started}`);
    }
  });
});

describe('WorkQueue concurrency', () => {
  for (const concurrency of [1, 2, 4]) {
    it(`runs different keys in parallel up to the limit (concurrency ${concurrency})`, async () => {
      const cw = new ControlledWorker();
      const { queue } = makeQueue(cw.worker, { concurrency });
      const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
      for (const key of keys) queue.add(key);

      await waitFor(() => cw.activeTotal === concurrency, `${concurrency} keys running`);
      await settle();
      assert.equal(cw.activeTotal, concurrency, 'no more than the limit start');
      assert.equal(queue.processingCount, concurrency);
      assert.equal(queue.length, keys.length - concurrency);

      while (cw.runs.length < keys.length || cw.activeTotal > 0) {
        await waitFor(() => cw.blockedKeys().length > 0, 'a blocked run');
        const [key] = cw.blockedKeys();
        assert.ok(key !== undefined);
        cw.release(key);
        await settle(1);
      }
      await queue.idle();

      assert.deepEqual([...cw.runs].sort(), keys);
      assert.equal(cw.maxActiveTotal, concurrency);
      assert.equal(queue.processingCount, 0);
      assert.equal(queue.length, 0);
    });
  }
});

describe('WorkQueue backoff', () => {
  const cases: Array<{ name: string; options: Partial<WorkQueueOptions>; expectedDelays: number[] }> = [
    { name: 'defaults double from 5 ms', options: {}, expectedDelays: [5, 10, 20, 40, 80, 160, 320] },
    {
      name: 'custom base doubles and caps at maxDelayMs',
      options: { baseDelayMs: 100, maxDelayMs: 1000 },
      expectedDelays: [100, 200, 400, 800, 1000, 1000, 1000],
    },
    { name: 'default base caps at 30 ms', options: { maxDelayMs: 30 }, expectedDelays: [5, 10, 20, 30, 30] },
    { name: 'base above the cap is capped from the start', options: { baseDelayMs: 50, maxDelayMs: 30 }, expectedDelays: [30, 30] },
  ];
  for (const { name, options, expectedDelays } of cases) {
    it(`retries a failing key with exponential backoff: ${name}`, async () => {
      const { worker, runs } = scriptedWorker([...expectedDelays, 0].map(() => new Error('boom')));
      const { queue, clock, events } = makeQueue(worker, options);
      queue.add('a');

      for (const [i, delay] of expectedDelays.entries()) {
        await queue.idle();
        assert.equal(runs(), i + 1);
        assert.deepEqual(clock.pendingDelays, [delay], `backoff after failure ${i + 1}`);
        assert.equal(queue.numRequeues('a'), i + 1);
        assert.equal(queue.retriesTotal, i + 1);

        clock.advance(delay - 1);
        await queue.idle();
        assert.equal(runs(), i + 1, 'not retried before the backoff expires');
        clock.advance(1);
      }
      await queue.idle();
      assert.equal(
        events.filter((e) => e.type === 'error').length,
        expectedDelays.length + 1,
        'every failed run is reported',
      );
      queue.shutDown();
    });
  }

  it('resets the failure count on success so the next failure backs off from the base delay', async () => {
    const { worker, runs } = scriptedWorker([new Error('1'), new Error('2'), undefined, new Error('3')]);
    const { queue, clock, events } = makeQueue(worker);
    queue.add('a');
    await queue.idle();
    clock.advance(5);
    await queue.idle();
    assert.equal(queue.numRequeues('a'), 2);
    clock.advance(10);
    await queue.idle();

    assert.equal(runs(), 3);
    assert.equal(queue.numRequeues('a'), 0, 'success forgets the failures');
    assert.deepEqual(clock.pendingDelays, [], 'success schedules nothing');
    assert.equal(events.at(-1)?.type, 'done');

    queue.add('a');
    await queue.idle();
    assert.deepEqual(clock.pendingDelays, [5], 'backoff restarts at the base delay');
    assert.equal(queue.numRequeues('a'), 1);
    assert.equal(queue.retriesTotal, 3);
  });

  it('keeps failure counts per key', async () => {
    const worker: Worker = async (key) => {
      if (key === 'bad') throw new Error('bad');
    };
    const { queue, clock } = makeQueue(worker);
    queue.add('bad');
    await queue.idle();
    clock.advance(5);
    await queue.idle();
    queue.add('good');
    await queue.idle();
    assert.equal(queue.numRequeues('bad'), 2);
    assert.equal(queue.numRequeues('good'), 0);
    queue.shutDown();
  });

  it('handles a worker that throws synchronously like a rejection', async () => {
    const worker: Worker = () => {
      throw new Error('sync');
    };
    const { queue, clock, events } = makeQueue(worker);
    queue.add('a');
    await queue.idle();
    assert.deepEqual(clock.pendingDelays, [5]);
    assert.equal(events[0]?.type, 'error');
    queue.shutDown();
  });
});

describe('WorkQueue requeueAfter and addAfter', () => {
  it('re-adds the key after requeueAfterMs and forgets its failure count', async () => {
    const { worker, runs } = scriptedWorker([new Error('flaky'), { requeueAfterMs: 1000 }, undefined]);
    const { queue, clock, events } = makeQueue(worker);
    queue.add('a');
    await queue.idle();
    assert.equal(queue.numRequeues('a'), 1);
    clock.advance(5);
    await queue.idle();

    assert.equal(runs(), 2);
    assert.equal(queue.numRequeues('a'), 0, 'requeueAfter forgets the failures');
    assert.deepEqual(clock.pendingDelays, [1000]);
    assert.equal(queue.retriesTotal, 1, 'requeueAfter is not a backoff retry');

    clock.advance(999);
    await queue.idle();
    assert.equal(runs(), 2, 'not re-run before the delay');
    clock.advance(1);
    await queue.idle();
    assert.equal(runs(), 3);
    assert.deepEqual(
      events.map((e) => e.type),
      ['error', 'requeue', 'done'],
    );
  });

  it('runs the key again right after the current run when requeueAfterMs is 0', async () => {
    const { worker, runs } = scriptedWorker([{ requeueAfterMs: 0 }, undefined]);
    const { queue, clock } = makeQueue(worker);
    queue.add('a');
    await waitFor(() => runs() === 2, 'second run');
    await queue.idle();
    assert.equal(runs(), 2);
    assert.deepEqual(clock.pendingDelays, []);
  });

  it('treats an empty result object as plain success', async () => {
    const { worker } = scriptedWorker([{}]);
    const { queue, clock, events } = makeQueue(worker);
    queue.add('a');
    await queue.idle();
    assert.deepEqual(clock.pendingDelays, []);
    assert.equal(events[0]?.type, 'done');
  });

  const addAfterCases: Array<{ name: string; delays: number[]; expectedDelay: number }> = [
    { name: 'a shorter later delay replaces a longer one', delays: [100, 50, 200], expectedDelay: 50 },
    { name: 'an equal delay keeps the first timer', delays: [30, 30], expectedDelay: 30 },
    { name: 'a longer later delay is ignored', delays: [10, 500], expectedDelay: 10 },
  ];
  for (const { name, delays, expectedDelay } of addAfterCases) {
    it(`keeps one timer per key in addAfter and the earliest deadline wins: ${name}`, async () => {
      const { worker, runs } = scriptedWorker([]);
      const { queue, clock } = makeQueue(worker);
      for (const ms of delays) queue.addAfter('a', ms);
      assert.equal(clock.pendingDelays.length, 1);
      assert.equal(queue.length, 0, 'delayed keys are not waiting yet');

      clock.advance(expectedDelay - 1);
      await queue.idle();
      assert.equal(runs(), 0);
      clock.advance(1);
      await queue.idle();
      assert.equal(runs(), 1);

      clock.advance(10_000);
      await queue.idle();
      assert.equal(runs(), 1, 'replaced timers never fire');
      assert.deepEqual(clock.pendingDelays, []);
    });
  }

  it('keeps separate addAfter timers for different keys', async () => {
    const seen: string[] = [];
    const { queue, clock } = makeQueue(async (key) => {
      seen.push(key);
    });
    queue.addAfter('a', 20);
    queue.addAfter('b', 10);
    assert.equal(clock.pendingDelays.length, 2);
    clock.advance(10);
    await queue.idle();
    assert.deepEqual(seen, ['b']);
    clock.advance(10);
    await queue.idle();
    assert.deepEqual(seen, ['b', 'a']);
  });

  for (const ms of [0, -5]) {
    it(`adds immediately when addAfter is given ${ms} ms`, async () => {
      const { worker, runs } = scriptedWorker([]);
      const { queue, clock } = makeQueue(worker);
      queue.addAfter('a', ms);
      assert.deepEqual(clock.pendingDelays, []);
      await queue.idle();
      assert.equal(runs(), 1);
    });
  }
});

describe('WorkQueue shutdown', () => {
  it('drain waits for in-flight work, drops waiting keys, dirty re-runs and timers', async () => {
    const cw = new ControlledWorker();
    const { queue, clock } = makeQueue(cw.worker, { concurrency: 1 });
    queue.add('a');
    await waitFor(() => cw.isBlocked('a'), 'a running');
    queue.add('b');
    queue.add('c');
    queue.add('a'); // dirty while processing
    queue.addAfter('d', 100);
    assert.equal(queue.length, 2);

    let drained = false;
    const drainPromise = queue.drain().then(() => {
      drained = true;
    });
    assert.equal(queue.length, 0, 'waiting keys dropped');
    assert.deepEqual(clock.pendingDelays, [], 'pending timers cleared');
    await settle();
    assert.equal(drained, false, 'drain waits for the in-flight run');
    assert.equal(queue.processingCount, 1);

    cw.release('a');
    await drainPromise;
    assert.equal(queue.processingCount, 0);

    clock.advance(1000);
    await settle();
    assert.deepEqual(cw.runs, ['a'], 'nothing runs after shutdown');
    await queue.idle();
  });

  it('drain resolves at once when nothing is in flight', async () => {
    const { queue } = makeQueue(async () => undefined);
    await queue.drain();
    assert.equal(queue.shuttingDown, true);
  });

  it('shutDown followed by drain waits for all in-flight keys (concurrency 3)', async () => {
    const cw = new ControlledWorker();
    const { queue } = makeQueue(cw.worker, { concurrency: 3 });
    for (const key of ['a', 'b', 'c', 'd']) queue.add(key);
    await waitFor(() => cw.activeTotal === 3, 'three running');
    queue.shutDown();
    let drained = false;
    const drainPromise = queue.drain().then(() => {
      drained = true;
    });
    cw.release('a');
    cw.release('b');
    await settle();
    assert.equal(drained, false);
    cw.release('c');
    await drainPromise;
    assert.deepEqual([...cw.runs].sort(), ['a', 'b', 'c'], 'the waiting key d was dropped');
  });

  it('does not retry or requeue work that finishes during shutdown', async () => {
    const cw = new ControlledWorker();
    const { queue, clock } = makeQueue(cw.worker, { concurrency: 2 });
    queue.add('fails');
    queue.add('requeues');
    await waitFor(() => cw.activeTotal === 2, 'both running');
    const drainPromise = queue.drain();
    cw.release('fails', new Error('boom'));
    cw.release('requeues', { requeueAfterMs: 10 });
    await drainPromise;
    assert.deepEqual(clock.pendingDelays, []);
    assert.equal(queue.retriesTotal, 0);
  });

  const ignoredAdds: Array<{ name: string; act: (q: WorkQueue) => void }> = [
    { name: 'add', act: (q) => q.add('a') },
    { name: 'addAfter with a delay', act: (q) => q.addAfter('a', 50) },
    { name: 'addAfter with zero delay', act: (q) => q.addAfter('a', 0) },
  ];
  for (const { name, act } of ignoredAdds) {
    it(`ignores ${name} after shutdown`, async () => {
      const { worker, runs } = scriptedWorker([]);
      const { queue, clock } = makeQueue(worker);
      queue.shutDown();
      act(queue);
      assert.equal(queue.length, 0);
      assert.deepEqual(clock.pendingDelays, []);
      clock.advance(1000);
      await settle();
      await queue.idle();
      assert.equal(runs(), 0);
    });
  }
});

describe('WorkQueue idle, events and options', () => {
  it('idle resolves at once on an empty queue', async () => {
    const { queue } = makeQueue(async () => undefined);
    await queue.idle();
  });

  it('idle waits for the dirty re-run of a key added during processing', async () => {
    const cw = new ControlledWorker();
    const { queue } = makeQueue(cw.worker, { concurrency: 2 });
    queue.add('a');
    await waitFor(() => cw.isBlocked('a'), 'a running');
    queue.add('a');
    let idle = false;
    const idlePromise = queue.idle().then(() => {
      idle = true;
    });
    cw.release('a');
    await waitFor(() => cw.isBlocked('a'), 'second run');
    assert.equal(idle, false, 'not idle between the two runs');
    cw.release('a');
    await idlePromise;
    assert.equal(cw.runCount('a'), 2);
  });

  it('reports run durations measured with the injected clock', async () => {
    const clock = new FakeClock();
    const events: WorkQueueEvent[] = [];
    const queue = new WorkQueue(
      async (key) => {
        clock.tick(7);
        if (key === 'bad') throw new Error('bad');
      },
      { concurrency: 1, clock, onEvent: (e) => events.push(e) },
    );
    queue.add('good');
    queue.add('bad');
    await queue.idle();
    assert.deepEqual(
      events.map(({ type, key, durationMs }) => ({ type, key, durationMs })),
      [
        { type: 'done', key: 'good', durationMs: 7 },
        { type: 'error', key: 'bad', durationMs: 7 },
      ],
    );
    assert.ok(events[1]?.error instanceof Error);
    queue.shutDown();
  });

  it('keeps working when the onEvent hook throws', async () => {
    const { worker, runs } = scriptedWorker([undefined, undefined]);
    const { queue } = makeQueue(worker, {
      onEvent: () => {
        throw new Error('hook broke');
      },
    });
    queue.add('a');
    await queue.idle();
    queue.add('a');
    await queue.idle();
    assert.equal(runs(), 2);
    assert.equal(queue.processingCount, 0);
  });

  const invalidOptions: Array<{ name: string; options: WorkQueueOptions }> = [
    { name: 'concurrency 0', options: { concurrency: 0 } },
    { name: 'fractional concurrency', options: { concurrency: 1.5 } },
    { name: 'NaN concurrency', options: { concurrency: Number.NaN } },
    { name: 'negative baseDelayMs', options: { concurrency: 1, baseDelayMs: -1 } },
    { name: 'infinite maxDelayMs', options: { concurrency: 1, maxDelayMs: Number.POSITIVE_INFINITY } },
  ];
  for (const { name, options } of invalidOptions) {
    it(`rejects ${name} in the constructor`, () => {
      assert.throws(() => new WorkQueue(async () => undefined, options), RangeError);
    });
  }
});

describe('WorkQueue rate limiting of retries (issue 8)', () => {
  it('draws every retry from an overall bucket: past its burst, retries are spaced at retryQps', async () => {
    // 5 keys fail at once; a bucket of 2 at once and 10 a second lets 2 retry after the per-key
    // 5 ms, and the others 100 ms apart.
    const { queue, clock } = makeQueue(async () => Promise.reject(new Error('boom')), { concurrency: 5, retryQps: 10, retryBurst: 2 });
    for (const k of ['a', 'b', 'c', 'd', 'e']) queue.add(k);
    await queue.idle();
    assert.deepEqual([...clock.pendingDelays].sort((x, y) => x - y), [5, 5, 100, 200, 300]);
    queue.shutDown();
  });

  it("waits at least what the error asks for (a 429's Retry-After)", async () => {
    const asked = Object.assign(new Error('429'), { retryAfterMs: 1000 });
    const { queue, clock } = makeQueue(async () => Promise.reject(asked), { retryAfterMs: (e) => (e as { retryAfterMs?: number }).retryAfterMs });
    queue.add('a');
    await queue.idle();
    assert.deepEqual(clock.pendingDelays, [1000]);
    queue.shutDown();
  });

  it('gives a key up after maxRetries consecutive failures, and says so', async () => {
    const { worker, runs } = scriptedWorker([new Error('1'), new Error('2'), new Error('3'), undefined]);
    const { queue, clock, events } = makeQueue(worker, { maxRetries: 3 });
    queue.add('a');
    for (let i = 0; i < 5; i++) {
      await queue.idle();
      clock.advance(1000);
    }
    assert.equal(runs(), 3, 'three attempts, then no more');
    assert.deepEqual(events.map((e) => [e.type, e.gaveUp === true]), [['error', false], ['error', false], ['error', true]]);
    assert.equal(queue.numRequeues('a'), 0);
    queue.shutDown();
  });

  it('settled() waits for keys in backoff, idle() does not; a requeueAfter does not hold settled() back', async () => {
    const { worker } = scriptedWorker([new Error('transient'), undefined, { requeueAfterMs: 60_000 }]);
    const { queue, clock } = makeQueue(worker);
    queue.add('a');
    await queue.idle();
    let settled = false;
    void queue.settled().then(() => (settled = true));
    await settle();
    assert.equal(settled, false, 'a key in backoff is not settled');
    clock.advance(5);
    await waitFor(() => settled, 'settled after the retry succeeded');
    queue.add('a'); // the third run asks to be requeued in a minute
    await queue.idle();
    let again = false;
    void queue.settled().then(() => (again = true));
    await waitFor(() => again, 'settled with only a requeueAfter pending');
    queue.shutDown();
  });
});

describe('WorkQueue events for metrics', () => {
  it('an error event says when the key is retried, and carries no retry when it is given up or the queue shuts down', async () => {
    const cw = new ControlledWorker();
    const { queue, events } = makeQueue(cw.worker, { concurrency: 2, maxRetries: 2 });
    queue.add('a');
    await waitFor(() => cw.isBlocked('a'), 'a running');
    cw.release('a', new Error('first'));
    await queue.idle();
    queue.add('a');
    await waitFor(() => cw.isBlocked('a'), 'a running again');
    cw.release('a', new Error('second: given up'));
    await queue.idle();
    queue.add('b');
    await waitFor(() => cw.isBlocked('b'), 'b running');
    const drained = queue.drain();
    cw.release('b', new Error('during shutdown'));
    await drained;
    assert.deepEqual(
      events.map((e) => ({ key: e.key, retryInMs: e.retryInMs, gaveUp: e.gaveUp })),
      [
        { key: 'a', retryInMs: 5, gaveUp: undefined },
        { key: 'a', retryInMs: undefined, gaveUp: true },
        { key: 'b', retryInMs: undefined, gaveUp: undefined },
      ],
    );
    assert.equal(queue.retriesTotal, 1);
  });
});
