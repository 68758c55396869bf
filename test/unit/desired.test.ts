import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  dataHash,
  type NamespaceVerdict,
  type Policy,
  type PullSecretsChange,
  type SourceSet,
  addedEntries,
  collectSources,
  desiredCopy,
  isOptedOut,
  isTerminating,
  namespaceVerdict,
  pullSecretsChange,
  serviceAccountSelected,
} from '../../src/domain/desired.js';
import { ADDED_ENTRIES_ANNOTATION, COPY_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE, OPT_OUT_ANNOTATION, SOURCE_ANNOTATION } from '../../src/domain/naming.js';
import { parseSelector } from '../../src/domain/selector.js';
import { DOCKER_CFG, DOCKER_CONFIG_JSON } from '../../src/domain/sources.js';
import type { NamespaceLike, SecretLike, ServiceAccountLike } from '../../src/domain/types.js';
import { fixtureSecret, fixtureSecrets, namespace, optedOut, policy, pullSecret, secret, serviceAccount } from './helpers.js';

// ---------------------------------------------------------------------------
// namespaceVerdict
// ---------------------------------------------------------------------------

const verdictCases: { name: string; ns: NamespaceLike | undefined; policy?: Partial<Policy>; want: NamespaceVerdict }[] = [
  { name: 'ordinary namespace is target', ns: namespace('team-a'), want: { kind: 'target' } },
  { name: 'gone namespace is hands off', ns: undefined, want: { kind: 'hands-off', reason: 'gone' } },
  { name: 'deletion timestamp is hands off', ns: namespace('team-a', { terminating: 'deletionTimestamp' }), want: { kind: 'hands-off', reason: 'terminating' } },
  { name: 'terminating phase is hands off', ns: namespace('team-a', { terminating: 'phase' }), want: { kind: 'hands-off', reason: 'terminating' } },
  { name: 'terminating opted out is still hands off', ns: namespace('team-a', { annotations: optedOut, terminating: 'phase' }), want: { kind: 'hands-off', reason: 'terminating' } },
  { name: 'terminating kube system is hands off', ns: namespace('kube-system', { terminating: 'deletionTimestamp' }), want: { kind: 'hands-off', reason: 'terminating' } },
  { name: 'source namespace gets no copies', ns: namespace('default'), want: { kind: 'hands-off', reason: 'source-namespace' } },
  { name: 'configured source namespace gets no copies', ns: namespace('ibm-secrets'), policy: { sourceNamespace: 'ibm-secrets' }, want: { kind: 'hands-off', reason: 'source-namespace' } },
  { name: 'default is target when not source', ns: namespace('default'), policy: { sourceNamespace: 'ibm-secrets' }, want: { kind: 'target' } },
  { name: 'kube system excluded', ns: namespace('kube-system'), want: { kind: 'cleanup', reason: 'excluded' } },
  { name: 'kube public excluded', ns: namespace('kube-public'), want: { kind: 'cleanup', reason: 'excluded' } },
  { name: 'kube node lease excluded', ns: namespace('kube-node-lease'), want: { kind: 'cleanup', reason: 'excluded' } },
  { name: 'kube system excluded even with other globs', ns: namespace('kube-system'), policy: { excludeNamespaces: ['sandbox-*'] }, want: { kind: 'cleanup', reason: 'excluded' } },
  { name: 'other kube prefixed namespace is target', ns: namespace('kube-flannel'), want: { kind: 'target' } },
  { name: 'configured glob excludes', ns: namespace('sandbox-7'), policy: { excludeNamespaces: ['sandbox-*'] }, want: { kind: 'cleanup', reason: 'excluded' } },
  { name: 'configured glob question mark', ns: namespace('ci-1'), policy: { excludeNamespaces: ['ci-?'] }, want: { kind: 'cleanup', reason: 'excluded' } },
  { name: 'configured glob does not match others', ns: namespace('team-a'), policy: { excludeNamespaces: ['sandbox-*', 'ci-?'] }, want: { kind: 'target' } },
  { name: 'outside selector is cleanup', ns: namespace('team-a'), policy: { namespaceSelector: parseSelector('pullsecrets=on') }, want: { kind: 'cleanup', reason: 'not-selected' } },
  { name: 'inside selector is target', ns: namespace('team-a', { labels: { pullsecrets: 'on' } }), policy: { namespaceSelector: parseSelector('pullsecrets=on') }, want: { kind: 'target' } },
  { name: 'not in selector excludes labelled', ns: namespace('team-a', { labels: { tier: 'sys' } }), policy: { namespaceSelector: parseSelector('tier notin (sys)') }, want: { kind: 'cleanup', reason: 'not-selected' } },
  { name: 'opted out is cleanup', ns: namespace('team-a', { annotations: optedOut }), want: { kind: 'cleanup', reason: 'opted-out' } },
  { name: 'opt out is case insensitive', ns: namespace('team-a', { annotations: { [OPT_OUT_ANNOTATION]: ' True ' } }), want: { kind: 'cleanup', reason: 'opted-out' } },
  { name: 'opt out false is target', ns: namespace('team-a', { annotations: { [OPT_OUT_ANNOTATION]: 'false' } }), want: { kind: 'target' } },
  { name: 'opt out as label does nothing', ns: namespace('team-a', { labels: { [OPT_OUT_ANNOTATION]: 'true' } }), want: { kind: 'target' } },
];

