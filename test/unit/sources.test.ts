import assert from 'node:assert/strict';
import { test } from 'node:test';

import { COPY_LABEL } from '../../src/domain/naming.js';
import {
  type Classification,
  DEFAULT_REGISTRY_HOSTS,
  DOCKER_CFG,
  DOCKER_CONFIG_JSON,
  classifySource,
  parseRegistries,
  registryHost,
} from '../../src/domain/sources.js';
import type { SecretLike } from '../../src/domain/types.js';
import { b64, fixtureSecret, fixtureSecrets, pullSecret, secret } from './helpers.js';

const hostCases: { name: string; key: string; want: string }[] = [
  { name: 'bare host', key: 'us.icr.io', want: 'us.icr.io' },
  { name: 'docker hub URL', key: 'https://index.docker.io/v1/', want: 'index.docker.io' },
  { name: 'HTTP scheme is dropped', key: 'http://registry.ng.bluemix.net', want: 'registry.ng.bluemix.net' },
  { name: 'port is dropped', key: 'us.icr.io:443', want: 'us.icr.io' },
  { name: 'URL with port and path', key: 'https://de.icr.io:5000/v2/', want: 'de.icr.io' },
  { name: 'uppercase is lowered', key: 'HTTPS://US.ICR.IO/V1/', want: 'us.icr.io' },
  { name: 'surrounding space is trimmed', key: '  icr.io  ', want: 'icr.io' },
  { name: 'host with path', key: 'uk.icr.io/my-namespace', want: 'uk.icr.io' },
  { name: 'localhost with port', key: 'localhost:5000', want: 'localhost' },
  // kubelet parses keys with url.Parse("https://" + key): a query or a fragment is not part of the host.
  { name: 'query is not part of host', key: 'evil.example?.icr.io', want: 'evil.example' },
  { name: 'fragment is not part of host', key: 'https://evil.example#.icr.io', want: 'evil.example' },
];

for (const c of hostCases) {
  test(`registryHost: ${c.name}`, () => {
    assert.equal(registryHost(c.key), c.want);
  });
}

test('parseRegistries: fixture all-icr-io lists every icr domain', () => {
  assert.deepEqual(parseRegistries(fixtureSecret('all-icr-io')), {
    hosts: [
      'icr.io',
      'us.icr.io',
      'uk.icr.io',
      'de.icr.io',
      'au.icr.io',
      'jp.icr.io',
      'jp2.icr.io',
      'br.icr.io',
      'ca.icr.io',
      'es.icr.io',
      'private.icr.io',
      'private.us.icr.io',
      'private.uk.icr.io',
      'private.de.icr.io',
      'private.au.icr.io',
      'private.jp.icr.io',
      'private.jp2.icr.io',
      'private.br.icr.io',
      'private.ca.icr.io',
      'private.es.icr.io',
    ],
  });
});

const fixtureCases: { name: string; secret: string; want: Classification['kind']; hosts?: string[] }[] = [
  { name: 'all-icr-io is source', secret: 'all-icr-io', want: 'source' },
  { name: 'default icr.io is source', secret: 'default-icr-io', want: 'source', hosts: ['icr.io'] },
  { name: 'default us icr.io is source', secret: 'default-us-icr-io', want: 'source', hosts: ['us.icr.io'] },
  { name: 'default uk icr.io is source', secret: 'default-uk-icr-io', want: 'source', hosts: ['uk.icr.io'] },
  { name: 'legacy bluemix dockercfg is source', secret: 'bluemix-default-secret-regional', want: 'source', hosts: ['registry.ng.bluemix.net'] },
  { name: 'docker hub pull secret is ignored', secret: 'dockerhub-creds', want: 'ignored' },
  { name: 'opaque secret is ignored', secret: 'app-config', want: 'ignored' },
];

for (const c of fixtureCases) {
  test(`classifySource fixture: ${c.name}`, () => {
    const got = classifySource(fixtureSecret(c.secret), DEFAULT_REGISTRY_HOSTS);
    assert.equal(got.kind, c.want, JSON.stringify(got));
    if (c.hosts) assert.deepEqual(got, { kind: 'source', hosts: c.hosts });
  });
}

test('classifySource fixture: every fixture secret is covered', () => {
  assert.deepEqual(
    fixtureSecrets().map((s) => s.metadata.name).sort(),
    fixtureCases.map((c) => c.secret).sort(),
  );
});

const copyTrue = { [COPY_LABEL]: 'true' };
const copyFalse = { [COPY_LABEL]: 'false' };
const cfgJson = (text: string): SecretLike => secret('s', DOCKER_CONFIG_JSON, { '.dockerconfigjson': b64(text) });
const cfg = (text: string): SecretLike => secret('s', DOCKER_CFG, { '.dockercfg': b64(text) });

