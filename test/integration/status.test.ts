/**
 * `pullsecret-operator status`: read-only, under the minimal role of manifests/status-reader.yaml,
 * with the operator's own flags. It reports each namespace's state and problems and each source's
 * verdict, exits 1 while a namespace that should be covered is out of sync and 0 once every one is,
 * and the running operator's metric pullsecret_operator_namespaces agrees with it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { NamespaceStatus, SourceStatus } from '../../src/domain/status.js';
import { installStatusReader } from '../harness/manifests.js';
import { startOperator } from '../harness/operator.js';
import { OPT_OUT, Scenario, fixtureCopies, mergePatch } from '../harness/scenario.js';
import { samples } from '../harness/metrics.js';

interface Report {
  namespaces: NamespaceStatus[];
  sources: SourceStatus[];
}

describe('pullsecret-operator status', () => {
  const s = new Scenario('status');
  const tmp = mkdtempSync(join(tmpdir(), 'pso-status-'));
  let reader: { kubeconfigPath: string; remove(): Promise<void> } | undefined;
  let readerKubeconfig = '';
  let synced = '';
  let foreign = '';
  let optedOut = '';
  let excluded = '';
  let terminating = '';
  const flags = (): string[] => ['--exclude-namespaces', `${s.id}-excl*`];
  // The operator notices a removed foreign secret at its next resync (it watches only its own copies).
  const operatorFlags = (): string[] => [...flags(), '--resync-period', '1s'];

  before(async () => {
    await s.setUp();
    // A pull secret of another registry: listed as a source that is not copied, and why.
    await s.core.createNamespacedSecret({
      namespace: s.source,
      body: { metadata: { name: 'dockerhub' }, type: 'kubernetes.io/dockerconfigjson', stringData: { '.dockerconfigjson': JSON.stringify({ auths: { 'docker.io': { auth: 'eDp5' } } }) } },
    });
    // The read-only user: a ServiceAccount bound to manifests/status-reader.yaml, and nothing else.
    const r = await installStatusReader(s.kc, s.source, s.id, join(tmp, 'reader'));
    reader = r;
    readerKubeconfig = r.kubeconfigPath;

    synced = await s.namespace('synced');
    optedOut = await s.namespace('optout', { annotations: { [OPT_OUT]: 'true' } });
    excluded = await s.namespace('excluded');
    // A foreign secret holds a copy's name before the namespace is selected.
    foreign = await s.foreignNamespace('foreign', 'all-icr-io');
    // A namespace held in Terminating by a finalizer of ours.
    terminating = await s.namespace('terminating');
    await s.core.patchNamespace({ name: terminating, body: { metadata: { finalizers: ['pso-test/hold'] } } }, mergePatch);
    await s.core.deleteNamespace({ name: terminating });
    s.namespaces.splice(s.namespaces.indexOf(terminating), 1); // deleted already; after() lets it go

    await s.startOperator(operatorFlags());
    await s.waitFor('synced namespace covered', async () => (await s.copies(synced)).join() === fixtureCopies(synced).join() && (await s.pullSecretNames(synced)).length === fixtureCopies(synced).length);
    await s.waitFor('the foreign namespace reconciled', async () => (await s.copies(foreign)).length === fixtureCopies(foreign).length - 1);
  });

  after(async () => {
    await s.core.patchNamespace({ name: terminating, body: { metadata: { finalizers: null } } }, mergePatch).catch(() => undefined);
    await s.tearDown();
    await reader?.remove();
    rmSync(tmp, { recursive: true, force: true });
  });

  const status = async (output: 'json' | 'table'): Promise<{ code: number | null; out: string; err: string }> => {
    const op = await startOperator({ kubeconfig: readerKubeconfig, args: ['status', '-o', output, ...s.args(flags())], waitSynced: false });
    const { code } = await op.exited;
    return { code, out: op.stdout(), err: op.stderr() };
  };
  const byName = (r: Report, ns: string): NamespaceStatus | undefined => r.namespaces.find((n) => n.namespace === ns);

  it('-o json: one JSON document on stdout, each namespace with its state and problems, each source with its verdict; exit 1 while one is out of sync', async () => {
    const r = await status('json');
    assert.equal(r.code, 1, r.err);
    const report = JSON.parse(r.out) as Report;
    assert.deepEqual(Object.keys(report).sort(), ['namespaces', 'sources']);
    assert.equal(byName(report, synced)?.state, 'in-sync');
    assert.deepEqual(byName(report, synced)?.problems, []);
    assert.deepEqual(byName(report, synced)?.copies, fixtureCopies(synced));
    assert.equal(byName(report, optedOut)?.state, 'opted-out');
    assert.equal(byName(report, excluded)?.state, 'excluded');
    assert.equal(byName(report, terminating)?.state, 'terminating');
    assert.equal(byName(report, s.source)?.state, 'excluded', 'the source namespace');
    const f = byName(report, foreign);
    assert.equal(f?.state, 'out-of-sync');
    assert.deepEqual(f?.foreign, ['all-icr-io']);
    assert.ok(f?.problems.some((p) => /all-icr-io is not managed by pullsecret-operator/.test(p)), JSON.stringify(f?.problems));
    assert.ok(report.namespaces.every((n) => Array.isArray(n.problems) && typeof n.state === 'string'));
    const src = new Map(report.sources.map((x) => [x.name, x]));
    assert.equal(src.get('all-icr-io')?.copied, true);
    assert.equal(src.get('dockerhub')?.copied, false);
    assert.match(src.get('dockerhub')?.reason ?? '', /docker\.io/);
  });

  it('reports a ServiceAccount missing entries', async () => {
    await s.operator?.stop();
    await s.core.createNamespacedServiceAccount({ namespace: synced, body: { metadata: { name: 'late' } } });
    const report = JSON.parse((await status('json')).out) as Report;
    const n = byName(report, synced);
    assert.equal(n?.state, 'out-of-sync');
    assert.deepEqual(n?.serviceAccounts.map((x) => [x.name, [...x.missing].sort()]), [['late', fixtureCopies(synced)]]);
    const first = s.operator;
    await s.startOperator(operatorFlags());
    if (first) {
      const second = s.operator;
      if (second) s.operator = { ...second, stderr: () => first.stderr() + second.stderr() };
    }
    await s.waitFor('late patched', async () => (await s.pullSecretNames(synced, 'late')).length === fixtureCopies(synced).length);
  });

  it('the metric pullsecret_operator_namespaces{state} counts the same out-of-sync namespaces', async () => {
    const port = s.operator?.httpPort;
    const count = async (state: string): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return samples(text, 'pullsecret_operator_namespaces').find((x) => x.labels['state'] === state)?.value ?? NaN;
    };
    const report = JSON.parse((await status('json')).out) as Report;
    const outOfSync = report.namespaces.filter((n) => n.state === 'out-of-sync').length;
    assert.equal(outOfSync, 1);
    await s.waitFor('the metric', async () => (await count('out-of-sync')) === outOfSync);
    assert.ok((await count('in-sync')) >= 1);
    assert.ok((await count('opted-out')) >= 1);
  });

  it('-o table, and exit 0 once every namespace that should be covered is in sync', async () => {
    await s.core.deleteNamespacedSecret({ namespace: foreign, name: 'all-icr-io' });
    await s.waitFor('the copy made', async () => (await s.copies(foreign)).length === fixtureCopies(foreign).length);
    await s.waitFor('every ServiceAccount of the foreign namespace patched', async () => (await s.pullSecretNames(foreign)).length === fixtureCopies(foreign).length);
    const r = await s.waitFor('status exit 0', async () => {
      const x = await status('table');
      return x.code === 0 && x;
    });
    assert.match(r.out, /^NAMESPACE\s+STATE\s+COPIES/m);
    assert.match(r.out, new RegExp(`^${synced}\\s+in-sync\\s+5\\s`, 'm'));
    assert.match(r.out, new RegExp(`^${optedOut}\\s+opted-out`, 'm'));
    assert.match(r.out, /^SOURCE\s+COPIED\s+WHY/m);
    assert.match(r.out, /every namespace that should be covered is in sync/);
  });
});
