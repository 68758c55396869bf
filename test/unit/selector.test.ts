import assert from 'node:assert/strict';
import { test } from 'node:test';

import { type Selector, matchesSelector, parseSelector } from '../../src/domain/selector.js';

const parseCases: { name: string; text: string; want: Selector }[] = [
  { name: 'TestEmptySelectsEverything', text: '', want: [] },
  { name: 'TestBlankSelectsEverything', text: '   ', want: [] },
  { name: 'TestEquals', text: 'env=prod', want: [{ key: 'env', op: 'in', values: ['prod'] }] },
  { name: 'TestDoubleEquals', text: 'env==prod', want: [{ key: 'env', op: 'in', values: ['prod'] }] },
  { name: 'TestNotEquals', text: 'env!=prod', want: [{ key: 'env', op: 'notin', values: ['prod'] }] },
  { name: 'TestSpacesAroundOperator', text: ' env = prod ', want: [{ key: 'env', op: 'in', values: ['prod'] }] },
  { name: 'TestEmptyValue', text: 'env=', want: [{ key: 'env', op: 'in', values: [''] }] },
  { name: 'TestIn', text: 'team in (a, b)', want: [{ key: 'team', op: 'in', values: ['a', 'b'] }] },
  { name: 'TestNotIn', text: 'team notin (a,b)', want: [{ key: 'team', op: 'notin', values: ['a', 'b'] }] },
  { name: 'TestExists', text: 'pullsecrets', want: [{ key: 'pullsecrets', op: 'exists' }] },
  { name: 'TestDoesNotExist', text: '!legacy', want: [{ key: 'legacy', op: 'doesnotexist' }] },
  { name: 'TestPrefixedKey', text: 'example.com/tier=web', want: [{ key: 'example.com/tier', op: 'in', values: ['web'] }] },
  {
    name: 'TestEveryFormCombined',
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
  { name: 'TestUnclosedParenthesis', text: 'team in (a,b', message: /invalid label selector requirement "team in \(a,b"/ },
  { name: 'TestBangAlone', text: '!', message: /invalid label selector requirement "!"/ },
  { name: 'TestTwoWords', text: 'env prod', message: /invalid label selector requirement "env prod"/ },
  { name: 'TestMissingKey', text: '=prod', message: /invalid label selector requirement "=prod"/ },
  { name: 'TestValueWithEquals', text: 'env=a=b', message: /invalid label value "a=b"/ },
  { name: 'TestValueWithSpaceInSet', text: 'team in (a b)', message: /invalid label value "a b"/ },
  { name: 'TestValueTooLong', text: `env=${'v'.repeat(64)}`, message: /invalid label value/ },
  { name: 'TestValueWithTrailingDash', text: 'env=prod-', message: /invalid label value "prod-"/ },
  { name: 'TestKeyWithTrailingDash', text: 'env-=prod', message: /invalid label key "env-"/ },
  { name: 'TestBangWithValue', text: '!env=prod', message: /invalid label key "env=prod"/ },
  { name: 'TestBadInKey', text: '-x in (a)', message: /invalid label key "-x"/ },
];

for (const c of invalidCases) {
  test(`parseSelector throws: ${c.name}`, () => {
    assert.throws(() => parseSelector(c.text), { message: c.message });
  });
}

const matchCases: { name: string; text: string; labels: Record<string, string> | undefined; want: boolean }[] = [
  { name: 'TestEmptyMatchesNoLabels', text: '', labels: undefined, want: true },
  { name: 'TestEqualsMatches', text: 'env=prod', labels: { env: 'prod' }, want: true },
  { name: 'TestEqualsOtherValue', text: 'env=prod', labels: { env: 'dev' }, want: false },
  { name: 'TestEqualsMissingLabel', text: 'env==prod', labels: {}, want: false },
  { name: 'TestNotEqualsOtherValue', text: 'env!=prod', labels: { env: 'dev' }, want: true },
  { name: 'TestNotEqualsSameValue', text: 'env!=prod', labels: { env: 'prod' }, want: false },
  { name: 'TestNotEqualsMissingLabelMatches', text: 'env!=prod', labels: undefined, want: true },
  { name: 'TestInMatchesOneOf', text: 'team in (a,b)', labels: { team: 'b' }, want: true },
  { name: 'TestInNoneOf', text: 'team in (a,b)', labels: { team: 'c' }, want: false },
  { name: 'TestInMissingLabel', text: 'team in (a,b)', labels: {}, want: false },
  { name: 'TestNotInNoneOf', text: 'team notin (a,b)', labels: { team: 'c' }, want: true },
  { name: 'TestNotInOneOf', text: 'team notin (a,b)', labels: { team: 'a' }, want: false },
  { name: 'TestNotInMissingLabelMatches', text: 'team notin (a,b)', labels: {}, want: true },
  { name: 'TestExistsWithEmptyValue', text: 'owner', labels: { owner: '' }, want: true },
  { name: 'TestExistsMissing', text: 'owner', labels: { other: 'x' }, want: false },
  { name: 'TestDoesNotExistMissing', text: '!legacy', labels: { env: 'prod' }, want: true },
  { name: 'TestDoesNotExistPresent', text: '!legacy', labels: { legacy: 'true' }, want: false },
  { name: 'TestEveryRequirementMustHold', text: 'env=prod,!legacy', labels: { env: 'prod', legacy: 'x' }, want: false },
  { name: 'TestAllRequirementsHold', text: 'env=prod,tier!=db,team in (a,b),!legacy', labels: { env: 'prod', tier: 'web', team: 'a' }, want: true },
  { name: 'TestInheritedPropertyIsNotALabel', text: 'constructor', labels: {}, want: false },
];

for (const c of matchCases) {
  test(`matchesSelector: ${c.name}`, () => {
    assert.equal(matchesSelector(parseSelector(c.text), c.labels), c.want);
  });
}
