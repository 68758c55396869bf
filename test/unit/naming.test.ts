import assert from 'node:assert/strict';
import { test } from 'node:test';

import { type TargetName, globMatch, isValidSecretName, sourceRef, targetName } from '../../src/domain/naming.js';

const longNamespace = 'n'.repeat(63);
const longSource = `default-${'a'.repeat(245)}`; // 253 characters: a valid name in the source namespace

const targetCases: { name: string; source: string; namespace: string; want: TargetName }[] = [
  { name: 'regional name gets namespace', source: 'default-us-icr-io', namespace: 'team-a', want: { ok: true, name: 'team-a-us-icr-io' } },
  { name: 'global name gets namespace', source: 'default-icr-io', namespace: 'team-a', want: { ok: true, name: 'team-a-icr-io' } },
  { name: 'uk name gets namespace', source: 'default-uk-icr-io', namespace: 'team-a', want: { ok: true, name: 'team-a-uk-icr-io' } },
  { name: 'default in the middle is replaced', source: 'bluemix-default-secret-regional', namespace: 'team-a', want: { ok: true, name: 'bluemix-team-a-secret-regional' } },
  { name: 'name without default is kept', source: 'all-icr-io', namespace: 'team-a', want: { ok: true, name: 'all-icr-io' } },
  { name: 'default alone is replaced', source: 'default', namespace: 'team-a', want: { ok: true, name: 'team-a' } },
  { name: 'every default word is replaced', source: 'default-x-default', namespace: 'ns1', want: { ok: true, name: 'ns1-x-ns1' } },
  { name: 'default as part of a word is kept', source: 'defaults-icr-io', namespace: 'team-a', want: { ok: true, name: 'defaults-icr-io' } },
  { name: 'default with suffix is kept', source: 'my-defaultx-icr', namespace: 'team-a', want: { ok: true, name: 'my-defaultx-icr' } },
  { name: 'dot is not a word separator', source: 'default.icr.io', namespace: 'team-a', want: { ok: true, name: 'default.icr.io' } },
  {
    name: 'too long result is invalid',
    source: longSource,
    namespace: longNamespace,
    want: {
      ok: false,
      name: `${longNamespace}-${'a'.repeat(245)}`,
      reason: `"${longNamespace}-${'a'.repeat(245)}" is not a valid Secret name (RFC 1123 subdomain, at most 253 characters)`,
    },
  },
];

for (const c of targetCases) {
  test(`targetName: ${c.name}`, () => {
    assert.deepEqual(targetName(c.source, c.namespace), c.want);
  });
}

const validNameCases: { name: string; value: string; want: boolean }[] = [
  { name: 'dashed name is valid', value: 'team-a-us-icr-io', want: true },
  { name: 'dotted name is valid', value: 'a.b-c.d', want: true },
  { name: 'empty name is invalid', value: '', want: false },
  { name: 'uppercase is invalid', value: 'Team-a', want: false },
  { name: 'leading dash is invalid', value: '-a', want: false },
  { name: 'trailing dash is invalid', value: 'a-', want: false },
  { name: 'underscore is invalid', value: 'a_b', want: false },
  { name: 'Test253CharactersIsValid', value: 'a'.repeat(253), want: true },
  { name: 'Test254CharactersIsInvalid', value: 'a'.repeat(254), want: false },
];

for (const c of validNameCases) {
  test(`isValidSecretName: ${c.name}`, () => {
    assert.equal(isValidSecretName(c.value), c.want);
  });
}

test('sourceRef: namespace slash name', () => {
  assert.equal(sourceRef('default', 'all-icr-io'), 'default/all-icr-io');
});

const globCases: { name: string; pattern: string; value: string; want: boolean }[] = [
  { name: 'exact match', pattern: 'kube-system', value: 'kube-system', want: true },
  { name: 'star matches run', pattern: 'kube-*', value: 'kube-node-lease', want: true },
  { name: 'star matches empty', pattern: 'team-*', value: 'team-', want: true },
  { name: 'question matches one character', pattern: 'team-?', value: 'team-a', want: true },
  { name: 'question does not match two', pattern: 'team-?', value: 'team-ab', want: false },
  { name: 'anchored at start', pattern: 'team', value: 'my-team', want: false },
  { name: 'anchored at end', pattern: 'team', value: 'team-a', want: false },
  { name: 'dot is literal', pattern: 'icr.io', value: 'icrxio', want: false },
  { name: 'star dot host does not match apex', pattern: '*.icr.io', value: 'icr.io', want: false },
  { name: 'star dot host matches subdomain', pattern: '*.icr.io', value: 'private.us.icr.io', want: true },
  { name: 'star dot host not fooled by suffix', pattern: '*.icr.io', value: 'us.icr.io.evil.example', want: false },
  { name: 'regex metacharacters are literal', pattern: 'a(b)+', value: 'a(b)+', want: true },
  { name: 'regex metacharacters do not act as regex', pattern: 'a(b)+', value: 'abb', want: false },
];

for (const c of globCases) {
  test(`globMatch: ${c.name}`, () => {
    assert.equal(globMatch(c.pattern, c.value), c.want);
  });
}
