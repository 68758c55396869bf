/**
 * Proves the local control plane (test/harness) is a real one: kube-controller-manager runs,
 * ServiceAccount admission is on, and ServiceAccount patches behave like on a real cluster.
 * Run: npx tsx test/harness/with-cluster.ts node --import tsx --test test/integration/control-plane.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiException, CoreV1Api, PatchStrategy, VersionApi, setHeaderOptions } from '@kubernetes/client-node';
import type { V1ServiceAccount } from '@kubernetes/client-node';
import { testKubeConfig, uniqueName, waitFor } from '../harness/kube.js';
import { kubernetesVersion } from '../harness/kubernetes-version.js';

const isNotFound = (err: unknown): boolean => err instanceof ApiException && err.code === 404;

/** The object, or undefined on 404. */
async function orUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

const pullSecretNames = (list: { name?: string }[] | undefined): (string | undefined)[] =>
  (list ?? []).map((s) => s.name);

describe('local control plane', () => {
  const core = testKubeConfig().makeApiClient(CoreV1Api);
  const namespace = uniqueName('cp-test');

  before(async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  });

  after(async () => {
    await orUndefined(core.deleteNamespace({ name: namespace }));
  });

  it('runs the Kubernetes version asked for (PSO_KUBERNETES_VERSION, else test/control-plane/K8S_VERSION)', async () => {
    const v = await testKubeConfig().makeApiClient(VersionApi).getCode();
    assert.equal(v.gitVersion, kubernetesVersion());
    assert.equal(`v${v.major}.${v.minor}`, kubernetesVersion().replace(/\.\d+$/, ''));
  });

  it('gives a new namespace a default ServiceAccount (kube-controller-manager runs)', async () => {
    const name = uniqueName('sa-default');
    await core.createNamespace({ body: { metadata: { name } } });
    try {
      const sa = await waitFor(`ServiceAccount ${name}/default`, () =>
        orUndefined(core.readNamespacedServiceAccount({ name: 'default', namespace: name })),
      );
      assert.equal(sa.metadata?.name, 'default');
      assert.equal(sa.metadata?.namespace, name);
    } finally {
      await orUndefined(core.deleteNamespace({ name }));
    }
  });

  it("injects the ServiceAccount's imagePullSecrets into a new Pod (ServiceAccount admission is on)", async () => {
    const saName = uniqueName('puller');
    await core.createNamespacedServiceAccount({
      namespace,
      body: { metadata: { name: saName }, imagePullSecrets: [{ name: 'icr-a' }, { name: 'icr-b' }] },
    });
    const pod = await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: uniqueName('pod') },
        spec: {
          serviceAccountName: saName,
          automountServiceAccountToken: false,
          containers: [{ name: 'main', image: 'icr.io/example/never-pulled:1' }],
        },
      },
    });
    assert.deepEqual(pullSecretNames(pod.spec?.imagePullSecrets), ['icr-a', 'icr-b']);
  });

  it('replaces the whole imagePullSecrets list on a strategic-merge patch of a ServiceAccount', async () => {
    const name = uniqueName('smp');
    await core.createNamespacedServiceAccount({
      namespace,
      body: { metadata: { name }, imagePullSecrets: [{ name: 'a' }, { name: 'b' }] },
    });
    const patch: V1ServiceAccount = { imagePullSecrets: [{ name: 'c' }] };
    const patched = await core.patchNamespacedServiceAccount(
      { name, namespace, body: patch },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    // ServiceAccount.imagePullSecrets has no patchMergeKey: the list is replaced, a and b are lost.
    assert.deepEqual(pullSecretNames(patched.imagePullSecrets), ['c']);
    const reread = await core.readNamespacedServiceAccount({ name, namespace });
    assert.deepEqual(pullSecretNames(reread.imagePullSecrets), ['c']);
  });

  it('removes a deleted namespace completely (namespace controller finalizes it)', async () => {
    const name = uniqueName('ns-delete');
    await core.createNamespace({ body: { metadata: { name } } });
    // Let the controllers populate it (default ServiceAccount, kube-root-ca.crt) so deletion has content to clean up.
    await waitFor(`ServiceAccount ${name}/default`, () =>
      orUndefined(core.readNamespacedServiceAccount({ name: 'default', namespace: name })),
    );
    await core.deleteNamespace({ name });
    await waitFor(
      `namespace ${name} to be gone`,
      async () => (await orUndefined(core.readNamespace({ name }))) === undefined,
      60_000,
      200,
    );
  });
});
