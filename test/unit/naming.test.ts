import assert from 'node:assert/strict';
import { test } from 'node:test';

import { type TargetName, globMatch, isValidSecretName, sourceRef, targetName } from '../../src/domain/naming.js';

const longNamespace = 'n'.repeat(63);
const longSource = `default-${'a'.repeat(245)}`; // 253 characters: a valid name in the source namespace

const targetCases: { name: string; source: string; namespace: string; want: TargetName }[] = [
  { name: 'TestRegionalNameGetsNamespace', source: 'default-us-icr-io', namespace: 'team-a', want: { ok: true, name: 'team-a-us-icr-io' } },
  { name: 'TestGlobalNameGetsNamespace', source: 'default-icr-io', namespace: 'team-a', want: { ok: true, name: 'team-a-icr-io' } },
  { name: 'TestUkNameGetsNamespace', source: 'default-uk-icr-io', namespace: 'team-a', want: { ok: true, name: 'team-a-uk-icr-io' } },
  { name: 'TestDefaultInTheMiddleIsReplaced', source: 'bluemix-default-secret-regional', namespace: 'team-a', want: { ok: true, name: 'bluemix-team-a-secret-regional' } },
  { name: 'TestNameWithoutDefaultIsKept', source: 'all-icr-io', namespace: 'team-a', want: { ok: true, name: 'all-icr-io' } },
  { name: 'TestDefaultAloneIsReplaced', source: 'default', namespace: 'team-a', want: { ok: true, name: 'team-a' } },
  { name: 'TestEveryDefaultWordIsReplaced', source: 'default-x-default', namespace: 'ns1', want: { ok: true, name: 'ns1-x-ns1' } },
  { name: 'TestDefaultAsPartOfAWordIsKept', source: 'defaults-icr-io', namespace: 'team-a', want: { ok: true, name: 'defaults-icr-io' } },
  { name: 'TestDefaultWithSuffixIsKept', source: 'my-defaultx-icr', namespace: 'team-a', want: { ok: true, name: 'my-defaultx-icr' } },
  { name: 'TestDotIsNotAWordSeparator', source: 'default.icr.io', namespace: 'team-a', want: { ok: true, name: 'default.icr.io' } },
  {
    name: 'TestTooLongResultIsInvalid',
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
  { name: 'TestDashedNameIsValid', value: 'team-a-us-icr-io', want: true },
  { name: 'TestDottedNameIsValid', value: 'a.b-c.d', want: true },
  { name: 'TestEmptyNameIsInvalid', value: '', want: false },
  { name: 'TestUppercaseIsInvalid', value: 'Team-a', want: false },
  { name: 'TestLeadingDashIsInvalid', value: '-a', want: false },
  { name: 'TestTrailingDashIsInvalid', value: 'a-', want: false },
  { name: 'TestUnderscoreIsInvalid', value: 'a_b', want: false },
  { name: 'Test253CharactersIsValid', value: 'a'.repeat(253), want: true },
  { name: 'Test254CharactersIsInvalid', value: 'a'.repeat(254), want: false },
];

for (const c of validNameCases) {
  test(`isValidSecretName: ${c.name}`, () => {
    assert.equal(isValidSecretName(c.value), c.want);
  });
}

test('sourceRef: TestNamespaceSlashName', () => {
  assert.equal(sourceRef('default', 'all-icr-io'), 'default/all-icr-io');
});

const globCases: { name: string; pattern: string; value: string; want: boolean }[] = [
  { name: 'TestExactMatch', pattern: 'kube-system', value: 'kube-system', want: true },
  { name: 'TestStarMatchesRun', pattern: 'kube-*', value: 'kube-node-lease', want: true },
  { name: 'TestStarMatchesEmpty', pattern: 'team-*', value: 'team-', want: true },
  { name: 'TestQuestionMatchesOneCharacter', pattern: 'team-?', value: 'team-a', want: true },
  { name: 'TestQuestionDoesNotMatchTwo', pattern: 'team-?', value: 'team-ab', want: false },
  { name: 'TestAnchoredAtStart', pattern: 'team', value: 'my-team', want: false },
  { name: 'TestAnchoredAtEnd', pattern: 'team', value: 'team-a', want: false },
  { name: 'TestDotIsLiteral', pattern: 'icr.io', value: 'icrxio', want: false },
  { name: 'TestStarDotHostDoesNotMatchApex', pattern: '*.icr.io', value: 'icr.io', want: false },
  { name: 'TestStarDotHostMatchesSubdomain', pattern: '*.icr.io', value: 'private.us.icr.io', want: true },
  { name: 'TestStarDotHostNotFooledBySuffix', pattern: '*.icr.io', value: 'us.icr.io.evil.example', want: false },
  { name: 'TestRegexMetacharactersAreLiteral', pattern: 'a(b)+', value: 'a(b)+', want: true },
  { name: 'TestRegexMetacharactersDoNotActAsRegex', pattern: 'a(b)+', value: 'abb', want: false },
];

for (const c of globCases) {
  test(`globMatch: ${c.name}`, () => {
    assert.equal(globMatch(c.pattern, c.value), c.want);
  });
}
