/**
 * The gauges computed at scrape time (namespaces by state, the problems of out-of-sync namespaces,
 * sources by state) and the request counter of an instrumented Kube.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KubeError, type Kube } from '../../src/kube/client.js';
import { instrumentKube, watchedResource } from '../../src/kube/instrumented.js';
import { LISTED_NAMESPACES, Metrics } from '../../src/metrics.js';
import type { NamespaceStatus, SourceStatus } from '../../src/domain/status.js';

const status = (namespace: string, state: NamespaceStatus['state'], kinds: NamespaceStatus['kinds'] = []): NamespaceStatus => ({
  namespace,
  state,
  copies: [],
  serviceAccounts: [],
  foreign: [],
  problems: kinds.map((k) => `a problem of kind ${k}`),
  kinds,
});

/** The samples of one metric, as "labels value" lines, sorted. */
async function samples(m: Metrics, name: string): Promise<string[]> {
  const metric = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (metric?.values ?? []).map((v) => `${JSON.stringify(v.labels)} ${v.value}`).sort();
}

test('namespace problems: only out of sync namespaces by kind', async () => {
  let statuses: NamespaceStatus[] = [status('a', 'in-sync'), status('b', 'out-of-sync', ['copy-missing', 'copy-missing', 'serviceaccount-missing']), status('c', 'out-of-sync', ['foreign-secret']), status('d', 'excluded')];
  const m = new Metrics({ namespaceStatuses: () => statuses });
  assert.deepEqual(await samples(m, 'pullsecret_operator_namespace_problems'), [
    '{"target_namespace":"b","problem":"copy-missing"} 2',
    '{"target_namespace":"b","problem":"serviceaccount-missing"} 1',
    '{"target_namespace":"c","problem":"foreign-secret"} 1',
  ]);
  assert.deepEqual(await samples(m, 'pullsecret_operator_namespaces'), [
    '{"state":"excluded"} 1',
    '{"state":"in-sync"} 1',
    '{"state":"opted-out"} 0',
    '{"state":"out-of-sync"} 2',
    '{"state":"terminating"} 0',
  ]);
  // Fixed: its series go (after the memo of one scrape).
  statuses = [status('a', 'in-sync'), status('b', 'in-sync'), status('c', 'in-sync')];
  await new Promise((r) => setTimeout(r, 1100));
  assert.deepEqual(await samples(m, 'pullsecret_operator_namespace_problems'), []);
});

test('namespace problems: bounded however many are out of sync', async () => {
  const many = Array.from({ length: 3 * LISTED_NAMESPACES }, (_, i) => status(`ns-${String(i).padStart(4, '0')}`, 'out-of-sync', ['copy-missing']));
  const m = new Metrics({ namespaceStatuses: () => many });
  const got = await samples(m, 'pullsecret_operator_namespace_problems');
  assert.equal(got.length, LISTED_NAMESPACES);
  assert.match(got[0] ?? '', /"ns-0000"/);
  assert.match(got.at(-1) ?? '', new RegExp(`"ns-${String(LISTED_NAMESPACES - 1).padStart(4, '0')}"`));
  assert.deepEqual(await samples(m, 'pullsecret_operator_namespaces').then((s) => s.filter((x) => x.includes('out-of-sync'))), [`{"state":"out-of-sync"} ${3 * LISTED_NAMESPACES}`]);
});

test('namespace gauges: no series before the caches synced', async () => {
  const m = new Metrics({ namespaceStatuses: () => undefined, sourceStatuses: () => undefined });
  assert.deepEqual(await samples(m, 'pullsecret_operator_namespaces'), []);
  assert.deepEqual(await samples(m, 'pullsecret_operator_namespace_problems'), []);
  assert.deepEqual(await samples(m, 'pullsecret_operator_sources'), []);
});

test('sources: by state', async () => {
  const src = (name: string, state: SourceStatus['state']): SourceStatus => ({ name, ref: `default/${name}`, copied: state === 'copied', state, reason: '' });
  const m = new Metrics({ sourceStatuses: () => [src('a', 'copied'), src('b', 'copied'), src('c', 'invalid')] });
  assert.deepEqual(await samples(m, 'pullsecret_operator_sources'), ['{"state":"copied"} 2', '{"state":"ignored"} 0', '{"state":"invalid"} 1']);
});

test('instrumentKube: counts by verb resource and code', async () => {
  const calls: string[] = [];
  let watchDone: ((err: unknown) => void) | undefined;
  const fake = {
    getSecret: () => Promise.resolve(undefined),
    getServiceAccount: () => Promise.resolve({ metadata: { name: 'x' } }),
    createSecret: () => Promise.reject(new KubeError('AlreadyExists', 409, 'exists')),
    replaceSecret: () => Promise.reject(new KubeError('Timeout', undefined, 'no answer')),
    patchServiceAccount: () => Promise.resolve(),
    watch: (_p: string, _q: unknown, _e: unknown, done: (err: unknown) => void) => {
      watchDone = done;
      return Promise.resolve({ abort: () => undefined });
    },
  } as unknown as Kube;
  const k = instrumentKube(fake, { apiRequest: (verb, resource, code) => calls.push(`${verb} ${resource} ${code}`) });
  assert.equal(await k.getSecret('ns', 'x'), undefined);
  await k.getServiceAccount('ns', 'x');
  await assert.rejects(k.createSecret({ metadata: { name: 'x', namespace: 'ns' } }), /exists/);
  await assert.rejects(k.replaceSecret({ metadata: { name: 'x', namespace: 'ns' } }), /no answer/);
  await k.patchServiceAccount('ns', 'x', { metadata: { resourceVersion: '1', annotations: { 'pullsecret-operator.io/added-entries': null } }, imagePullSecrets: null });
  const ended: unknown[] = [];
  await k.watch('/api/v1/namespaces/default/secrets', {}, () => undefined, (err) => ended.push(err));
  assert.deepEqual(calls.filter((c) => c.startsWith('watch')), [], 'a watch is counted when it ends');
  watchDone?.(new KubeError('Gone', 410, 'too old'));
  assert.equal(ended.length, 1, 'the caller still hears the end');
  assert.deepEqual(calls, ['get secrets 404', 'get serviceaccounts 2xx', 'create secrets 409', 'update secrets <error>', 'patch serviceaccounts 2xx', 'watch secrets 410']);
  assert.equal(watchedResource('/api/v1/namespaces'), 'namespaces');
});
