import assert from 'node:assert/strict';
import { test } from 'node:test';

import { type NamespaceVerdict, type Policy, type Source, type SourceSet, collectSources, desiredCopy } from '../../src/domain/desired.js';
import { COPY_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE, ORPHANED_SINCE_ANNOTATION, SOURCE_ANNOTATION } from '../../src/domain/naming.js';
import { type NamespaceObservation, type Plan, type SecretAction, type ServiceAccountAction, planNamespace, planServiceAccounts } from '../../src/domain/plan.js';
import { parseSelector } from '../../src/domain/selector.js';
import { DOCKER_CFG, DOCKER_CONFIG_JSON } from '../../src/domain/sources.js';
import type { SecretLike, ServiceAccountLike } from '../../src/domain/types.js';
import { fixtureSecrets, namespace, optedOut, policy, pullSecret, secret, serviceAccount, storedCopy } from './helpers.js';

const NOW = 1_700_000_000_000;
const GRACE = 600_000;
const P = policy({ orphanGraceMs: GRACE });

/** The fixture sources and the names of their copies in team-a, in source order. */
const FIXTURES = collectSources(fixtureSecrets(), P);
const COPY_NAMES = ['all-icr-io', 'bluemix-team-a-secret-regional', 'team-a-icr-io', 'team-a-uk-icr-io', 'team-a-us-icr-io'];
const ALL_ADDED = [...COPY_NAMES].sort().join(',');

function sourcesOf(...secrets: SecretLike[]): SourceSet {
  return collectSources(secrets, P);
}

function only(set: SourceSet): Source {
  assert.equal(set.valid.length, 1);
  return set.valid[0]!;
}

const US_V1 = sourcesOf(pullSecret('default-us-icr-io', ['us.icr.io'], { password: 'v1' }));
const US_V2 = sourcesOf(pullSecret('default-us-icr-io', ['us.icr.io'], { password: 'v2' }));
const US_CFG = sourcesOf(pullSecret('default-us-icr-io', ['us.icr.io'], { type: DOCKER_CFG, password: 'v2' }));
const US_BROKEN = sourcesOf(secret('default-us-icr-io', DOCKER_CONFIG_JSON, { '.dockerconfigjson': 'garbage' }));
const US_NOT_COPIED = sourcesOf(pullSecret('default-us-icr-io', ['us.icr.io'], { labels: { [COPY_LABEL]: 'false' } }));
const NO_SOURCES: SourceSet = { valid: [], invalid: [] };
const US_REF = 'default/default-us-icr-io';
const ALL_REF = 'default/all-icr-io';

function state(over: Partial<NamespaceObservation> = {}): NamespaceObservation {
  return {
    namespace: namespace('team-a'),
    sources: FIXTURES,
    copies: [],
    serviceAccounts: [],
    foreign: new Set(),
    now: NOW,
    ...over,
  };
}

function expectPlan(over: Partial<Plan> = {}): Plan {
  return { verdict: { kind: 'target' }, upserts: [], serviceAccounts: [], marks: [], deletes: [], wanted: [], reports: [], ...over };
}

/** A copy whose grace clock started at `since` (the annotation the operator writes). */
function orphaned(c: SecretLike, since: number): SecretLike {
  return { ...c, metadata: { ...c.metadata, annotations: { ...(c.metadata.annotations ?? {}), [ORPHANED_SINCE_ANNOTATION]: new Date(since).toISOString() } } };
}

function withMeta(c: SecretLike, meta: Partial<SecretLike['metadata']>, rest: Partial<SecretLike> = {}): SecretLike {
  return { ...c, ...rest, metadata: { ...c.metadata, ...meta } };
}

const fixtureCopies = (): SecretLike[] => FIXTURES.valid.map((s, i) => storedCopy(s, 'team-a', COPY_NAMES[i]!));

