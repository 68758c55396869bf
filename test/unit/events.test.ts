import assert from 'node:assert/strict';
import { test } from 'node:test';

import { keysForSourceChange, sourceRelevant } from '../../src/controller/events.js';
import { COPY_LABEL } from '../../src/domain/naming.js';
import { DOCKER_CFG } from '../../src/domain/sources.js';
import type { SecretLike } from '../../src/domain/types.js';
import { b64, fixtureSecret, pullSecret, secret } from './helpers.js';

const NAMESPACES = ['default', 'kube-system', 'team-a', 'team-b'];
const FAN_OUT = ['default', 'kube-system', 'team-a', 'team-b'];

const rv = (s: SecretLike, resourceVersion: string): SecretLike => ({ ...s, metadata: { ...s.metadata, resourceVersion } });
const opaque = (labels?: Record<string, string>): SecretLike => secret('app-config', 'Opaque', { token: b64('x') }, labels ? { labels } : {});
const usIcr = pullSecret('default-us-icr-io', ['us.icr.io']);

const relevantCases: { name: string; secret: SecretLike | undefined; want: boolean }[] = [
  { name: 'nothing is irrelevant', secret: undefined, want: false },
  { name: 'opaque is irrelevant', secret: fixtureSecret('app-config'), want: false },
  { name: 'dockerconfigjson is relevant', secret: usIcr, want: true },
  { name: 'dockercfg is relevant', secret: fixtureSecret('bluemix-default-secret-regional'), want: true },
  { name: 'non IBM pull secret is relevant', secret: fixtureSecret('dockerhub-creds'), want: true },
  { name: 'opaque with copy label is relevant', secret: opaque({ [COPY_LABEL]: 'true' }), want: true },
  { name: 'opaque with copy false is relevant', secret: opaque({ [COPY_LABEL]: 'false' }), want: true },
];

for (const c of relevantCases) {
  test(`sourceRelevant: ${c.name}`, () => {
    assert.equal(sourceRelevant(c.secret), c.want);
  });
}

const keyCases: { name: string; obj: SecretLike; old: SecretLike | undefined; namespaces?: string[]; want: string[] }[] = [
  { name: 'irrelevant opaque add enqueues nothing', obj: rv(opaque(), '1'), old: undefined, want: [] },
  { name: 'irrelevant opaque update enqueues nothing', obj: rv(opaque(), '2'), old: rv(opaque(), '1'), want: [] },
  { name: 'pull secret add fans out to every namespace', obj: rv(usIcr, '1'), old: undefined, want: FAN_OUT },
  { name: 'pull secret update fans out', obj: rv(pullSecret('default-us-icr-io', ['us.icr.io'], { password: 'new' }), '2'), old: rv(usIcr, '1'), want: FAN_OUT },
  { name: 'pull secret delete fans out', obj: rv(usIcr, '3'), old: undefined, want: FAN_OUT },
  { name: 'dockercfg fans out', obj: rv(pullSecret('bluemix-default-secret-regional', ['registry.ng.bluemix.net'], { type: DOCKER_CFG }), '1'), old: undefined, want: FAN_OUT },
  { name: 'resync with same resourceVersion enqueues nothing', obj: rv(usIcr, '5'), old: rv(usIcr, '5'), want: [] },
  { name: 'copy label added to opaque fans out', obj: rv(opaque({ [COPY_LABEL]: 'true' }), '2'), old: rv(opaque(), '1'), want: FAN_OUT },
  { name: 'copy label removed from opaque fans out', obj: rv(opaque(), '2'), old: rv(opaque({ [COPY_LABEL]: 'true' }), '1'), want: FAN_OUT },
  {
    name: 'source namespace comes first once',
    obj: rv(usIcr, '1'),
    old: undefined,
    namespaces: ['team-b', 'default', 'team-a'],
    want: ['default', 'team-b', 'team-a'],
  },
  { name: 'source namespace enqueued even when not listed', obj: rv(usIcr, '1'), old: undefined, namespaces: [], want: ['default'] },
];

for (const c of keyCases) {
  test(`keysForSourceChange: ${c.name}`, () => {
    assert.deepEqual(
      keysForSourceChange(c.obj, c.old, 'default', () => [...(c.namespaces ?? NAMESPACES)]),
      c.want,
    );
  });
}

test('keysForSourceChange: configured source namespace comes first', () => {
  assert.deepEqual(keysForSourceChange(rv(usIcr, '1'), undefined, 'ibm-secrets', () => ['default', 'ibm-secrets', 'team-a']), ['ibm-secrets', 'default', 'team-a']);
});
