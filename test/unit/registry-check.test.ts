/**
 * The pure parts of the credential check: challenge parsing, the realm rule, the credentials of a
 * pull secret, the check's decisions on scripted answers (a fake request function: no network),
 * the schedule and the budget, and how status reads published results.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseChallenges, realmRefusal, siteOf } from '../../src/registry/challenge.js';
import { type RegistryRequest, type RegistryResponse, checkCredentials } from '../../src/registry/check.js';
import { registryAddress, registryCredentials } from '../../src/registry/credentials.js';
import { RESULTS_KEY, parseResults, registryStatuses, type ResultsDocument } from '../../src/registry/results.js';
import { CheckBudget, UNREACHABLE_RETRY_MS, nextCheckDelay } from '../../src/registry/schedule.js';
import { DOCKER_CFG } from '../../src/domain/sources.js';
import { b64, pullSecret, secret } from './helpers.js';

describe('parseChallenges', () => {
  const cases: { name: string; header: string | string[]; want: { scheme: string; params: Record<string, string> }[] }[] = [
    { name: 'quoted', header: 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io"', want: [{ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io' } }] },
    { name: 'icr unquoted comma space', header: 'Bearer realm=https://icr.io/oauth/token, service=registry', want: [{ scheme: 'bearer', params: { realm: 'https://icr.io/oauth/token', service: 'registry' } }] },
    { name: 'basic', header: 'Basic realm="pso"', want: [{ scheme: 'basic', params: { realm: 'pso' } }] },
    { name: 'scope with comma in quotes', header: 'Bearer realm="https://r/t",scope="repository:a:pull,push"', want: [{ scheme: 'bearer', params: { realm: 'https://r/t', scope: 'repository:a:pull,push' } }] },
    { name: 'two challenges one header', header: 'Basic realm="a", Bearer realm="https://r/t", service=s', want: [{ scheme: 'basic', params: { realm: 'a' } }, { scheme: 'bearer', params: { realm: 'https://r/t', service: 's' } }] },
    { name: 'two headers', header: ['Basic realm=a', 'BEARER Realm="https://r/t"'], want: [{ scheme: 'basic', params: { realm: 'a' } }, { scheme: 'bearer', params: { realm: 'https://r/t' } }] },
    { name: 'escaped quote', header: 'Basic realm="say \\"hi\\""', want: [{ scheme: 'basic', params: { realm: 'say "hi"' } }] },
    { name: 'spaces around equals', header: 'Bearer realm = "https://r/t" ,service = s', want: [{ scheme: 'bearer', params: { realm: 'https://r/t', service: 's' } }] },
    { name: 'empty', header: '', want: [] },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(parseChallenges(c.header), c.want));
});

describe('realmRefusal', () => {
  const cases: { name: string; registry: string; realm: string; allowed: boolean }[] = [
    { name: 'same host', registry: 'us.icr.io', realm: 'https://us.icr.io/oauth/token', allowed: true },
    { name: 'parent domain', registry: 'us.icr.io', realm: 'https://icr.io/oauth/token', allowed: true },
    { name: 'site sibling', registry: 'registry-1.docker.io', realm: 'https://auth.docker.io/token', allowed: true },
    { name: 'two label host subdomain', registry: 'icr.io', realm: 'https://auth.icr.io/token', allowed: true },
    { name: 'same IP other port', registry: '127.0.0.1:5000', realm: 'https://127.0.0.1:5001/token', allowed: true },
    { name: 'plain HTTP', registry: 'us.icr.io', realm: 'http://us.icr.io/oauth/token', allowed: false },
    { name: 'another domain', registry: 'us.icr.io', realm: 'https://evil.example/token', allowed: false },
    { name: 'lookalike', registry: 'us.icr.io', realm: 'https://icr.io.evil.example/token', allowed: false },
    { name: 'suffix not label', registry: 'us.icr.io', realm: 'https://xicr.io/token', allowed: false },
    { name: 'IP to name', registry: '127.0.0.1:5000', realm: 'https://localhost:5001/token', allowed: false },
    { name: 'other IP', registry: '127.0.0.1:5000', realm: 'https://127.0.0.2/token', allowed: false },
    { name: 'user info', registry: 'us.icr.io', realm: 'https://u:p@us.icr.io/token', allowed: false },
    { name: 'not a URL', registry: 'us.icr.io', realm: 'icr.io/oauth/token', allowed: false },
    { name: 'top level not a site', registry: 'a.io', realm: 'https://b.io/token', allowed: false },
  ];
  for (const c of cases) it(c.name, () => assert.equal(realmRefusal(c.registry, c.realm) === undefined, c.allowed, realmRefusal(c.registry, c.realm)));
  it('site', () => assert.deepEqual(['us.icr.io', 'icr.io', 'localhost', '10.0.0.1'].map(siteOf), ['icr.io', 'icr.io', 'localhost', '10.0.0.1']));
});

describe('registryCredentials', () => {
  it('every host with its credentials port kept', () => {
    const s = secret('x', 'kubernetes.io/dockerconfigjson', {
      '.dockerconfigjson': b64(JSON.stringify({ auths: { 'us.icr.io': { auth: b64('iamapikey:k:with:colons') }, 'https://127.0.0.1:5000/v1/': { username: 'u', password: 'p' }, 'icr.io': { identitytoken: 't' } } })),
    });
    assert.deepEqual(registryCredentials(s), [
      { host: 'us.icr.io', username: 'iamapikey', password: 'k:with:colons' },
      { host: '127.0.0.1:5000', username: 'u', password: 'p' },
      { host: 'icr.io' },
    ]);
  });
  it('legacy dockercfg and duplicates', () => {
    const s = secret('x', DOCKER_CFG, { '.dockercfg': b64(JSON.stringify({ 'registry.ng.bluemix.net': { auth: b64('token:a') }, 'https://registry.ng.bluemix.net': { auth: b64('token:b') } })) });
    assert.deepEqual(registryCredentials(s), [{ host: 'registry.ng.bluemix.net', username: 'token', password: 'a' }]);
  });
  it('garbage', () => assert.deepEqual(registryCredentials(secret('x', 'kubernetes.io/dockerconfigjson', { '.dockerconfigjson': 'bm9wZQ==' })), []));
  it('address', () => assert.deepEqual(['HTTPS://Us.Icr.Io/v2/', 'u@host:443', 'localhost:5000'].map(registryAddress), ['us.icr.io', 'host:443', 'localhost:5000']));
});

// --- the check's decisions, on scripted answers -------------------------------------------------

type Script = (r: RegistryRequest) => Partial<RegistryResponse> | Error;
function fake(script: Script): { request: (r: RegistryRequest) => Promise<RegistryResponse>; log: RegistryRequest[] } {
  const log: RegistryRequest[] = [];
  return {
    log,
    request: async (r) => {
      log.push(r);
      const a = script(r);
      if (a instanceof Error) throw a;
      return { status: a.status ?? 200, headers: a.headers ?? {}, body: a.body ?? Buffer.alloc(0) };
    },
  };
}
const cred = { host: 'reg.example.com', username: 'iamapikey', password: 'SECRET-PW' };
const basicHeader = `Basic ${b64('iamapikey:SECRET-PW')}`;
const json = (o: unknown): Buffer => Buffer.from(JSON.stringify(o));
const noSecrets = (s: string): void => {
  assert.ok(!s.includes('SECRET-PW') && !s.includes('TOKEN-XYZ') && !s.includes(b64('iamapikey:SECRET-PW')), s);
};

describe('checkCredentials', () => {
  it('basic valid', async () => {
    const f = fake((r) => (r.headers['Authorization'] === basicHeader ? { status: 200 } : { status: 401, headers: { 'www-authenticate': 'Basic realm="x"' } }));
    const o = await checkCredentials(cred, f.request);
    assert.equal(o.result, 'valid');
    assert.deepEqual(f.log.map((r) => `${r.method} ${r.url.href} ${r.headers['Authorization'] ? 'auth' : 'anon'}`), ['GET https://reg.example.com/v2/ anon', 'GET https://reg.example.com/v2/ auth']);
  });

  it('basic rejected', async () => {
    const f = fake(() => ({ status: 401, headers: { 'www-authenticate': 'Basic realm="x"' } }));
    const o = await checkCredentials(cred, f.request);
    assert.deepEqual([o.result, o.status], ['rejected', 401]);
    noSecrets(o.detail);
  });

  const bearer = (r: RegistryRequest, realm = 'https://auth.example.com/token', post = 405): Partial<RegistryResponse> => {
    if (r.url.host === 'reg.example.com') return r.headers['Authorization'] === 'Bearer TOKEN-XYZ' ? { status: 200 } : { status: 401, headers: { 'www-authenticate': `Bearer realm=${realm}, service=registry` } };
    if (r.method === 'POST') return { status: post };
    return r.headers['Authorization'] === basicHeader ? { status: 200, body: json({ token: 'TOKEN-XYZ' }) } : { status: 401 };
  };

  it('bearer post refused then get with basic', async () => {
    const f = fake((r) => bearer(r));
    const o = await checkCredentials(cred, f.request);
    assert.equal(o.result, 'valid', o.detail);
    assert.deepEqual(
      f.log.map((r) => `${r.method} ${r.url.origin}${r.url.pathname}${r.url.search}`),
      ['GET https://reg.example.com/v2/', 'POST https://auth.example.com/token', 'GET https://auth.example.com/token?service=registry', 'GET https://reg.example.com/v2/'],
    );
    const form = new URLSearchParams(f.log[1]?.body ?? '');
    assert.deepEqual([form.get('grant_type'), form.get('username'), form.get('password'), form.get('service'), form.get('client_id')], ['password', 'iamapikey', 'SECRET-PW', 'registry', 'pullsecret-operator']);
    noSecrets(o.detail);
  });

  it('bearer post accepted', async () => {
    const f = fake((r) => (r.method === 'POST' ? { status: 200, body: json({ access_token: 'TOKEN-XYZ' }) } : bearer(r)));
    const o = await checkCredentials(cred, f.request);
    assert.equal(o.result, 'valid');
    assert.equal(f.log.length, 3, 'no GET of the realm after a token from the POST');
  });

  it('bearer rejected judged by the get', async () => {
    const f = fake((r) => (r.url.host === 'auth.example.com' ? { status: 401 } : bearer(r)));
    const o = await checkCredentials(cred, f.request);
    assert.deepEqual([o.result, o.status], ['rejected', 401]);
    assert.match(o.detail, /auth\.example\.com\/token/);
  });

  it('registry refuses the token', async () => {
    const f = fake((r) => (r.url.host === 'reg.example.com' ? { status: 401, headers: { 'www-authenticate': 'Bearer realm="https://auth.example.com/token"' } } : bearer(r)));
    assert.equal((await checkCredentials(cred, f.request)).result, 'rejected');
  });

  for (const realm of ['http://auth.example.com/token', 'https://elsewhere.test/token']) {
    it(`realm refused ${realm}`, async () => {
      const f = fake((r) => bearer(r, realm));
      const o = await checkCredentials(cred, f.request);
      assert.equal(o.result, 'unchecked');
      assert.match(o.detail, /refused.*no credentials sent/);
      assert.equal(f.log.length, 1, 'only the anonymous GET');
    });
  }

  it('unreachable', async () => {
    for (const answer of [Object.assign(new Error('getaddrinfo ENOTFOUND reg.example.com'), { code: 'ENOTFOUND' }), { status: 503 }] as const) {
      const f = fake(() => answer);
      assert.equal((await checkCredentials(cred, f.request)).result, 'unreachable');
    }
    const token5xx = fake((r) => (r.url.host === 'auth.example.com' ? { status: 502 } : bearer(r)));
    assert.equal((await checkCredentials(cred, token5xx.request)).result, 'unreachable');
  });

  it('redirect only on the same host', async () => {
    const same = fake((r) => (r.url.pathname === '/v2/' ? { status: 307, headers: { location: '/v2/other/' } } : r.headers['Authorization'] ? { status: 200 } : { status: 401, headers: { 'www-authenticate': 'Basic realm=x' } }));
    assert.equal((await checkCredentials(cred, same.request)).result, 'valid');
    const other = fake(() => ({ status: 302, headers: { location: 'https://evil.example/v2/' } }));
    const o = await checkCredentials(cred, other.request);
    assert.equal(o.result, 'unchecked');
    assert.deepEqual(other.log.map((r) => r.url.host), ['reg.example.com'], 'the other host is never contacted');
  });

  it('no verdicts', async () => {
    assert.equal((await checkCredentials({ host: 'reg.example.com' }, fake(() => ({ status: 200 })).request)).result, 'unchecked');
    assert.equal((await checkCredentials(cred, fake(() => ({ status: 200 })).request)).result, 'unchecked');
    assert.equal((await checkCredentials(cred, fake(() => ({ status: 401, headers: { 'www-authenticate': 'Negotiate' } })).request)).result, 'unchecked');
    const noToken = fake((r) => (r.url.host === 'auth.example.com' ? { status: 200, body: Buffer.from('<html>') } : bearer(r)));
    assert.equal((await checkCredentials(cred, noToken.request)).result, 'unchecked');
  });
});

describe('schedule', () => {
  it('interval with jitter', () => {
    assert.equal(nextCheckDelay('valid', 0, 3_600_000, 0), 3_240_000);
    assert.equal(nextCheckDelay('rejected', 0, 3_600_000, 0.5), 3_600_000);
    assert.ok(nextCheckDelay('valid', 0, 3_600_000, 0.999) < 3_960_000);
  });
  it('unreachable backs off up to the interval', () => {
    assert.deepEqual([1, 2, 3, 10, 40].map((n) => nextCheckDelay('unreachable', n, 600_000, 0.5)), [UNREACHABLE_RETRY_MS, 60_000, 120_000, 600_000, 600_000]);
  });
  it('budget', () => {
    const b = new CheckBudget(30, 2, 0);
    assert.deepEqual([b.take(0), b.take(0), b.take(0)], [true, true, false]);
    assert.equal(b.waitMs(0), 2000);
    assert.equal(b.take(2000), true);
    assert.equal(b.take(2000), false);
  });
});

describe('registryStatuses (status reading published results)', () => {
  const s = pullSecret('all-icr-io', ['us.icr.io', 'de.icr.io'], { resourceVersion: '7' });
  const doc = (rv: string): ResultsDocument => ({
    publisher: 'p',
    publishedAt: '2026-01-01T00:00:00Z',
    sources: [{ source: 'default/all-icr-io', resourceVersion: rv, registries: [{ host: 'us.icr.io', result: 'rejected', checkedAt: '2026-01-01T00:00:00Z', detail: 'HTTP 401' }] }],
  });
  it('current', () => {
    assert.deepEqual(registryStatuses(s, 'default/all-icr-io', doc('7'), 'none').map((r) => [r.host, r.result]), [['us.icr.io', 'rejected'], ['de.icr.io', 'unchecked']]);
  });
  it('stale version is unchecked', () => {
    const [us] = registryStatuses(s, 'default/all-icr-io', doc('6'), 'none');
    assert.equal(us?.result, 'unchecked');
    assert.match(us?.detail ?? '', /changed after the last check \(which was: rejected\)/);
  });
  it('no document', () => assert.deepEqual(registryStatuses(s, 'default/all-icr-io', undefined, 'no ConfigMap').map((r) => r.detail), ['no ConfigMap', 'no ConfigMap']));
  it('parse', () => {
    assert.deepEqual(parseResults({ [RESULTS_KEY]: JSON.stringify(doc('7')) }), doc('7'));
    assert.ok('error' in parseResults({}));
    assert.ok('error' in parseResults({ [RESULTS_KEY]: '{' }));
  });
});