const usCopyV1 = storedCopy(only(US_V1), 'team-a', 'team-a-us-icr-io', '7');

// ---------------------------------------------------------------------------
// planNamespace
// ---------------------------------------------------------------------------

const planCases: { name: string; state: NamespaceObservation; policy?: Partial<Policy>; want: Plan }[] = [
  {
    name: 'creates every copy in a new namespace',
    state: state(),
    want: expectPlan({
      upserts: FIXTURES.valid.map((s, i): SecretAction => ({ op: 'create', secret: desiredCopy(s, 'team-a', COPY_NAMES[i]!), source: s.ref })),
      wanted: COPY_NAMES,
    }),
  },
  {
    name: 'do nothing when copies are in sync',
    state: state({ copies: fixtureCopies() }),
    want: expectPlan({ wanted: COPY_NAMES }),
  },
  {
    name: 'do nothing for immutable copy in sync',
    state: state({ sources: US_V1, copies: [{ ...usCopyV1, immutable: true }] }),
    want: expectPlan({ wanted: ['team-a-us-icr-io'] }),
  },
  {
    name: 'copy carries no source labels or annotations',
    state: state({
      sources: sourcesOf(
        pullSecret('default-us-icr-io', ['us.icr.io'], {
          labels: { team: 'platform', [COPY_LABEL]: 'true' },
          annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
        }),
      ),
    }),
    want: expectPlan({
      upserts: [
        {
          op: 'create',
          source: US_REF,
          secret: {
            metadata: {
              name: 'team-a-us-icr-io',
              namespace: 'team-a',
              labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
              annotations: { [SOURCE_ANNOTATION]: US_REF },
            },
            type: DOCKER_CONFIG_JSON,
            data: pullSecret('x', ['us.icr.io']).data!,
          },
        },
      ],
      wanted: ['team-a-us-icr-io'],
    }),
  },
  {
    name: 'rotation updates copy in place',
    state: state({
      sources: US_V2,
      copies: [withMeta(usCopyV1, { labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, extra: 'kept' }, annotations: { [SOURCE_ANNOTATION]: US_REF, note: 'kept' } })],
    }),
    want: expectPlan({
      upserts: [
        {
          op: 'update',
          source: US_REF,
          secret: {
            metadata: {
              name: 'team-a-us-icr-io',
              namespace: 'team-a',
              resourceVersion: '7',
              labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, extra: 'kept' },
              annotations: { [SOURCE_ANNOTATION]: US_REF, note: 'kept' },
            },
            type: DOCKER_CONFIG_JSON,
            data: only(US_V2).data,
          },
        },
      ],
      wanted: ['team-a-us-icr-io'],
    }),
  },
  {
    name: 'copy with wrong source annotation is updated',
    state: state({ sources: US_V1, copies: [withMeta(usCopyV1, { annotations: { [SOURCE_ANNOTATION]: 'default/other' } })] }),
    want: expectPlan({
      upserts: [{ op: 'update', source: US_REF, secret: usCopyV1 }],
      wanted: ['team-a-us-icr-io'],
    }),
  },
  {
    name: 'type change recreates copy',
    state: state({ sources: US_CFG, copies: [usCopyV1] }),
    want: expectPlan({
      upserts: [
        {
          op: 'recreate',
          source: US_REF,
          secret: desiredCopy(only(US_CFG), 'team-a', 'team-a-us-icr-io'),
          resourceVersion: '7',
          reason: `type changed from ${DOCKER_CONFIG_JSON} to ${DOCKER_CFG}`,
        },
      ],
      wanted: ['team-a-us-icr-io'],
    }),
  },
  {
    name: 'rotation of immutable copy recreates it',
    state: state({ sources: US_V2, copies: [{ ...usCopyV1, immutable: true }] }),
    want: expectPlan({
      upserts: [
        { op: 'recreate', source: US_REF, secret: desiredCopy(only(US_V2), 'team-a', 'team-a-us-icr-io'), resourceVersion: '7', reason: 'copy is immutable' },
      ],
      wanted: ['team-a-us-icr-io'],
    }),
  },
  {
    name: 'not controlled by us is left alone reported and not wanted',
    state: state({ foreign: new Set(['team-a-us-icr-io']) }),
    want: expectPlan({
      upserts: FIXTURES.valid
        .map((s, i): SecretAction => ({ op: 'create', secret: desiredCopy(s, 'team-a', COPY_NAMES[i]!), source: s.ref }))
        .filter((a) => a.op === 'create' && a.secret.metadata.name !== 'team-a-us-icr-io'),
      wanted: COPY_NAMES.filter((n) => n !== 'team-a-us-icr-io'),
      reports: [{ kind: 'foreign', name: 'team-a-us-icr-io', source: US_REF }],
    }),
  },
  {
    name: 'foreign name without source is ignored',
    state: state({ sources: NO_SOURCES, foreign: new Set(['team-a-us-icr-io']) }),
    want: expectPlan(),
  },
  {
    name: 'invalid copy name is skipped and reported',
    state: state({
      namespace: namespace('n'.repeat(63)),
      sources: sourcesOf(pullSecret(`default-${'a'.repeat(245)}`, ['us.icr.io']), pullSecret('all-icr-io', ['icr.io'])),
    }),
    want: expectPlan({
      upserts: [{ op: 'create', source: ALL_REF, secret: desiredCopy(only(sourcesOf(pullSecret('all-icr-io', ['icr.io']))), 'n'.repeat(63), 'all-icr-io') }],
      wanted: ['all-icr-io'],
      reports: [
        {
          kind: 'invalid-name',
          name: `${'n'.repeat(63)}-${'a'.repeat(245)}`,
          source: `default/default-${'a'.repeat(245)}`,
          reason: `"${'n'.repeat(63)}-${'a'.repeat(245)}" is not a valid Secret name (RFC 1123 subdomain, at most 253 characters)`,
        },
      ],
    }),
  },
  {
    name: 'name collision first source by name wins',
    state: state({ sources: sourcesOf(pullSecret('team-a-x', ['us.icr.io']), pullSecret('default-x', ['uk.icr.io'])) }),
    want: expectPlan({
      upserts: [
        {
          op: 'create',
          source: 'default/default-x',
          secret: desiredCopy(only(sourcesOf(pullSecret('default-x', ['uk.icr.io']))), 'team-a', 'team-a-x'),
        },
      ],
      wanted: ['team-a-x'],
      reports: [{ kind: 'name-collision', name: 'team-a-x', source: 'default/team-a-x', winner: 'default/default-x' }],
    }),
  },
  // Orphans.
  {
    name: 'source gone just now keeps copy for the whole grace period and starts its clock on it',
    state: state({ sources: NO_SOURCES, copies: [usCopyV1] }),
    want: expectPlan({ wanted: ['team-a-us-icr-io'], marks: [{ name: 'team-a-us-icr-io', since: NOW }], requeueAfterMs: GRACE }),
  },
  {
    name: 'grace clock on the copy survives a restart',
    // A new process (its `now` far from the clock's start) keeps counting from the annotation.
    state: state({ sources: NO_SOURCES, copies: [orphaned(usCopyV1, NOW - GRACE + 1000)] }),
    want: expectPlan({ wanted: ['team-a-us-icr-io'], requeueAfterMs: 1000 }),
  },
  {
    name: 'unreadable grace clock starts again',
    state: state({ sources: NO_SOURCES, copies: [withMeta(usCopyV1, { annotations: { [SOURCE_ANNOTATION]: US_REF, [ORPHANED_SINCE_ANNOTATION]: 'yesterday' } })] }),
    want: expectPlan({ wanted: ['team-a-us-icr-io'], marks: [{ name: 'team-a-us-icr-io', since: NOW }], requeueAfterMs: GRACE }),
  },
  {
    name: 'source back within grace stops the clock on the copy',
    state: state({ sources: US_V1, copies: [orphaned(usCopyV1, NOW - 1000)] }),
    want: expectPlan({ upserts: [{ op: 'update', source: US_REF, secret: usCopyV1 }], wanted: ['team-a-us-icr-io'] }),
  },
  {
    name: 'source gone within grace keeps copy and requeues for the rest',
    state: state({ sources: NO_SOURCES, copies: [orphaned(usCopyV1, NOW - 60_000)] }),
    want: expectPlan({ wanted: ['team-a-us-icr-io'], requeueAfterMs: GRACE - 60_000 }),
  },
  {
    name: 'source gone longer than grace deletes copy',
    state: state({ sources: NO_SOURCES, copies: [orphaned(usCopyV1, NOW - GRACE)] }),
    want: expectPlan({
      deletes: [{ op: 'delete', name: 'team-a-us-icr-io', resourceVersion: '7', reason: `source ${US_REF} gone for longer than the grace period` }],
    }),
  },
  {
    name: 'zero grace deletes at once',
    state: state({ sources: NO_SOURCES, copies: [usCopyV1] }),
    policy: { orphanGraceMs: 0 },
    want: expectPlan({
      deletes: [{ op: 'delete', name: 'team-a-us-icr-io', resourceVersion: '7', reason: `source ${US_REF} gone for longer than the grace period` }],
    }),
  },
  {
    name: 'source that stops qualifying is an orphan',
    state: state({ sources: US_NOT_COPIED, copies: [orphaned(usCopyV1, NOW - 1000)] }),
    want: expectPlan({ wanted: ['team-a-us-icr-io'], requeueAfterMs: GRACE - 1000 }),
  },
  {
    name: 'source that stopped qualifying long ago loses its copy',
    state: state({ sources: US_NOT_COPIED, copies: [orphaned(usCopyV1, NOW - GRACE - 1)] }),
    want: expectPlan({
      deletes: [{ op: 'delete', name: 'team-a-us-icr-io', resourceVersion: '7', reason: `source ${US_REF} gone for longer than the grace period` }],
    }),
  },
  {
    name: 'copy without source annotation is an orphan too',
    state: state({ sources: NO_SOURCES, copies: [withMeta(usCopyV1, { annotations: { [ORPHANED_SINCE_ANNOTATION]: new Date(NOW - GRACE).toISOString() } })] }),
    want: expectPlan({
      deletes: [{ op: 'delete', name: 'team-a-us-icr-io', resourceVersion: '7', reason: 'source (unknown) gone for longer than the grace period' }],
    }),
  },
  {
    name: 'several orphans requeue at the earliest end',
    state: state({
      sources: NO_SOURCES,
      copies: [orphaned(storedCopy(only(sourcesOf(pullSecret('all-icr-io', ['icr.io']))), 'team-a', 'all-icr-io', '3'), NOW - 1000), orphaned(usCopyV1, NOW - 5000)],
    }),
    want: expectPlan({ wanted: ['all-icr-io', 'team-a-us-icr-io'], requeueAfterMs: GRACE - 5000 }),
  },
  {
    name: 'unparsable source keeps its copies as they are',
    state: state({ sources: US_BROKEN, copies: [orphaned(usCopyV1, NOW - 10 * GRACE)] }),
    want: expectPlan({ wanted: ['team-a-us-icr-io'] }),
  },
  {
    name: 'unparsable source creates nothing',
    state: state({ sources: US_BROKEN }),
    want: expectPlan(),
  },
  {
    name: 'secrets without our label are never deleted',
    state: state({ sources: NO_SOURCES, copies: [secret('team-a-us-icr-io', DOCKER_CONFIG_JSON, {}, { namespace: 'team-a' })] }),
    want: expectPlan(),
  },
  // Namespaces that get no copies: ours removed.
  ...(
    [
      { name: 'kube system loses our copies', ns: namespace('kube-system'), reason: 'excluded' },
      { name: 'kube public loses our copies', ns: namespace('kube-public'), reason: 'excluded' },
      { name: 'kube node lease loses our copies', ns: namespace('kube-node-lease'), reason: 'excluded' },
      { name: 'excluded glob loses our copies', ns: namespace('sandbox-1'), reason: 'excluded', policy: { excludeNamespaces: ['sandbox-*'] } },
      { name: 'namespace outside selector loses our copies', ns: namespace('team-a'), reason: 'not-selected', policy: { namespaceSelector: parseSelector('pullsecrets=on') } },
      { name: 'opted out namespace loses our copies', ns: namespace('team-a', { annotations: optedOut }), reason: 'opted-out' },
    ] as const
  ).map((c) => ({
    name: c.name,
    state: state({
      namespace: c.ns,
      sources: { valid: FIXTURES.valid, invalid: US_BROKEN.invalid },
      copies: [storedCopy(FIXTURES.valid[0]!, c.ns.metadata.name, 'all-icr-io', '1'), storedCopy(only(US_V1), c.ns.metadata.name, `${c.ns.metadata.name}-us-icr-io`, '2')],
    }),
    policy: 'policy' in c ? c.policy : undefined,
    want: expectPlan({
      verdict: { kind: 'cleanup', reason: c.reason },
      deletes: [
        { op: 'delete', name: 'all-icr-io', resourceVersion: '1', reason: `namespace ${c.reason}` },
        { op: 'delete', name: `${c.ns.metadata.name}-us-icr-io`, resourceVersion: '2', reason: `namespace ${c.reason}` },
      ],
    }),
  })),
  // Namespaces that get no writes at all.
  {
    name: 'terminating namespace gets no writes',
    state: state({ namespace: namespace('team-a', { terminating: 'deletionTimestamp' }), sources: US_V2, copies: [usCopyV1, storedCopy(FIXTURES.valid[0]!, 'team-a', 'all-icr-io')] }),
    want: expectPlan({ verdict: { kind: 'hands-off', reason: 'terminating' } }),
  },
  {
    name: 'terminating phase namespace gets no writes',
    state: state({ namespace: namespace('team-a', { terminating: 'phase' }) }),
    want: expectPlan({ verdict: { kind: 'hands-off', reason: 'terminating' } }),
  },
  {
    name: 'gone namespace gets no writes',
    state: state({ namespace: undefined, copies: [usCopyV1] }),
    want: expectPlan({ verdict: { kind: 'hands-off', reason: 'gone' } }),
  },
  {
    name: 'source namespace gets no copies',
    state: state({ namespace: namespace('default') }),
    want: expectPlan({ verdict: { kind: 'hands-off', reason: 'source-namespace' } }),
  },
];