const classifyCases: { name: string; secret: SecretLike; hosts?: readonly string[]; want: Classification }[] = [
  // Hosts.
  { name: 'apex icr.io is source', secret: pullSecret('s', ['icr.io']), want: { kind: 'source', hosts: ['icr.io'] } },
  { name: 'private regional icr is source', secret: pullSecret('s', ['private.us.icr.io']), want: { kind: 'source', hosts: ['private.us.icr.io'] } },
  { name: 'legacy registry bluemix is source', secret: pullSecret('s', ['registry.bluemix.net']), want: { kind: 'source', hosts: ['registry.bluemix.net'] } },
  { name: 'legacy regional bluemix is source', secret: pullSecret('s', ['registry.eu-de.bluemix.net']), want: { kind: 'source', hosts: ['registry.eu-de.bluemix.net'] } },
  { name: 'URL key with port is source', secret: pullSecret('s', ['https://US.ICR.IO:443/v2/']), want: { kind: 'source', hosts: ['us.icr.io'] } },
  { name: 'dockercfg icr is source', secret: pullSecret('s', ['us.icr.io'], { type: DOCKER_CFG }), want: { kind: 'source', hosts: ['us.icr.io'] } },
  {
    name: 'one non IBM host makes it ignored',
    secret: pullSecret('s', ['us.icr.io', 'docker.io']),
    want: { kind: 'ignored', reason: 'has registry hosts outside the configured list: docker.io' },
  },
  {
    name: 'lookalike host is ignored',
    secret: pullSecret('s', ['icr.io.evil.example']),
    want: { kind: 'ignored', reason: 'has registry hosts outside the configured list: icr.io.evil.example' },
  },
  {
    name: 'bluemix non registry host is ignored',
    secret: pullSecret('s', ['api.ng.bluemix.net']),
    want: { kind: 'ignored', reason: 'has registry hosts outside the configured list: api.ng.bluemix.net' },
  },
  {
    // kubelet reads the host of this key as evil.example and would send the credentials there.
    name: 'key with query ending in icr is not source',
    secret: pullSecret('s', ['evil.example?.icr.io']),
    want: { kind: 'ignored', reason: 'has registry hosts outside the configured list: evil.example' },
  },
  // Configured hosts.
  {
    name: 'configured hosts replace defaults',
    secret: pullSecret('s', ['us.icr.io']),
    hosts: ['quay.io'],
    want: { kind: 'ignored', reason: 'has registry hosts outside the configured list: us.icr.io' },
  },
  { name: 'configured host is source', secret: pullSecret('s', ['quay.io']), hosts: ['quay.io'], want: { kind: 'source', hosts: ['quay.io'] } },
  { name: 'configured pattern is case insensitive', secret: pullSecret('s', ['Registry.Corp.Example']), hosts: ['*.CORP.example'], want: { kind: 'source', hosts: ['registry.corp.example'] } },
  // The copy label.
  { name: 'copy true makes docker hub secret source', secret: pullSecret('s', ['https://index.docker.io/v1/'], { labels: copyTrue }), want: { kind: 'source', hosts: ['index.docker.io'] } },
  { name: 'copy false never source', secret: pullSecret('s', ['us.icr.io'], { labels: copyFalse }), want: { kind: 'ignored', reason: `labelled ${COPY_LABEL}=false` } },
  {
    name: 'copy false on garbage is ignored not invalid',
    secret: secret('s', DOCKER_CONFIG_JSON, { '.dockerconfigjson': '%%%' }, { labels: copyFalse }),
    want: { kind: 'ignored', reason: `labelled ${COPY_LABEL}=false` },
  },
  {
    name: 'copy true on opaque is invalid',
    secret: secret('s', 'Opaque', { token: b64('x') }, { labels: copyTrue }),
    want: { kind: 'invalid', reason: `labelled ${COPY_LABEL}=true but its type "Opaque" is not a pull secret type` },
  },
  { name: 'copy true on garbage is invalid', secret: secret('s', DOCKER_CONFIG_JSON, { '.dockerconfigjson': '%%%' }, { labels: copyTrue }), want: { kind: 'invalid', reason: '".dockerconfigjson" is not base64-encoded JSON' } },
  { name: 'other copy label value is ignored for hosts', secret: pullSecret('s', ['docker.io'], { labels: { [COPY_LABEL]: 'yes' } }), want: { kind: 'ignored', reason: 'has registry hosts outside the configured list: docker.io' } },
  // Types.
  { name: 'opaque is ignored', secret: secret('s', 'Opaque', { token: b64('x') }), want: { kind: 'ignored', reason: 'not a pull secret' } },
  { name: 'missing type is ignored', secret: secret('s', undefined, { token: b64('x') }), want: { kind: 'ignored', reason: 'not a pull secret' } },
  { name: 'ServiceAccount token is ignored', secret: secret('s', 'kubernetes.io/service-account-token', {}), want: { kind: 'ignored', reason: 'not a pull secret' } },
  // Data that does not parse.
  { name: 'garbage base 64 is invalid', secret: secret('s', DOCKER_CONFIG_JSON, { '.dockerconfigjson': '!!not base64!!' }), want: { kind: 'invalid', reason: '".dockerconfigjson" is not base64-encoded JSON' } },
  { name: 'base 64 of non JSON is invalid', secret: cfgJson('{"auths": '), want: { kind: 'invalid', reason: '".dockerconfigjson" is not base64-encoded JSON' } },
  { name: 'JSON array is invalid', secret: cfgJson('[]'), want: { kind: 'invalid', reason: '".dockerconfigjson" is not a JSON object' } },
  { name: 'JSON null is invalid', secret: cfgJson('null'), want: { kind: 'invalid', reason: '".dockerconfigjson" is not a JSON object' } },
  { name: 'no auths is invalid', secret: cfgJson('{}'), want: { kind: 'invalid', reason: '".dockerconfigjson" has no "auths" object' } },
  { name: 'auths not object is invalid', secret: cfgJson('{"auths":["icr.io"]}'), want: { kind: 'invalid', reason: '".dockerconfigjson" has no "auths" object' } },
  { name: 'empty auths is invalid', secret: cfgJson('{"auths":{}}'), want: { kind: 'invalid', reason: '".dockerconfigjson" lists no registry' } },
  { name: 'entry not object is invalid', secret: cfgJson('{"auths":{"us.icr.io":"x"}}'), want: { kind: 'invalid', reason: 'the entry for registry "us.icr.io" is not an object' } },
  { name: 'empty dockercfg is invalid', secret: cfg('{}'), want: { kind: 'invalid', reason: '".dockercfg" lists no registry' } },
  { name: 'dockercfg garbage is invalid', secret: secret('s', DOCKER_CFG, { '.dockercfg': 'garbage' }), want: { kind: 'invalid', reason: '".dockercfg" is not base64-encoded JSON' } },
  { name: 'missing key is invalid', secret: secret('s', DOCKER_CONFIG_JSON, { '.dockercfg': b64('{}') }), want: { kind: 'invalid', reason: 'data has no ".dockerconfigjson" key' } },
  { name: 'empty value is invalid', secret: secret('s', DOCKER_CONFIG_JSON, { '.dockerconfigjson': '' }), want: { kind: 'invalid', reason: 'data has no ".dockerconfigjson" key' } },
  { name: 'no data is invalid', secret: secret('s', DOCKER_CFG, undefined), want: { kind: 'invalid', reason: 'data has no ".dockercfg" key' } },
  { name: 'unparsable docker hub secret is invalid', secret: secret('s', DOCKER_CONFIG_JSON, { '.dockerconfigjson': b64('not json') }), want: { kind: 'invalid', reason: '".dockerconfigjson" is not base64-encoded JSON' } },
];

