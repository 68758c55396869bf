/**
 * The checker's schedule, with a scripted check function (no network) and real timers: one check
 * in flight per host, the budget across sources, a rotation checked at once, Events only for
 * rejections, results published (debounced) and dropped with their source.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CheckOutcome } from '../../src/registry/check.js';
import { CredentialChecker, checkTargets } from '../../src/registry/checker.js';
import type { RegistryCredential } from '../../src/registry/credentials.js';
import type { ResultsDocument } from '../../src/registry/results.js';
import { createLogger } from '../../src/log.js';
import { systemClock } from '../../src/clock.js';
import type { SecretLike } from '../../src/domain/types.js';
import { Writable } from 'node:stream';
import { policy, pullSecret } from './helpers.js';
import { setTimeout as sleep } from 'node:timers/promises';

const logLines: string[] = [];
const logger = createLogger('debug', new Writable({ write: (c: Buffer, _e, cb) => (logLines.push(c.toString()), cb()) }));

function harness(secrets: SecretLike[], answer: (c: RegistryCredential) => CheckOutcome, o: { perMinute?: number; burst?: number; delayMs?: number; intervalMs?: number } = {}) {
  const state = { secrets, inFlight: new Map<string, number>(), maxPerHost: 0, calls: [] as string[], events: [] as string[], docs: [] as ResultsDocument[] };
  const checker = new CredentialChecker({
    secrets: () => state.secrets,
    policy: policy(),
    check: async (c) => {
      state.calls.push(`${c.host} ${c.password ?? ''}`);
      const n = (state.inFlight.get(c.host) ?? 0) + 1;
      state.inFlight.set(c.host, n);
      state.maxPerHost = Math.max(state.maxPerHost, n);
      await sleep(o.delayMs ?? 20);
      state.inFlight.set(c.host, n - 1);
      return answer(c);
    },
    clock: systemClock,
    random: () => 0.5,
    logger,
    recorder: { warn: (obj, reason, message) => state.events.push(`${obj.name} ${reason} ${message}`) },
    publish: async (d) => void state.docs.push(d),
    identity: 'test',
    intervalMs: o.intervalMs ?? 3_600_000,
    perMinute: o.perMinute ?? 600,
    burst: o.burst ?? 10,
    publishDelayMs: 10,
  });
  return { checker, state };
}
const until = async (what: string, fn: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(5);
  }
};
const ok = (): CheckOutcome => ({ result: 'valid', detail: 'ok', status: 200 });

describe('CredentialChecker', () => {
  it('checks only copied sources, each host once, one check per host at a time, even when two sources share it', async () => {
    const secrets = [
      pullSecret('all-icr-io', ['us.icr.io', 'de.icr.io', 'icr.io']),
      pullSecret('default-us-icr-io', ['us.icr.io']),
      pullSecret('docker-hub', ['index.docker.io']), // not a source: never contacted
    ];
    assert.deepEqual(checkTargets(secrets, policy()).map((t) => t.ref), ['default/all-icr-io', 'default/default-us-icr-io']);
    const { checker, state } = harness(secrets, ok);
    checker.start();
    await until('4 results', () => checker.results().every((r) => r.result === 'valid') && checker.results().length === 4);
    await checker.stop();
    assert.equal(state.maxPerHost, 1);
    assert.deepEqual(state.calls.map((c) => c.split(' ')[0]).sort(), ['de.icr.io', 'icr.io', 'us.icr.io', 'us.icr.io']);
    assert.deepEqual(state.events, []);
  });

  it('spends its budget host by host: a burst of 2, then 1 every 200 ms (300 a minute)', async () => {
    const hosts = ['a.icr.io', 'b.icr.io', 'c.icr.io', 'd.icr.io', 'e.icr.io'];
    const { checker, state } = harness([pullSecret('all-icr-io', hosts)], ok, { perMinute: 300, burst: 2, delayMs: 1 });
    const t0 = Date.now();
    const at: number[] = [];
    checker.start();
    await until('5 checks', () => {
      while (at.length < state.calls.length) at.push(Date.now() - t0);
      return state.calls.length === 5;
    });
    await checker.stop();
    assert.ok((at[4] ?? 0) >= 550, `5 checks took ${at.join(', ')} ms: at least 3 x 200 ms after the burst`);
  });

  it('checks a rotation at once, records the Event of a rejection once per version, and recovers', async () => {
    const secrets = [pullSecret('all-icr-io', ['us.icr.io'], { password: 'good', resourceVersion: '1' })];
    const { checker, state } = harness(secrets, (c) => (c.password === 'good' ? ok() : { result: 'rejected', status: 401, detail: 'token realm answered HTTP 401' }));
    checker.start();
    await until('valid', () => checker.results()[0]?.result === 'valid');
    state.secrets = [pullSecret('all-icr-io', ['us.icr.io'], { password: 'bad', resourceVersion: '2' })];
    checker.sourcesChanged();
    await until('rejected', () => checker.results()[0]?.result === 'rejected');
    assert.equal(state.events.length, 1);
    assert.match(state.events[0] ?? '', /^all-icr-io CredentialsRejected registry us\.icr\.io rejected the credentials \(HTTP 401; Secret resourceVersion 2\)/);
    assert.ok(!state.events[0]?.includes('bad'), 'no password in the Event');
    // A label change: same credentials, no new check, but the published version follows.
    const calls = state.calls.length;
    state.secrets = [pullSecret('all-icr-io', ['us.icr.io'], { password: 'bad', resourceVersion: '3', labels: { x: 'y' } })];
    checker.sourcesChanged();
    await until('published at version 3', () => state.docs.at(-1)?.sources[0]?.resourceVersion === '3' && state.docs.at(-1)?.sources[0]?.registries[0]?.result === 'rejected');
    assert.equal(state.calls.length, calls);
    state.secrets = [pullSecret('all-icr-io', ['us.icr.io'], { password: 'good', resourceVersion: '4' })];
    checker.sourcesChanged();
    await until('valid again', () => checker.results()[0]?.result === 'valid');
    await until('published', () => state.docs.at(-1)?.sources[0]?.registries[0]?.result === 'valid');
    assert.equal(state.events.length, 1, 'no Event for a valid result');
    // The source goes: its results go with it.
    state.secrets = [];
    checker.sourcesChanged();
    assert.deepEqual(checker.results(), []);
    await until('published empty', () => state.docs.at(-1)?.sources.length === 0);
    await checker.stop();
    assert.ok(!JSON.stringify(state.docs).includes('good') && !JSON.stringify(state.docs).includes('bad'), 'no password in the published documents');
  });

  it('never contacts a key that is not a host[:port], and shows it as unchecked', async () => {
    const { checker, state } = harness([pullSecret('odd', ['us.icr.io', 'https://evil.example/v2/'], { labels: { 'pullsecret-operator.io/copy': 'true' } })], ok);
    const s = state.secrets[0];
    if (s?.data) s.data['.dockerconfigjson'] = Buffer.from(JSON.stringify({ auths: { 'us.icr.io': { auth: Buffer.from('u:p').toString('base64') }, 'bad host!': { auth: Buffer.from('u:p').toString('base64') } } })).toString('base64');
    checker.start();
    await until('us.icr.io valid', () => checker.results().find((r) => r.host === 'us.icr.io')?.result === 'valid');
    await checker.stop();
    assert.deepEqual(state.calls.map((c) => c.split(' ')[0]), ['us.icr.io']);
    const odd = checker.results().find((r) => r.host !== 'us.icr.io');
    assert.deepEqual([odd?.result, odd?.detail], ['unchecked', 'the registry key is not a host[:port]: not contacted']);
    assert.equal(checker.document().sources[0]?.registries.find((r) => r.host !== 'us.icr.io')?.result, 'unchecked');
  });

  it('records no Event for an unreachable registry', async () => {
    const { checker, state } = harness([pullSecret('all-icr-io', ['us.icr.io'])], () => ({ result: 'unreachable', detail: 'ENOTFOUND' }));
    checker.start();
    await until('unreachable', () => checker.results()[0]?.result === 'unreachable');
    await checker.stop();
    assert.deepEqual(state.events, []);
  });
});