for (const c of planCases) {
  test(`planNamespace: ${c.name}`, () => {
    assert.deepEqual(planNamespace(c.state, policy({ orphanGraceMs: GRACE, ...(c.policy ?? {}) })), c.want);
  });
}

// The source namespace is hands-off: it holds the real IBM secrets, so the operator never writes
// there, not even to remove something that carries its label.
test('planNamespace: source namespace is never written even with our label there', () => {
  const leftover = storedCopy(FIXTURES.valid[0]!, 'default', 'all-icr-io', '9');
  leftover.metadata.annotations = { [SOURCE_ANNOTATION]: 'ibm-secrets/all-icr-io' };
  const plan = planNamespace(state({ namespace: namespace('default'), sources: NO_SOURCES, copies: [leftover] }), P);
  assert.deepEqual(plan.verdict, { kind: 'hands-off', reason: 'source-namespace' });
  assert.deepEqual(plan.deletes, []);
  assert.deepEqual(plan.upserts, []);
});

test('planServiceAccounts: source namespace ServiceAccounts are never written', () => {
  const verdict = planNamespace(state({ namespace: namespace('default') }), P).verdict;
  const sa = serviceAccount('default', ['mine', 'all-icr-io'], { namespace: 'default', added: 'all-icr-io' });
  assert.deepEqual(planServiceAccounts(verdict, [sa], [], P), []);
});