for (const c of verdictCases) {
  test(`namespaceVerdict: ${c.name}`, () => {
    assert.deepEqual(namespaceVerdict(c.ns, policy(c.policy)), c.want);
  });
}

test('isTerminating: active namespace is not terminating', () => {
  assert.equal(isTerminating(namespace('team-a')), false);
});

test('isOptedOut: no annotations is not opted out', () => {
  assert.equal(isOptedOut({ metadata: {} }), false);
});

// ---------------------------------------------------------------------------
// collectSources
// ---------------------------------------------------------------------------

const usIcr = pullSecret('default-us-icr-io', ['us.icr.io']);
const garbage = secret('broken-icr-io', DOCKER_CONFIG_JSON, { '.dockerconfigjson': 'not-base64-json' });

const collectCases: { name: string; secrets: SecretLike[]; policy?: Partial<Policy>; want: SourceSet }[] = [
  {
    name: 'fixtures give five sources sorted by name',
    secrets: fixtureSecrets(),
    want: {
      valid: ['all-icr-io', 'bluemix-default-secret-regional', 'default-icr-io', 'default-uk-icr-io', 'default-us-icr-io'].map((name) => {
        const s = fixtureSecret(name);
        return { name, ref: `default/${name}`, type: s.type ?? '', data: { ...(s.data ?? {}) }, dataHash: dataHash(s.data) };
      }),
      invalid: [],
    },
  },
  {
    name: 'source keeps only type and data',
    secrets: [pullSecret('default-us-icr-io', ['us.icr.io'], { labels: { team: 'x' }, annotations: { note: 'y' } })],
    want: { valid: [{ name: 'default-us-icr-io', ref: 'default/default-us-icr-io', type: DOCKER_CONFIG_JSON, data: { ...(usIcr.data ?? {}) }, dataHash: dataHash(usIcr.data) }], invalid: [] },
  },
  {
    name: 'unparsable pull secret is invalid',
    secrets: [garbage],
    want: { valid: [], invalid: [{ name: 'broken-icr-io', ref: 'default/broken-icr-io', reason: '".dockerconfigjson" is not base64-encoded JSON' }] },
  },
  {
    name: 'ignored secrets are not listed',
    secrets: [fixtureSecret('dockerhub-creds'), fixtureSecret('app-config'), pullSecret('x', ['us.icr.io'], { labels: { [COPY_LABEL]: 'false' } })],
    want: { valid: [], invalid: [] },
  },
  {
    name: 'our own copy is never a source',
    secrets: [pullSecret('all-icr-io', ['icr.io'], { labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } })],
    want: { valid: [], invalid: [] },
  },
  {
    name: 'secret of another namespace is not a source',
    secrets: [pullSecret('default-us-icr-io', ['us.icr.io'], { namespace: 'team-a' })],
    want: { valid: [], invalid: [] },
  },
  {
    name: 'configured source namespace',
    secrets: [pullSecret('default-us-icr-io', ['us.icr.io'], { namespace: 'ibm-secrets' }), pullSecret('all-icr-io', ['icr.io'], { namespace: 'default' })],
    policy: { sourceNamespace: 'ibm-secrets' },
    want: { valid: [{ name: 'default-us-icr-io', ref: 'ibm-secrets/default-us-icr-io', type: DOCKER_CONFIG_JSON, data: { ...(usIcr.data ?? {}) }, dataHash: dataHash(usIcr.data) }], invalid: [] },
  },
];

