/**
 * The credential check against a real registry (distribution v3, test/node/build.sh) on
 * 127.0.0.1 with TLS from a test CA the operator trusts through NODE_EXTRA_CA_CERTS: in htpasswd
 * mode (Basic), and in token mode (Bearer) behind the test harness's token issuer (ES256, its
 * certificate in the registry's rootcertbundle; the registry checks signature, iss and aud). The
 * operator runs under the manifests' identity and admission policy (Scenario), publishes its
 * results in the ConfigMap of its namespace, and status reads them under the read-only role of
 * manifests/status-reader.yaml. Judged from the operator's /metrics, the API server's Events and
 * ConfigMap, status's output, and what the issuer recorded. Every source names a loopback
 * registry: no test traffic leaves 127.0.0.0/8.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CoreV1Event } from '@kubernetes/client-node';
import { CREDENTIALS_CONFIGMAP } from '../../src/registry/results.js';
import { installStatusReader } from '../harness/manifests.js';
import { startOperator } from '../harness/operator.js';
import { type RegistryPki, type TestRegistry, TokenIssuer, dockerConfig, makeRegistryPki, registryBinary, startRegistry } from '../harness/registry.js';
import { Scenario, identityNamespace, orUndefined } from '../harness/scenario.js';

const USER = 'pso';
const GOOD = `good-${Math.random().toString(36).slice(2)}`;
const BAD = `wrong-${Math.random().toString(36).slice(2)}`;
const SERVICE = 'pso-test-registry';
const ISSUER = 'pso-test-issuer';
/** Short enough for the "registry stopped" case to be seen at a periodic check; 6 sources stay within the 30 checks a minute. */
const INTERVAL_S = 15;

interface RegistryEntry {
  host: string;
  result: string;
  checkedAt: string | null;
  detail: string;
}
interface Report {
  sources: { name: string; ref: string; copied: boolean; registries: RegistryEntry[] }[];
}