// ---------------------------------------------------------------------------
// planServiceAccounts
// ---------------------------------------------------------------------------

const TARGET: NamespaceVerdict = { kind: 'target' };

interface SaCase {
  name: string;
  verdict: NamespaceVerdict;
  serviceAccounts: ServiceAccountLike[];
  wanted: string[];
  policy?: Partial<Policy>;
  want: ServiceAccountAction[];
}

const saCases: SaCase[] = [
  {
    name: 'adds every copy to every ServiceAccount',
    verdict: TARGET,
    serviceAccounts: [serviceAccount('default', undefined, { resourceVersion: '10' }), serviceAccount('builder', [], { resourceVersion: '11' })],
    wanted: COPY_NAMES,
    want: [
      { name: 'builder', resourceVersion: '11', change: { imagePullSecrets: COPY_NAMES.map((name) => ({ name })), added: ALL_ADDED } },
      { name: 'default', resourceVersion: '10', change: { imagePullSecrets: COPY_NAMES.map((name) => ({ name })), added: ALL_ADDED } },
    ],
  },
  {
    name: 'do nothing when ServiceAccounts are in sync',
    verdict: TARGET,
    serviceAccounts: [serviceAccount('default', COPY_NAMES, { added: ALL_ADDED }), serviceAccount('builder', ['mine', ...COPY_NAMES], { added: ALL_ADDED })],
    wanted: COPY_NAMES,
    want: [],
  },
  {
    name: 'entries not ours stay in place and ours are appended',
    verdict: TARGET,
    serviceAccounts: [serviceAccount('default', ['z-mine', 'all-icr-io', 'a-mine'], { added: 'all-icr-io' })],
    wanted: ['all-icr-io', 'team-a-us-icr-io'],
    want: [
      {
        name: 'default',
        resourceVersion: '1',
        change: { imagePullSecrets: [{ name: 'z-mine' }, { name: 'all-icr-io' }, { name: 'a-mine' }, { name: 'team-a-us-icr-io' }], added: 'all-icr-io,team-a-us-icr-io' },
      },
    ],
  },
  {
    name: 'nothing is duplicated',
    verdict: TARGET,
    serviceAccounts: [serviceAccount('default', ['team-a-us-icr-io'])],
    wanted: ['team-a-us-icr-io', 'all-icr-io', 'all-icr-io'],
    want: [{ name: 'default', resourceVersion: '1', change: { imagePullSecrets: [{ name: 'team-a-us-icr-io' }, { name: 'all-icr-io' }], added: 'all-icr-io' } }],
  },
  {
    name: 'opted out ServiceAccount loses our entries only',
    verdict: TARGET,
    serviceAccounts: [
      serviceAccount('default', ['all-icr-io', 'mine', 'team-a-us-icr-io'], { added: 'all-icr-io,team-a-us-icr-io', annotations: optedOut }),
      serviceAccount('builder', ['all-icr-io', 'team-a-us-icr-io'], { added: 'all-icr-io,team-a-us-icr-io' }),
    ],
    wanted: ['all-icr-io', 'team-a-us-icr-io'],
    want: [{ name: 'default', resourceVersion: '1', change: { imagePullSecrets: [{ name: 'mine' }], added: null } }],
  },
  {
    name: 'opted out ServiceAccount gets nothing',
    verdict: TARGET,
    serviceAccounts: [serviceAccount('default', ['mine'], { annotations: optedOut })],
    wanted: ['all-icr-io'],
    want: [],
  },
  {
    name: 'only configured ServiceAccounts get ours',
    verdict: TARGET,
    policy: { serviceAccounts: ['default'] },
    serviceAccounts: [serviceAccount('default', []), serviceAccount('builder', ['all-icr-io'], { added: 'all-icr-io' })],
    wanted: ['all-icr-io'],
    want: [
      { name: 'builder', resourceVersion: '1', change: { imagePullSecrets: [], added: null } },
      { name: 'default', resourceVersion: '1', change: { imagePullSecrets: [{ name: 'all-icr-io' }], added: 'all-icr-io' } },
    ],
  },
  {
    name: 'hand added entry with copy name is never removed',
    verdict: { kind: 'cleanup', reason: 'opted-out' },
    serviceAccounts: [serviceAccount('default', ['team-a-us-icr-io', 'all-icr-io'], { added: 'all-icr-io' })],
    wanted: ['all-icr-io', 'team-a-us-icr-io'],
    want: [{ name: 'default', resourceVersion: '1', change: { imagePullSecrets: [{ name: 'team-a-us-icr-io' }], added: null } }],
  },
  ...(['excluded', 'not-selected', 'opted-out'] as const).map(
    (reason): SaCase => ({
      name: `a namespace to clean up (${reason}) loses ours from every ServiceAccount`,
      verdict: { kind: 'cleanup', reason },
      serviceAccounts: [serviceAccount('default', ['mine', 'all-icr-io'], { added: 'all-icr-io' }), serviceAccount('builder', ['other'])],
      wanted: ['all-icr-io'],
      want: [{ name: 'default', resourceVersion: '1', change: { imagePullSecrets: [{ name: 'mine' }], added: null } }],
    }),
  ),
  ...(['terminating', 'gone', 'source-namespace'] as const).map(
    (reason): SaCase => ({
      name: `a hands-off namespace (${reason}) writes no ServiceAccount`,
      verdict: { kind: 'hands-off', reason },
      serviceAccounts: [serviceAccount('default', ['stale'], { added: 'stale' }), serviceAccount('builder', [])],
      wanted: ['all-icr-io'],
      want: [],
    }),
  ),
  {
    name: 'ServiceAccount being deleted is left alone',
    verdict: TARGET,
    serviceAccounts: [serviceAccount('default', [], { deleting: true })],
    wanted: ['all-icr-io'],
    want: [],
  },
];

