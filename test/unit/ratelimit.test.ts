import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenBucket, parseRetryAfter } from '../../src/kube/ratelimit.js';
import { FakeClock } from './fake-clock.js';

describe('TokenBucket', () => {
  it('lets a burst through at once, then spaces callers at qps, in the order they reserved', () => {
    const clock = new FakeClock();
    const b = new TokenBucket(10, 3, clock);
    assert.deepEqual([b.reserve(), b.reserve(), b.reserve()], [0, 0, 0]);
    assert.deepEqual([b.reserve(), b.reserve()], [100, 200]);
    clock.tick(1000); // 10 tokens refilled, 2 of them owed: the bucket is back at 3 (its burst) minus nothing
    assert.deepEqual([b.reserve(), b.reserve(), b.reserve(), b.reserve()], [0, 0, 0, 100]);
  });

  it('never saves more than its burst', () => {
    const clock = new FakeClock();
    const b = new TokenBucket(100, 2, clock);
    clock.tick(60_000);
    assert.deepEqual([b.reserve(), b.reserve(), b.reserve()], [0, 0, 10]);
  });

  it('is off with qps 0', () => {
    const b = new TokenBucket(0, 1);
    assert.equal(b.unlimited, true);
    assert.deepEqual(Array.from({ length: 1000 }, () => b.reserve()).filter((d) => d > 0), []);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-12-01T00:00:00Z');
  const cases: { name: string; value: string | undefined; want: number | undefined }[] = [
    { name: 'seconds', value: '1', want: 1000 },
    { name: 'zero', value: '0', want: 0 },
    { name: 'HTTP date', value: 'Tue, 01 Dec 2026 00:00:05 GMT', want: 5000 },
    { name: 'date in the past', value: 'Mon, 30 Nov 2026 23:00:00 GMT', want: 0 },
    { name: 'capped', value: '86400', want: 60_000 },
    { name: 'absent', value: undefined, want: undefined },
    { name: 'garbage', value: 'soon', want: undefined },
  ];
  for (const c of cases) it(c.name, () => assert.equal(parseRetryAfter(c.value, now), c.want));
});