describe('the credential check, against a real registry', () => {
  const s = new Scenario('creds');
  const tmp = mkdtempSync(join(tmpdir(), 'pso-creds-'));
  const opNamespace = identityNamespace();
  const issuer = (pki: RegistryPki): TokenIssuer => new TokenIssuer(pki, ISSUER, SERVICE);
  let tokens: TokenIssuer;
  let basic: TestRegistry;
  let token: TestRegistry;
  let httpRealm: TestRegistry;
  let otherRealm: TestRegistry;
  let readerKubeconfig = '';
  let reader: { kubeconfigPath: string; remove(): Promise<void> } | undefined;
  const ref = (name: string): string => `${s.source}/${name}`;

  const putSource = async (name: string, host: string, password: string): Promise<void> => {
    const body = { metadata: { name, labels: { 'pullsecret-operator.io/copy': 'true' } }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': dockerConfig(host, USER, password) } };
    const existing = await s.secret(s.source, name);
    if (existing) await s.core.replaceNamespacedSecret({ namespace: s.source, name, body: { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion } } });
    else await s.core.createNamespacedSecret({ namespace: s.source, body });
  };

  /** The state set of one (source, registry) from the operator's /metrics: the result whose series is 1, checked to be the only one. */
  const metric = async (name: string, host: string): Promise<string | undefined> => {
    const text = await (await fetch(`http://127.0.0.1:${s.operator?.httpPort}/metrics`)).text();
    const states = new Map<string, number>();
    for (const line of text.split('\n')) {
      if (!line.startsWith('pullsecret_operator_source_credentials{')) continue;
      const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
      if (labels['source'] === ref(name) && labels['registry'] === host) states.set(labels['result'] ?? '', Number(line.split(' ').pop()));
    }
    if (states.size === 0) return undefined;
    assert.deepEqual([...states.keys()].sort(), ['rejected', 'unchecked', 'unreachable', 'valid'], 'every state of the set is exported');
    const on = [...states].filter(([, v]) => v === 1).map(([k]) => k);
    assert.equal(on.length, 1, `exactly one state is 1: ${JSON.stringify([...states])}`);
    assert.equal([...states.values()].reduce((a, b) => a + b, 0), 1);
    return on[0];
  };
  const waitForResult = (name: string, host: string, result: string, timeoutMs = 20_000): Promise<true> => s.waitFor(`${name} at ${host}: ${result}`, async () => (await metric(name, host)) === result || undefined, timeoutMs);

  const rejectedEvents = async (name: string): Promise<CoreV1Event[]> =>
    (await s.core.listNamespacedEvent({ namespace: s.source, fieldSelector: `involvedObject.name=${name},reason=CredentialsRejected` })).items;
  const warnings = async (name: string): Promise<CoreV1Event[]> => (await s.core.listNamespacedEvent({ namespace: s.source, fieldSelector: `involvedObject.name=${name},type=Warning` })).items;

  const status = async (output: 'json' | 'table'): Promise<{ code: number | null; out: string; err: string }> => {
    const op = await startOperator({ kubeconfig: readerKubeconfig, args: ['status', '-o', output, '--operator-namespace', opNamespace, ...s.args()], waitSynced: false });
    const { code } = await op.exited;
    return { code, out: op.stdout(), err: op.stderr() };
  };
  const noSecretIn = (what: string, text: string): void => {
    for (const p of [GOOD, BAD, Buffer.from(`${USER}:${GOOD}`).toString('base64'), Buffer.from(`${USER}:${BAD}`).toString('base64')]) assert.ok(!text.includes(p), `${what} holds no password or auth header`);
    assert.ok(!/Bearer ey|"token"|access_token/.test(text), `${what} holds no token`);
  };

  before(async () => {
    const [pki, bin] = await Promise.all([makeRegistryPki(join(tmp, 'pki')), registryBinary()]);
    tokens = issuer(pki);
    tokens.users.set(USER, GOOD);
    // As some token services do: the OAuth2 POST is refused, so the check must fall back to a GET with Basic auth.
    tokens.refusePost = true;
    const realm = await tokens.listenHttps('127.0.0.1');
    const plain = await tokens.listenHttp('127.0.0.1');
    // Another host (127.0.0.2, in the serving certificate): a realm there would get the request, and record it.
    const other = await tokens.listenHttps('127.0.0.2');
    const start = (name: string, auth: Parameters<typeof startRegistry>[0]['auth']): Promise<TestRegistry> => startRegistry({ bin, dir: tmp, pki, name, auth });
    const t = (r: string): Parameters<typeof startRegistry>[0]['auth'] => ({ token: { realm: `${r}/token`, service: SERVICE, issuer: ISSUER } });
    [basic, token, httpRealm, otherRealm] = await Promise.all([start('basic', { htpasswd: { username: USER, password: GOOD } }), start('token', t(realm)), start('http-realm', t(plain)), start('other-realm', t(other))]);

    await s.setUp({ fixtures: false });
    await putSource('basic-good', basic.host, GOOD);
    await putSource('basic-wrong', basic.host, BAD);
    await putSource('token-good', token.host, GOOD);
    await putSource('token-wrong', token.host, BAD);
    await putSource('realm-http', httpRealm.host, GOOD);
    await putSource('realm-other', otherRealm.host, GOOD);

    // The read-only user: a ServiceAccount bound to manifests/status-reader.yaml, and nothing else.
    const r = await installStatusReader(s.kc, s.source, s.id, join(tmp, 'reader'));
    reader = r;
    readerKubeconfig = r.kubeconfigPath;

    // The operator as the manifests run it (their ServiceAccount, RBAC and admission policy), the
    // check on, its results published in its own namespace, the test CA trusted the standard way.
    await s.startOperator(['--verify-credentials', '--verify-interval', `${INTERVAL_S}s`, '--operator-namespace', opNamespace], { NODE_EXTRA_CA_CERTS: pki.caCert });
  });

  after(async () => {
    await s.tearDown();
    await Promise.all([basic, token, httpRealm, otherRealm].map((r) => r?.stop()));
    await tokens?.close();
    await orUndefined(s.core.deleteNamespacedConfigMap({ namespace: opNamespace, name: CREDENTIALS_CONFIGMAP }));
    await reader?.remove();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('valid credentials: valid by Basic (htpasswd) and by Bearer (token realm: OAuth2 POST refused, GET with Basic auth, the token accepted by the registry)', async () => {
    await waitForResult('basic-good', basic.host, 'valid');
    await waitForResult('token-good', token.host, 'valid');
    // containerd's order, as the issuer saw it: the POST first (refused), then the GET with Basic auth.
    const seen = tokens.requests.filter((r) => r.username === USER && r.listener.startsWith('https://127.0.0.1:')).map((r) => r.method);
    assert.ok(seen.includes('POST') && seen.includes('GET') && seen.indexOf('POST') < seen.lastIndexOf('GET'), seen.join());
  });

  it('a wrong password: rejected, a Warning Event CredentialsRejected naming the host and the HTTP status, an info log line, and status (read-only role) exits 1 and says so', async (t) => {
    await waitForResult('basic-wrong', basic.host, 'rejected');
    await waitForResult('token-wrong', token.host, 'rejected');
    for (const [name, host] of [['basic-wrong', basic.host], ['token-wrong', token.host]] as const) {
      const [ev] = await s.waitFor(`the Event on ${name}`, async () => {
        const l = await rejectedEvents(name);
        return l.length > 0 && l;
      });
      assert.equal(ev?.type, 'Warning');
      assert.equal(ev?.involvedObject.kind, 'Secret');
      assert.match(ev?.message ?? '', new RegExp(`registry ${host.replace(/\./g, '\\.')} rejected the credentials \\(HTTP 401`));
      noSecretIn('the Event', JSON.stringify(ev));
    }
    const log = await s.operator?.waitForLog((l) => l.message === 'registry rejected the credentials of a source' && l['source'] === ref('basic-wrong'), 5000, 'the info line');
    assert.equal(log?.level, 'info');
    assert.equal(log?.['registry'], basic.host);

    // The leader publishes within about a second of a result.
    const { json, report } = await s.waitFor('status showing both rejections', async () => {
      const j = await status('json');
      const r = JSON.parse(j.out) as Report;
      const results = r.sources.filter((x) => x.name.endsWith('-wrong')).map((x) => x.registries[0]?.result);
      return results.join() === 'rejected,rejected' && { json: j, report: r };
    });
    assert.equal(json.code, 1, json.err);
    const regs = (name: string): RegistryEntry[] => report.sources.find((x) => x.name === name)?.registries ?? [];
    assert.deepEqual(Object.keys(regs('basic-wrong')[0] ?? {}).sort(), ['checkedAt', 'detail', 'host', 'result']);
    assert.deepEqual(regs('basic-wrong').map((r) => [r.host, r.result]), [[basic.host, 'rejected']]);
    assert.deepEqual(regs('token-wrong').map((r) => [r.host, r.result]), [[token.host, 'rejected']]);
    assert.deepEqual(regs('basic-good').map((r) => [r.host, r.result]), [[basic.host, 'valid']]);
    assert.ok(!Number.isNaN(Date.parse(regs('basic-wrong')[0]?.checkedAt ?? '')), 'checkedAt is a time');
    const table = await status('table');
    assert.equal(table.code, 1);
    assert.match(table.out, /SOURCE\s+REGISTRY\s+CREDENTIALS\s+CHECKED\s+DETAIL/);
    assert.match(table.out, new RegExp(`credentials rejected by the registry: .*${ref('basic-wrong')} at ${basic.host.replace(/\./g, '\\.')}`));
    t.diagnostic(table.out.split('\n').filter((l) => l.includes(s.source) && l.includes('127.0.0.1')).join('\n'));

    // Nothing secret where anyone with the read-only role, or the logs, can see it.
    const cm = await s.core.readNamespacedConfigMap({ namespace: opNamespace, name: CREDENTIALS_CONFIGMAP });
    noSecretIn('the ConfigMap', JSON.stringify(cm.data));
    noSecretIn('status', json.out + table.out);
    noSecretIn("the operator's log", s.operator?.stderr() ?? '');
  });

  it('a rotation to a bad password is reported within seconds, and a rotation back recovers', async (t) => {
    await waitForResult('basic-good', basic.host, 'valid');
    const t0 = Date.now();
    await putSource('basic-good', basic.host, BAD);
    await waitForResult('basic-good', basic.host, 'rejected', 10_000);
    const rejectedIn = Date.now() - t0;
    await s.waitFor('the Event of the rotation', async () => (await rejectedEvents('basic-good')).length === 1);
    const t1 = Date.now();
    await putSource('basic-good', basic.host, GOOD);
    await waitForResult('basic-good', basic.host, 'valid', 10_000);
    const recoveredIn = Date.now() - t1;
    t.diagnostic(`rotation to a bad password -> rejected in the metric: ${rejectedIn} ms; rotation back -> valid: ${recoveredIn} ms`);
    // status agrees once the leader has published (it shows a result only for the source's current version).
    await s.waitFor('status: valid again', async () => {
      const r = JSON.parse((await status('json')).out) as Report;
      return r.sources.find((x) => x.name === 'basic-good')?.registries[0]?.result === 'valid';
    });
  });

  it('a realm on plain http or on another host is refused, with no credentials sent (as the issuer records)', async () => {
    await waitForResult('realm-http', httpRealm.host, 'unchecked');
    await waitForResult('realm-other', otherRealm.host, 'unchecked');
    const r = JSON.parse((await status('json')).out) as Report;
    for (const name of ['realm-http', 'realm-other']) assert.match(r.sources.find((x) => x.name === name)?.registries[0]?.detail ?? '', /refused: .*no credentials sent/, name);
    const elsewhere = tokens.requests.filter((x) => !x.listener.startsWith('https://127.0.0.1:'));
    assert.deepEqual(elsewhere, [], 'nothing reached the http listener or the other host');
    assert.ok(tokens.withCredentials().length > 0, 'the issuer does record credentials (the valid case sent some)');
  });

  it('the registry stopped: unreachable, with no Warning', async (t) => {
    await waitForResult('basic-good', basic.host, 'valid');
    const before = new Map<string, number>();
    for (const name of ['basic-good', 'basic-wrong']) before.set(name, (await warnings(name)).length);
    const t0 = Date.now();
    await basic.stop();
    // Seen at the next periodic check: --verify-interval with 10% jitter.
    await waitForResult('basic-good', basic.host, 'unreachable', INTERVAL_S * 1100 + 10_000);
    await waitForResult('basic-wrong', basic.host, 'unreachable', INTERVAL_S * 1100 + 10_000);
    t.diagnostic(`registry stopped -> unreachable in the metric: ${Date.now() - t0} ms (--verify-interval ${INTERVAL_S}s)`);
    await new Promise((r) => setTimeout(r, 1000)); // an Event would be on its way by now
    for (const name of ['basic-good', 'basic-wrong']) assert.equal((await warnings(name)).length, before.get(name), `no new Warning on ${name}`);
    const r = JSON.parse((await status('json')).out) as Report;
    assert.equal(r.sources.find((x) => x.name === 'basic-good')?.registries[0]?.result, 'unreachable');
  });
});