for (const c of collectCases) {
  test(`collectSources: ${c.name}`, () => {
    assert.deepEqual(collectSources(c.secrets, policy(c.policy)), c.want);
  });
}

// ---------------------------------------------------------------------------
// desiredCopy
// ---------------------------------------------------------------------------

test('desiredCopy: copy has source type and data our label and source annotation only', () => {
  const src = pullSecret('bluemix-default-secret-regional', ['registry.ng.bluemix.net'], {
    type: DOCKER_CFG,
    labels: { team: 'x', [COPY_LABEL]: 'true' },
    annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
  });
  const { valid } = collectSources([src], policy());
  assert.equal(valid.length, 1);
  const source = valid[0]!;
  const copy = desiredCopy(source, 'team-a', 'bluemix-team-a-secret-regional');
  assert.deepEqual(copy, {
    metadata: {
      name: 'bluemix-team-a-secret-regional',
      namespace: 'team-a',
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
      annotations: { [SOURCE_ANNOTATION]: 'default/bluemix-default-secret-regional' },
    },
    type: DOCKER_CFG,
    data: src.data,
  });
  assert.notEqual(copy.data, source.data, 'the copy owns its data map');
});

// ---------------------------------------------------------------------------
// pullSecretsChange
// ---------------------------------------------------------------------------

