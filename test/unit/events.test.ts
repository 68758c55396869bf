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
  { name: 'TestNothingIsIrrelevant', secret: undefined, want: false },
  { name: 'TestOpaqueIsIrrelevant', secret: fixtureSecret('app-config'), want: false },
  { name: 'TestDockerConfigJsonIsRelevant', secret: usIcr, want: true },
  { name: 'TestDockerCfgIsRelevant', secret: fixtureSecret('bluemix-default-secret-regional'), want: true },
  { name: 'TestNonIbmPullSecretIsRelevant', secret: fixtureSecret('dockerhub-creds'), want: true },
  { name: 'TestOpaqueWithCopyLabelIsRelevant', secret: opaque({ [COPY_LABEL]: 'true' }), want: true },
  { name: 'TestOpaqueWithCopyFalseIsRelevant', secret: opaque({ [COPY_LABEL]: 'false' }), want: true },
];

for (const c of relevantCases) {
  test(`sourceRelevant: ${c.name}`, () => {
    assert.equal(sourceRelevant(c.secret), c.want);
  });
}

const keyCases: { name: string; obj: SecretLike; old: SecretLike | undefined; namespaces?: string[]; want: string[] }[] = [
  { name: 'TestIrrelevantOpaqueAddEnqueuesNothing', obj: rv(opaque(), '1'), old: undefined, want: [] },
  { name: 'TestIrrelevantOpaqueUpdateEnqueuesNothing', obj: rv(opaque(), '2'), old: rv(opaque(), '1'), want: [] },
  { name: 'TestPullSecretAddFansOutToEveryNamespace', obj: rv(usIcr, '1'), old: undefined, want: FAN_OUT },
  { name: 'TestPullSecretUpdateFansOut', obj: rv(pullSecret('default-us-icr-io', ['us.icr.io'], { password: 'new' }), '2'), old: rv(usIcr, '1'), want: FAN_OUT },
  { name: 'TestPullSecretDeleteFansOut', obj: rv(usIcr, '3'), old: undefined, want: FAN_OUT },
  { name: 'TestDockerCfgFansOut', obj: rv(pullSecret('bluemix-default-secret-regional', ['registry.ng.bluemix.net'], { type: DOCKER_CFG }), '1'), old: undefined, want: FAN_OUT },
  { name: 'TestResyncWithSameResourceVersionEnqueuesNothing', obj: rv(usIcr, '5'), old: rv(usIcr, '5'), want: [] },
  { name: 'TestCopyLabelAddedToOpaqueFansOut', obj: rv(opaque({ [COPY_LABEL]: 'true' }), '2'), old: rv(opaque(), '1'), want: FAN_OUT },
  { name: 'TestCopyLabelRemovedFromOpaqueFansOut', obj: rv(opaque(), '2'), old: rv(opaque({ [COPY_LABEL]: 'true' }), '1'), want: FAN_OUT },
  {
    name: 'TestSourceNamespaceComesFirstOnce',
    obj: rv(usIcr, '1'),
    old: undefined,
    namespaces: ['team-b', 'default', 'team-a'],
    want: ['default', 'team-b', 'team-a'],
  },
  { name: 'TestSourceNamespaceEnqueuedEvenWhenNotListed', obj: rv(usIcr, '1'), old: undefined, namespaces: [], want: ['default'] },
];

for (const c of keyCases) {
  test(`keysForSourceChange: ${c.name}`, () => {
    assert.deepEqual(
      keysForSourceChange(c.obj, c.old, 'default', () => [...(c.namespaces ?? NAMESPACES)]),
      c.want,
    );
  });
}

test('keysForSourceChange: TestConfiguredSourceNamespaceComesFirst', () => {
  assert.deepEqual(keysForSourceChange(rv(usIcr, '1'), undefined, 'ibm-secrets', () => ['default', 'ibm-secrets', 'team-a']), ['ibm-secrets', 'default', 'team-a']);
});
