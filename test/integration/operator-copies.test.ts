/**
 * Issue behaviours 1-3: which secrets are sources, how copies are named, what a copy holds,
 * rotation in place, and copies edited or deleted by hand being put back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Secret } from '@kubernetes/client-node';
import { FAKE_API_KEY } from '../harness/fixtures.js';
import { MANAGED, SOURCE, Scenario, fixtureCopies, mergePatch } from '../harness/scenario.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const dockerConfig = (hosts: string[], password: string): string =>
  b64(JSON.stringify({ auths: Object.fromEntries(hosts.map((h) => [h, { username: 'iamapikey', password, auth: b64(`iamapikey:${password}`) }])) }));

describe('copies of the source namespace pull secrets', () => {
  const s = new Scenario('copies');
  let teamA = '';

  before(async () => {
    await s.setUp();
    // Source-namespace secrets beyond the IBM fixtures.
    await s.core.createNamespacedSecret({
      namespace: s.source,
      body: {
        metadata: { name: 'hub-labelled', labels: { 'pullsecret-operator.io/copy': 'true', team: 'x' }, annotations: { note: 'keep out' } },
        type: 'kubernetes.io/dockerconfigjson',
        data: { '.dockerconfigjson': dockerConfig(['https://index.docker.io/v1/'], 'hub-token') },
      },
    });
    await s.core.createNamespacedSecret({
      namespace: s.source,
      body: {
        metadata: { name: 'icr-opted-out', labels: { 'pullsecret-operator.io/copy': 'false' } },
        type: 'kubernetes.io/dockerconfigjson',
        data: { '.dockerconfigjson': dockerConfig(['us.icr.io'], 'x') },
      },
    });
    await s.core.createNamespacedSecret({
      namespace: s.source,
      // The API server accepts any JSON object here; a pull secret needs an "auths" map.
      body: { metadata: { name: 'default-broken-icr' }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64('{"auths":"oops"}') } },
    });
    await s.core.createNamespacedSecret({
      namespace: s.source,
      body: { metadata: { name: 'mixed-hosts' }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': dockerConfig(['us.icr.io', 'quay.io'], 'x') } },
    });
    teamA = await s.namespace('team-a');
    await s.startOperator();
  });

  after(() => s.tearDown());

  it('copies every icr.io and bluemix.net pull secret, and copy=true secrets, but not others', async () => {
    const want = [...fixtureCopies(teamA), 'hub-labelled'].sort();
    const got = await s.waitFor('the copies in team-a', async () => {
      const c = await s.copies(teamA);
      return c.length >= want.length && c;
    });
    assert.deepEqual(got, want);
    // Not copied: Docker Hub without the label, an Opaque secret, copy=false, mixed hosts, unparseable data.
    for (const name of ['dockerhub-creds', 'app-config', 'icr-opted-out', 'mixed-hosts', `${teamA}-broken-icr`]) {
      assert.equal(await s.secret(teamA, name), undefined, `${name} must not be copied`);
    }
  });

  it('names copies by replacing the whole word "default" with the namespace', async () => {
    const names = await s.copies(teamA);
    assert.ok(names.includes(`${teamA}-us-icr-io`), 'default-us-icr-io -> <ns>-us-icr-io');
    assert.ok(names.includes(`bluemix-${teamA}-secret-regional`), 'bluemix-default-secret-regional -> bluemix-<ns>-secret-regional');
    assert.ok(names.includes('all-icr-io'), 'all-icr-io keeps its name');
  });

  it("gives a copy the source's type and data, our label and source annotation, and nothing else of its metadata", async () => {
    const src = await s.secret(s.source, 'hub-labelled');
    const copy = await s.secret(teamA, 'hub-labelled');
    assert.ok(src && copy);
    assert.equal(copy.type, src.type);
    assert.deepEqual(copy.data, src.data);
    assert.deepEqual(copy.metadata?.labels, { [MANAGED]: 'pullsecret-operator' });
    assert.deepEqual(copy.metadata?.annotations, { [SOURCE]: `${s.source}/hub-labelled` });
    const legacy = await s.secret(teamA, `bluemix-${teamA}-secret-regional`);
    assert.equal(legacy?.type, 'kubernetes.io/dockercfg');
  });

  it('skips an unparseable source with a log line and a Warning Event on that secret, and copies the rest', async () => {
    const op = s.operator!;
    await op.waitForLog((l) => l.message === 'source secret skipped' && l['secret'] === `${s.source}/default-broken-icr`, 10000, 'the skipped-source log line');
    const ev = await s.waitFor('a Warning Event on the broken source', async () => {
      const l = await s.core.listNamespacedEvent({ namespace: s.source });
      return l.items.find((e) => e.type === 'Warning' && e.involvedObject.kind === 'Secret' && e.involvedObject.name === 'default-broken-icr');
    });
    assert.equal(ev.reason, 'InvalidSource');
    assert.ok(op.child.exitCode === null, 'the operator keeps running');
  });

  it('updates every copy in place when the source rotates (same uid, new data)', async () => {
    const teamB = await s.namespace('team-b');
    await s.waitFor('copies in team-b', async () => (await s.copies(teamB)).length === fixtureCopies(teamB).length + 1);
    const before = [await s.secret(teamA, 'all-icr-io'), await s.secret(teamB, 'all-icr-io')];
    const rotated = dockerConfig(['icr.io', 'us.icr.io'], 'ROTATED-key-1');
    const src = (await s.secret(s.source, 'all-icr-io')) as V1Secret;
    await s.core.replaceNamespacedSecret({ namespace: s.source, name: 'all-icr-io', body: { ...src, data: { '.dockerconfigjson': rotated } } });
    for (const [i, ns] of [teamA, teamB].entries()) {
      const after = await s.waitFor(`rotated copy in ${ns}`, async () => {
        const c = await s.secret(ns, 'all-icr-io');
        return c?.data?.['.dockerconfigjson'] === rotated && c;
      });
      assert.equal(after.metadata?.uid, before[i]?.metadata?.uid, 'updated in place, not deleted and created');
    }
  });

  it("keeps the ownerReferences and finalizers other tools set on a copy when it updates it (and their labels and annotations)", async () => {
    const teamC = await s.namespace('team-c');
    const name = `${teamC}-icr-io`;
    const copy = await s.waitFor('the copy in team-c', async () => s.secret(teamC, name));
    // Another tool owns and guards the copy: an owner in the same namespace, a finalizer, its own label and annotation.
    const owner = await s.core.createNamespacedConfigMap({ namespace: teamC, body: { metadata: { name: 'owner' } } });
    const ownerReferences = [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata?.uid ?? '' }];
    const finalizers = ['example.com/keep'];
    await s.core.replaceNamespacedSecret({
      namespace: teamC,
      name,
      body: { ...copy, metadata: { ...copy.metadata, ownerReferences, finalizers, labels: { ...copy.metadata?.labels, tool: 'x' }, annotations: { ...copy.metadata?.annotations, 'tool.example.com/seen': 'yes' } } },
    });
    try {
      const rotated = dockerConfig(['icr.io'], 'ROTATED-key-2');
      const src = (await s.secret(s.source, 'default-icr-io')) as V1Secret;
      await s.core.replaceNamespacedSecret({ namespace: s.source, name: 'default-icr-io', body: { ...src, data: { '.dockerconfigjson': rotated } } });
      const after = await s.waitFor('the rotated copy in team-c', async () => {
        const c = await s.secret(teamC, name);
        return c?.data?.['.dockerconfigjson'] === rotated && c;
      });
      assert.deepEqual(JSON.parse(JSON.stringify(after.metadata?.ownerReferences)), ownerReferences, 'ownerReferences kept');
      assert.deepEqual(after.metadata?.finalizers, finalizers, 'finalizers kept');
      assert.equal(after.metadata?.labels?.['tool'], 'x');
      assert.equal(after.metadata?.annotations?.['tool.example.com/seen'], 'yes');
      assert.equal(after.metadata?.uid, copy.metadata?.uid, 'updated in place');
    } finally {
      // Let the namespace go when the test ends.
      await s.core.patchNamespacedSecret({ namespace: teamC, name, body: { metadata: { finalizers: null } } }, mergePatch);
    }
  });

  it('skips a source over --max-source-size (16 KiB by default) with a Warning Event, and keeps the copies of its last good data', async () => {
    const teamD = await s.namespace('team-d');
    await s.waitFor('the copies in team-d', async () => (await s.secret(teamD, `${teamD}-uk-icr-io`)) !== undefined);
    const before = await s.secret(teamD, `${teamD}-uk-icr-io`);
    // A rotation to a .dockerconfigjson of 20 KiB: one auths entry with a long password.
    const big = b64(JSON.stringify({ auths: { 'uk.icr.io': { username: 'iamapikey', password: 'x'.repeat(20 * 1024) } } }));
    const src = (await s.secret(s.source, 'default-uk-icr-io')) as V1Secret;
    await s.core.replaceNamespacedSecret({ namespace: s.source, name: 'default-uk-icr-io', body: { ...src, data: { '.dockerconfigjson': big } } });
    const ev = await s.waitFor('a Warning Event on the oversized source', async () => {
      const l = await s.core.listNamespacedEvent({ namespace: s.source });
      return l.items.find((e) => e.type === 'Warning' && e.involvedObject.name === 'default-uk-icr-io' && /over the limit of 16384/.test(e.message ?? ''));
    });
    assert.equal(ev.reason, 'InvalidSource');
    // Give the operator time to act on the rotation it must not copy, then judge.
    await sleep(2000);
    for (const ns of [teamA, teamD]) {
      const c = await s.secret(ns, `${ns}-uk-icr-io`);
      assert.ok(c, `the copy in ${ns} stays`);
      assert.notEqual(c.data?.['.dockerconfigjson'], big, `the oversized data is not copied to ${ns}`);
    }
    assert.equal((await s.secret(teamD, `${teamD}-uk-icr-io`))?.metadata?.resourceVersion, before?.metadata?.resourceVersion, 'not written at all');
    await s.core.replaceNamespacedSecret({ namespace: s.source, name: 'default-uk-icr-io', body: { ...src, metadata: { ...src.metadata, resourceVersion: undefined } } });
  });

  it('recreates a copy when the source type changes, since a Secret type is immutable', async () => {
    const cfg = b64(JSON.stringify({ 'us.icr.io': { username: 'iamapikey', password: 'p', auth: b64('iamapikey:p') } }));
    await s.core.deleteNamespacedSecret({ namespace: s.source, name: 'default-us-icr-io' });
    await s.core.createNamespacedSecret({ namespace: s.source, body: { metadata: { name: 'default-us-icr-io' }, type: 'kubernetes.io/dockercfg', data: { '.dockercfg': cfg } } });
    const copy = await s.waitFor('the retyped copy', async () => {
      const c = await s.secret(teamA, `${teamA}-us-icr-io`);
      return c?.type === 'kubernetes.io/dockercfg' && c;
    });
    assert.equal(copy.data?.['.dockercfg'], cfg);
  });

  it('puts back a managed copy that was deleted by hand', async () => {
    const name = `${teamA}-icr-io`;
    const old = await s.secret(teamA, name);
    await s.core.deleteNamespacedSecret({ namespace: teamA, name });
    const back = await s.waitFor('the copy to come back', async () => {
      const c = await s.secret(teamA, name);
      return c && c.metadata?.uid !== old?.metadata?.uid && c;
    });
    assert.equal(back.metadata?.labels?.[MANAGED], 'pullsecret-operator');
  });

  it('puts back the data of a managed copy that was edited by hand', async () => {
    const name = `${teamA}-uk-icr-io`;
    const src = await s.secret(s.source, 'default-uk-icr-io');
    const copy = (await s.secret(teamA, name)) as V1Secret;
    await s.core.replaceNamespacedSecret({ namespace: teamA, name, body: { ...copy, data: { '.dockerconfigjson': dockerConfig(['uk.icr.io'], 'tampered') } } });
    await s.waitFor('the copy data to be restored', async () => (await s.secret(teamA, name))?.data?.['.dockerconfigjson'] === src?.data?.['.dockerconfigjson']);
  });

  it('never writes secret data to its logs', () => {
    const out = s.operator!.stderr();
    assert.ok(out.length > 0);
    for (const secretText of [FAKE_API_KEY, 'ROTATED-key-1', 'hub-token', 'tampered']) assert.ok(!out.includes(secretText), `${secretText} leaked`);
    for (const encoded of [b64(FAKE_API_KEY), 'eyJhdXRocyI6']) assert.ok(!out.includes(encoded), 'base64 data leaked');
  });
});