const pullCases: { name: string; sa: ServiceAccountLike; wanted: string[]; want: PullSecretsChange | null }[] = [
  {
    name: 'do nothing when ours are there',
    sa: serviceAccount('default', ['all-icr-io', 'team-a-us-icr-io'], { added: 'all-icr-io,team-a-us-icr-io' }),
    wanted: ['all-icr-io', 'team-a-us-icr-io'],
    want: null,
  },
  {
    name: 'do nothing when ours are there in another order',
    sa: serviceAccount('default', ['team-a-us-icr-io', 'all-icr-io'], { added: 'all-icr-io,team-a-us-icr-io' }),
    wanted: ['all-icr-io', 'team-a-us-icr-io'],
    want: null,
  },
  { name: 'do nothing with nothing wanted and nothing ours', sa: serviceAccount('default', ['mine']), wanted: [], want: null },
  { name: 'do nothing without imagePullSecrets', sa: serviceAccount('default', undefined), wanted: [], want: null },
  {
    name: 'adds to ServiceAccount without list',
    sa: serviceAccount('default', undefined),
    wanted: ['all-icr-io', 'team-a-us-icr-io'],
    want: { imagePullSecrets: [{ name: 'all-icr-io' }, { name: 'team-a-us-icr-io' }], added: 'all-icr-io,team-a-us-icr-io' },
  },
  {
    name: 'appends after entries not ours',
    sa: serviceAccount('default', ['zz-mine', 'aa-mine']),
    wanted: ['all-icr-io'],
    want: { imagePullSecrets: [{ name: 'zz-mine' }, { name: 'aa-mine' }, { name: 'all-icr-io' }], added: 'all-icr-io' },
  },
  {
    name: 'appends only missing ones',
    sa: serviceAccount('default', ['mine', 'all-icr-io'], { added: 'all-icr-io' }),
    wanted: ['all-icr-io', 'team-a-us-icr-io'],
    want: { imagePullSecrets: [{ name: 'mine' }, { name: 'all-icr-io' }, { name: 'team-a-us-icr-io' }], added: 'all-icr-io,team-a-us-icr-io' },
  },
  {
    name: 'duplicate wanted names appended once',
    sa: serviceAccount('default', []),
    wanted: ['all-icr-io', 'all-icr-io'],
    want: { imagePullSecrets: [{ name: 'all-icr-io' }], added: 'all-icr-io' },
  },
  {
    name: 'hand added entry with copy name is not duplicated nor claimed',
    sa: serviceAccount('default', ['team-a-us-icr-io']),
    wanted: ['all-icr-io', 'team-a-us-icr-io'],
    want: { imagePullSecrets: [{ name: 'team-a-us-icr-io' }, { name: 'all-icr-io' }], added: 'all-icr-io' },
  },
  {
    name: 'hand added entry with copy name is never removed',
    sa: serviceAccount('default', ['team-a-us-icr-io', 'all-icr-io'], { added: 'all-icr-io' }),
    wanted: [],
    want: { imagePullSecrets: [{ name: 'team-a-us-icr-io' }], added: null },
  },
  {
    name: 'removes only ours keeping others in order',
    sa: serviceAccount('default', ['old-copy', 'mine-1', 'all-icr-io', 'mine-2'], { added: 'all-icr-io,old-copy' }),
    wanted: ['all-icr-io'],
    want: { imagePullSecrets: [{ name: 'mine-1' }, { name: 'all-icr-io' }, { name: 'mine-2' }], added: 'all-icr-io' },
  },
  {
    name: 'removes all ours and the annotation',
    sa: serviceAccount('default', ['all-icr-io', 'mine', 'team-a-us-icr-io'], { added: 'all-icr-io,team-a-us-icr-io' }),
    wanted: [],
    want: { imagePullSecrets: [{ name: 'mine' }], added: null },
  },
  {
    name: 'readds ours removed by hand',
    sa: serviceAccount('default', ['mine'], { added: 'all-icr-io' }),
    wanted: ['all-icr-io'],
    want: { imagePullSecrets: [{ name: 'mine' }, { name: 'all-icr-io' }], added: 'all-icr-io' },
  },
  {
    name: 'stale annotation entry is forgotten',
    sa: serviceAccount('default', ['mine'], { added: 'gone-copy' }),
    wanted: [],
    want: { imagePullSecrets: [{ name: 'mine' }], added: null },
  },
  {
    name: 'annotation tolerates spaces',
    sa: serviceAccount('default', ['a', 'b'], { added: ' a , b ,' }),
    wanted: ['b'],
    want: { imagePullSecrets: [{ name: 'b' }], added: 'b' },
  },
];

for (const c of pullCases) {
  test(`pullSecretsChange: ${c.name}`, () => {
    assert.deepEqual(pullSecretsChange(c.sa, c.wanted), c.want);
  });
}

test('pullSecretsChange: does not mutate the ServiceAccount', () => {
  const sa = serviceAccount('default', ['old', 'mine'], { added: 'old' });
  const before = structuredClone(sa);
  pullSecretsChange(sa, ['new']);
  assert.deepEqual(sa, before);
});

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

test('addedEntries: parses comma separated names', () => {
  assert.deepEqual([...addedEntries(serviceAccount('default', [], { added: 'b, a,,c' }))], ['b', 'a', 'c']);
  assert.deepEqual([...addedEntries(serviceAccount('default', []))], []);
  assert.deepEqual([...addedEntries({ metadata: { name: 'x', namespace: 'team-a', annotations: { [ADDED_ENTRIES_ANNOTATION]: '' } } })], []);
});

const selectedCases: { name: string; sa: string; serviceAccounts: Policy['serviceAccounts']; want: boolean }[] = [
  { name: 'all selects every', sa: 'builder', serviceAccounts: 'all', want: true },
  { name: 'listed is selected', sa: 'default', serviceAccounts: ['default', 'deployer'], want: true },
  { name: 'unlisted is not selected', sa: 'builder', serviceAccounts: ['default', 'deployer'], want: false },
];

for (const c of selectedCases) {
  test(`serviceAccountSelected: ${c.name}`, () => {
    assert.equal(serviceAccountSelected(serviceAccount(c.sa, []), policy({ serviceAccounts: c.serviceAccounts })), c.want);
  });
}