for (const c of classifyCases) {
  test(`classifySource: ${c.name}`, () => {
    assert.deepEqual(classifySource(c.secret, c.hosts ?? DEFAULT_REGISTRY_HOSTS), c.want);
  });
}

test('classifySource: a pull secret whose data is over the size limit is invalid (reported, never copied), checked before parsing', () => {
  const big = fixtureSecret('all-icr-io');
  const bytes = Object.values(big.data ?? {}).reduce((n, v) => n + Buffer.from(v, 'base64').length, 0);
  assert.deepEqual(classifySource(big, DEFAULT_REGISTRY_HOSTS, bytes).kind, 'source', 'at the limit: copied');
  const over = classifySource(big, DEFAULT_REGISTRY_HOSTS, bytes - 1);
  assert.equal(over.kind, 'invalid');
  assert.match(over.kind === 'invalid' ? over.reason : '', new RegExp(`its data is ${bytes} bytes, over the limit of ${bytes - 1} \\(--max-source-size\\)`));
  const garbage = { metadata: { name: 'x', namespace: 'default' }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': Buffer.alloc(2048, 'x').toString('base64') } };
  const r = classifySource(garbage, DEFAULT_REGISTRY_HOSTS, 1024);
  assert.match(r.kind === 'invalid' ? r.reason : '', /over the limit/, 'size first: a huge unparseable secret is not parsed');
});
