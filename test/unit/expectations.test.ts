import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Expectations } from '../../src/controller/expectations.js';

const clock = (): { monotonic(): number; t: number } => {
  const c = { t: 1000, monotonic: () => c.t };
  return c;
};

test('Expectations: nothing pending by default', () => {
  assert.equal(new Expectations(clock()).pending('Secret', 'a', 'x'), false);
});

test('Expectations: a write is pending until its event is observed', () => {
  const e = new Expectations(clock());
  e.expect('Secret', 'a', 'x');
  assert.equal(e.pending('Secret', 'a', 'x'), true);
  assert.equal(e.pending('Secret', 'a', 'y'), false, 'per object');
  assert.equal(e.pending('ServiceAccount', 'a', 'x'), false, 'per kind');
  e.observed('Secret', 'a', 'x');
  assert.equal(e.pending('Secret', 'a', 'x'), false);
});

test('Expectations: a lost event times out', () => {
  const c = clock();
  const e = new Expectations(c, 500);
  e.expect('Secret', 'a', 'x');
  c.t += 499;
  assert.equal(e.pending('Secret', 'a', 'x'), true);
  c.t += 1;
  assert.equal(e.pending('Secret', 'a', 'x'), false);
});

test('Expectations: forgetting a namespace drops only its expectations', () => {
  const e = new Expectations(clock());
  e.expect('Secret', 'a', 'x');
  e.expect('ServiceAccount', 'a', 'default');
  e.expect('Secret', 'ab', 'x');
  e.forgetNamespace('a');
  assert.equal(e.pending('Secret', 'a', 'x'), false);
  assert.equal(e.pending('ServiceAccount', 'a', 'default'), false);
  assert.equal(e.pending('Secret', 'ab', 'x'), true);
});
