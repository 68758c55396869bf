/**
 * The webhook's decision (admitServiceAccount) and its JSON patch, and the status of a namespace:
 * pure functions over the reconciler's plan.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonPatch, pointerToken, pullSecretsMergePatch } from '../../src/domain/patches.js';
import { collectSources } from '../../src/domain/desired.js';
import { ADDED_ENTRIES_ANNOTATION } from '../../src/domain/naming.js';
import { admitServiceAccount, planNamespace, type NamespaceObservation } from '../../src/domain/plan.js';
import { allCovered, countByState, countSources, namespaceStatus, sourceStatuses } from '../../src/domain/status.js';
import { fixtureSecrets, namespace, optedOut, policy, pullSecret, serviceAccount, storedCopy } from './helpers.js';

const NOW = 1_700_000_000_000;
const P = policy({ excludeNamespaces: ['sandbox-*'] });
const SOURCES = collectSources(fixtureSecrets(), P);
const COPIES = ['all-icr-io', 'bluemix-team-a-secret-regional', 'team-a-icr-io', 'team-a-uk-icr-io', 'team-a-us-icr-io'];

function state(over: Partial<NamespaceObservation> = {}): NamespaceObservation {
  return { namespace: namespace('team-a'), sources: SOURCES, copies: [], serviceAccounts: [], foreign: new Set(), now: NOW, ...over };
}

const admitCases: { name: string; state: Partial<NamespaceObservation>; sa: ReturnType<typeof serviceAccount>; want: string[] | null; policy?: ReturnType<typeof policy> }[] = [
  { name: 'new namespace gets the copies to be made', state: {}, sa: serviceAccount('app', undefined), want: COPIES },
  { name: 'own entries stay first', state: {}, sa: serviceAccount('app', ['mine']), want: ['mine', ...COPIES] },
  { name: 'foreign name left out', state: { foreign: new Set(['all-icr-io']) }, sa: serviceAccount('app', undefined), want: COPIES.filter((n) => n !== 'all-icr-io') },
  { name: 'existing copies count', state: { copies: [storedCopy(SOURCES.valid[0]!, 'team-a', 'all-icr-io')] }, sa: serviceAccount('app', undefined), want: COPIES },
  { name: 'opted out ServiceAccount', state: {}, sa: serviceAccount('app', undefined, { annotations: optedOut }), want: null },
  { name: 'opted out namespace', state: { namespace: namespace('team-a', { annotations: optedOut }) }, sa: serviceAccount('app', undefined), want: null },
  { name: 'excluded namespace', state: { namespace: namespace('sandbox-1') }, sa: serviceAccount('app', undefined, { namespace: 'sandbox-1' }), want: null },
  { name: 'terminating namespace', state: { namespace: namespace('team-a', { terminating: 'phase' }) }, sa: serviceAccount('app', undefined), want: null },
  { name: 'gone namespace', state: { namespace: undefined }, sa: serviceAccount('app', undefined), want: null },
  { name: 'unselected ServiceAccount', state: {}, sa: serviceAccount('app', undefined), want: null, policy: policy({ serviceAccounts: ['default'] }) },
  { name: 'no sources', state: { sources: { valid: [], invalid: [] } }, sa: serviceAccount('app', undefined), want: null },
];

for (const c of admitCases) {
  test(`admitServiceAccount: ${c.name}`, () => {
    const change = admitServiceAccount(state(c.state), c.sa, c.policy ?? P);
    assert.deepEqual(change?.imagePullSecrets.map((e) => e.name) ?? null, c.want);
  });
}

test('admitServiceAccount: agrees with the reconciler (the same ServiceAccount, planned after it exists)', () => {
  for (const c of admitCases) {
    const p = c.policy ?? P;
    const s = state(c.state);
    const plan = planNamespace({ ...s, serviceAccounts: [c.sa] }, p);
    assert.deepEqual(admitServiceAccount(s, c.sa, p), plan.serviceAccounts[0]?.change ?? null, c.name);
  }
});

test('jsonPatch: adds list and annotations object', () => {
  const sa = serviceAccount('app', undefined);
  const change = admitServiceAccount(state(), sa, P);
  assert.ok(change);
  assert.deepEqual(jsonPatch(sa, change), [
    { op: 'add', path: '/imagePullSecrets', value: COPIES.map((name) => ({ name })) },
    { op: 'add', path: '/metadata/annotations', value: { [ADDED_ENTRIES_ANNOTATION]: [...COPIES].sort().join(',') } },
  ]);
});

test('jsonPatch: adds annotation key escaped', () => {
  const sa = serviceAccount('app', ['mine'], { annotations: { owner: 'team-a' } });
  const change = admitServiceAccount(state(), sa, P);
  assert.ok(change);
  const ops = jsonPatch(sa, change);
  assert.deepEqual(ops[1], { op: 'add', path: '/metadata/annotations/pullsecret-operator.io~1added-pull-secrets', value: [...COPIES].sort().join(',') });
  assert.equal(pointerToken('a~b/c'), 'a~0b~1c');
});

test('jsonPatch: removes our entries and annotation', () => {
  const sa = serviceAccount('app', ['all-icr-io'], { added: 'all-icr-io' });
  assert.deepEqual(jsonPatch(sa, { imagePullSecrets: [], added: null }), [
    { op: 'remove', path: '/imagePullSecrets' },
    { op: 'remove', path: '/metadata/annotations/pullsecret-operator.io~1added-pull-secrets' },
  ]);
});

test('namespaceStatus: states', () => {
  // Everything the plan would write, written: in sync.
  const copies = planNamespace(state(), P).upserts.map((u) => (u.op === 'delete' ? undefined : { ...u.secret, metadata: { ...u.secret.metadata, resourceVersion: '5' } })).filter((c) => c !== undefined);
  const covered = serviceAccount('default', COPIES, { added: [...COPIES].sort().join(',') });
  const inSync = namespaceStatus(state({ copies, serviceAccounts: [covered] }), P);
  assert.equal(inSync?.state, 'in-sync');
  assert.deepEqual(inSync?.problems, []);
  assert.deepEqual(inSync?.copies, COPIES);
  const fresh = namespaceStatus(state({ serviceAccounts: [serviceAccount('default', undefined)] }), P);
  assert.equal(fresh?.state, 'out-of-sync');
  assert.deepEqual(fresh?.serviceAccounts, [{ name: 'default', missing: COPIES, extra: [] }]);
  // One kind per problem, in the same order: every copy missing, then the ServiceAccount.
  assert.deepEqual(fresh?.kinds, [...COPIES.map(() => 'copy-missing'), 'serviceaccount-missing']);
  assert.equal(fresh?.kinds.length, fresh?.problems.length);
  assert.equal(namespaceStatus(state({ namespace: namespace('team-a', { annotations: optedOut }) }), P)?.state, 'opted-out');
  assert.equal(namespaceStatus(state({ namespace: namespace('sandbox-1') }), P)?.state, 'excluded');
  assert.equal(namespaceStatus(state({ namespace: namespace('team-a', { terminating: 'deletionTimestamp' }) }), P)?.state, 'terminating');
  assert.equal(namespaceStatus(state({ namespace: undefined }), P), undefined);
  const foreign = namespaceStatus(state({ foreign: new Set(['all-icr-io']) }), P);
  assert.deepEqual(foreign?.foreign, ['all-icr-io']);
  assert.equal(foreign?.state, 'out-of-sync');
  assert.ok(foreign?.kinds.includes('foreign-secret'));
  assert.ok(!foreign?.problems.some((p) => p.startsWith('copy all-icr-io ')), 'a name held by a foreign secret is not a missing copy');
  const all = [fresh, foreign].filter((x) => x !== undefined);
  assert.equal(allCovered(all), false);
  assert.deepEqual(countByState(all), { 'in-sync': 0, 'out-of-sync': 2, excluded: 0, 'opted-out': 0, terminating: 0 });
});

test('sourceStatuses: each pull secret with why', () => {
  const got = new Map(sourceStatuses([...fixtureSecrets(), pullSecret('mine', ['quay.io'], { labels: { 'pullsecret-operator.io/copy': 'true' } })], P).map((s) => [s.name, s]));
  assert.equal(got.get('default-us-icr-io')?.copied, true);
  assert.equal(got.get('default-us-icr-io')?.reason, 'a pull secret for us.icr.io');
  assert.equal(got.get('dockerhub-creds')?.copied, false);
  assert.match(got.get('dockerhub-creds')?.reason ?? '', /outside the configured list: index\.docker\.io/);
  assert.equal(got.get('mine')?.reason, 'labelled pullsecret-operator.io/copy=true');
  assert.equal(got.get('default-us-icr-io')?.state, 'copied');
  assert.equal(got.get('dockerhub-creds')?.state, 'ignored');
  const broken = sourceStatuses([{ ...pullSecret('broken', ['icr.io']), data: { '.dockerconfigjson': 'not base64 json' } }], P);
  assert.deepEqual(broken.map((s) => [s.state, s.copied]), [['invalid', false]]);
  const statuses = [...got.values(), ...broken];
  assert.deepEqual(countSources(statuses), { copied: statuses.filter((s) => s.copied).length, invalid: 1, ignored: statuses.filter((s) => !s.copied).length - 1 });
});

test('pullSecretsMergePatch: the whole list, the annotation and the resourceVersion it was computed from; null removes', () => {
  assert.deepEqual(pullSecretsMergePatch({ imagePullSecrets: [{ name: 'mine' }, { name: 'all-icr-io' }], added: 'all-icr-io' }, '7'), {
    metadata: { resourceVersion: '7', annotations: { [ADDED_ENTRIES_ANNOTATION]: 'all-icr-io' } },
    imagePullSecrets: [{ name: 'mine' }, { name: 'all-icr-io' }],
  });
  assert.deepEqual(pullSecretsMergePatch({ imagePullSecrets: [], added: null }, '8'), {
    metadata: { resourceVersion: '8', annotations: { [ADDED_ENTRIES_ANNOTATION]: null } },
    imagePullSecrets: null,
  });
});