for (const c of saCases) {
  test(`planServiceAccounts: ${c.name}`, () => {
    assert.deepEqual(planServiceAccounts(c.verdict, c.serviceAccounts, c.wanted, policy(c.policy)), c.want);
  });
}

// ---------------------------------------------------------------------------
// planNamespace: copies and ServiceAccounts in one plan
// ---------------------------------------------------------------------------

interface FlowCase {
  name: string;
  state: NamespaceObservation;
  want: { upserts: SecretAction[]; deletes: SecretAction[]; serviceAccounts: ServiceAccountAction[] };
}

const flowCases: FlowCase[] = [
  {
    name: 'do nothing in steady state',
    state: state({
      copies: fixtureCopies(),
      serviceAccounts: [serviceAccount('default', COPY_NAMES, { added: ALL_ADDED }), serviceAccount('builder', ['own', ...COPY_NAMES], { added: ALL_ADDED })],
    }),
    want: { upserts: [], deletes: [], serviceAccounts: [] },
  },
  {
    name: 'do nothing in steady state with unparsable source',
    state: state({
      sources: US_BROKEN,
      copies: [usCopyV1],
      serviceAccounts: [serviceAccount('default', ['team-a-us-icr-io'], { added: 'team-a-us-icr-io' })],
    }),
    want: { upserts: [], deletes: [], serviceAccounts: [] },
  },
  {
    name: 'foreign secret is not put on ServiceAccounts',
    state: state({
      sources: US_V1,
      foreign: new Set(['team-a-us-icr-io']),
      serviceAccounts: [serviceAccount('default', ['team-a-us-icr-io', 'mine'], { added: 'team-a-us-icr-io' }), serviceAccount('builder', [])],
    }),
    want: {
      upserts: [],
      deletes: [],
      serviceAccounts: [{ name: 'default', resourceVersion: '1', change: { imagePullSecrets: [{ name: 'mine' }], added: null } }],
    },
  },
  {
    name: 'orphan past grace leaves ServiceAccounts and is deleted',
    state: state({
      sources: NO_SOURCES,
      copies: [orphaned(usCopyV1, NOW - GRACE)],
      serviceAccounts: [serviceAccount('default', ['mine', 'team-a-us-icr-io'], { added: 'team-a-us-icr-io' })],
    }),
    want: {
      upserts: [],
      deletes: [{ op: 'delete', name: 'team-a-us-icr-io', resourceVersion: '7', reason: `source ${US_REF} gone for longer than the grace period` }],
      serviceAccounts: [{ name: 'default', resourceVersion: '1', change: { imagePullSecrets: [{ name: 'mine' }], added: null } }],
    },
  },
  {
    name: 'orphan within grace stays on ServiceAccounts',
    state: state({
      sources: NO_SOURCES,
      copies: [orphaned(usCopyV1, NOW - 1)],
      serviceAccounts: [serviceAccount('default', ['team-a-us-icr-io'], { added: 'team-a-us-icr-io' })],
    }),
    want: { upserts: [], deletes: [], serviceAccounts: [] },
  },
  {
    name: 'opted out namespace loses copies and entries',
    state: state({
      namespace: namespace('team-a', { annotations: optedOut }),
      copies: [usCopyV1],
      serviceAccounts: [serviceAccount('default', ['team-a-us-icr-io', 'mine'], { added: 'team-a-us-icr-io' })],
    }),
    want: {
      upserts: [],
      deletes: [{ op: 'delete', name: 'team-a-us-icr-io', resourceVersion: '7', reason: 'namespace opted-out' }],
      serviceAccounts: [{ name: 'default', resourceVersion: '1', change: { imagePullSecrets: [{ name: 'mine' }], added: null } }],
    },
  },
  {
    name: 'terminating namespace gets no writes at all',
    state: state({
      namespace: namespace('team-a', { terminating: 'deletionTimestamp' }),
      copies: [usCopyV1],
      serviceAccounts: [serviceAccount('default', ['stale'], { added: 'stale' }), serviceAccount('builder', [])],
    }),
    want: { upserts: [], deletes: [], serviceAccounts: [] },
  },
];

for (const c of flowCases) {
  test(`plan flow: ${c.name}`, () => {
    const plan = planNamespace(c.state, P);
    assert.deepEqual(
      { upserts: plan.upserts, deletes: plan.deletes, serviceAccounts: plan.serviceAccounts },
      c.want,
    );
  });
}

// A copy whose source still exists but maps to another name (hand-labelled, or its name edited)
// is a stray: it gets a grace clock of its own, which a present source cannot keep resetting.
test('planNamespace: stray copy of a present source runs its own grace clock', () => {
  const stray = storedCopy(only(US_V1), 'team-a', 'stray-us', '5');
  const fresh = planNamespace(state({ sources: US_V1, copies: [stray] }), P);
  assert.ok(fresh.wanted.includes('stray-us'), 'kept on ServiceAccounts during the grace period');
  assert.deepEqual(fresh.deletes, []);
  assert.deepEqual(fresh.marks, [{ name: 'stray-us', since: NOW }], 'its clock starts on the copy');
  const expired = planNamespace(state({ sources: US_V1, copies: [orphaned(stray, NOW - GRACE)] }), P);
  assert.deepEqual(expired.deletes.map((a) => (a.op === 'delete' ? a.name : a.op)), ['stray-us']);
});
