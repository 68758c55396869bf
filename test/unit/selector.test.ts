import assert from 'node:assert/strict';
import { test } from 'node:test';

import { type Selector, matchesSelector, parseSelector } from '../../src/domain/selector.js';

const parseCases: { name: string; text: string; want: Selector }[] = [
  { name: 'empty selects everything', text: '', want: [] },
  { name: 'blank selects everything', text: '   ', want: [] },
  { name: 'equals', text: 'env=prod', want: [{ key: 'env', op: 'in', values: ['prod'] }] },
  { name: 'double equals', text: 'env==prod', want: [{ key: 'env', op: 'in', values: ['prod'] }] },
  { name: 'not equals', text: 'env!=prod', want: [{ key: 'env', op: 'notin', values: ['prod'] }] },
  { name: 'spaces around operator', text: ' env = prod ', want: [{ key: 'env', op: 'in', values: ['prod'] }] },
  { name: 'empty value', text: 'env=', want: [{ key: 'env', op: 'in', values: [''] }] },
  { name: 'in', text: 'team in (a, b)', want: [{ key: 'team', op: 'in', values: ['a', 'b'] }] },
  { name: 'not in', text: 'team notin (a,b)', want: [{ key: 'team', op: 'notin', values: ['a', 'b'] }] },
  { name: 'exists', text: 'pullsecrets', want: [{ key: 'pullsecrets', op: 'exists' }] },
  { name: 'does not exist', text: '!legacy', want: [{ key: 'legacy', op: 'doesnotexist' }] },
  { name: 'prefixed key', text: 'example.com/tier=web', want: [{ key: 'example.com/tier', op: 'in', values: ['web'] }] },
  {
    name: 'every form combined',
    text: 'env=prod,tier!=db,team in (a,b),!legacy,owner',
    want: [
      { key: 'env', op: 'in', values: ['prod'] },
      { key: 'tier', op: 'notin', values: ['db'] },
      { key: 'team', op: 'in', values: ['a', 'b'] },
      { key: 'legacy', op: 'doesnotexist' },
      { key: 'owner', op: 'exists' },
    ],
  },
];

for (const c of parseCases) {
  test(`parseSelector: ${c.name}`, () => {
    assert.deepEqual(parseSelector(c.text), c.want);
  });
}

const invalidCases: { name: string; text: string; message: RegExp }[] = [
  { name: 'unclosed parenthesis', text: 'team in (a,b', message: /invalid label selector requirement "team in \(a,b"/ },
  { name: 'bang alone', text: '!', message: /invalid label selector requirement "!"/ },
  { name: 'two words', text: 'env prod', message: /invalid label selector requirement "env prod"/ },
  { name: 'missing key', text: '=prod', message: /invalid label selector requirement "=prod"/ },
  { name: 'value with equals', text: 'env=a=b', message: /invalid label value "a=b"/ },
  { name: 'value with space in set', text: 'team in (a b)', message: /invalid label value "a b"/ },
  { name: 'value too long', text: `env=${'v'.repeat(64)}`, message: /invalid label value/ },
  { name: 'value with trailing dash', text: 'env=prod-', message: /invalid label value "prod-"/ },
  { name: 'key with trailing dash', text: 'env-=prod', message: /invalid label key "env-"/ },
  { name: 'bang with value', text: '!env=prod', message: /invalid label key "env=prod"/ },
  { name: 'bad in key', text: '-x in (a)', message: /invalid label key "-x"/ },
];

for (const c of invalidCases) {
  test(`parseSelector throws: ${c.name}`, () => {
    assert.throws(() => parseSelector(c.text), { message: c.message });
  });
}

const matchCases: { name: string; text: string; labels: Record<string, string> | undefined; want: boolean }[] = [
  { name: 'empty matches no labels', text: '', labels: undefined, want: true },
  { name: 'equals matches', text: 'env=prod', labels: { env: 'prod' }, want: true },
  { name: 'equals other value', text: 'env=prod', labels: { env: 'dev' }, want: false },
  { name: 'equals missing label', text: 'env==prod', labels: {}, want: false },
  { name: 'not equals other value', text: 'env!=prod', labels: { env: 'dev' }, want: true },
  { name: 'not equals same value', text: 'env!=prod', labels: { env: 'prod' }, want: false },
  { name: 'not equals missing label matches', text: 'env!=prod', labels: undefined, want: true },
  { name: 'in matches one of', text: 'team in (a,b)', labels: { team: 'b' }, want: true },
  { name: 'in none of', text: 'team in (a,b)', labels: { team: 'c' }, want: false },
  { name: 'in missing label', text: 'team in (a,b)', labels: {}, want: false },
  { name: 'not in none of', text: 'team notin (a,b)', labels: { team: 'c' }, want: true },
  { name: 'not in one of', text: 'team notin (a,b)', labels: { team: 'a' }, want: false },
  { name: 'not in missing label matches', text: 'team notin (a,b)', labels: {}, want: true },
  { name: 'exists with empty value', text: 'owner', labels: { owner: '' }, want: true },
  { name: 'exists missing', text: 'owner', labels: { other: 'x' }, want: false },
  { name: 'does not exist missing', text: '!legacy', labels: { env: 'prod' }, want: true },
  { name: 'does not exist present', text: '!legacy', labels: { legacy: 'true' }, want: false },
  { name: 'every requirement must hold', text: 'env=prod,!legacy', labels: { env: 'prod', legacy: 'x' }, want: false },
  { name: 'all requirements hold', text: 'env=prod,tier!=db,team in (a,b),!legacy', labels: { env: 'prod', tier: 'web', team: 'a' }, want: true },
  { name: 'inherited property is not a label', text: 'constructor', labels: {}, want: false },
];

for (const c of matchCases) {
  test(`matchesSelector: ${c.name}`, () => {
    assert.equal(matchesSelector(parseSelector(c.text), c.labels), c.want);
  });
}
