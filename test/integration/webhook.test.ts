/**
 * The ServiceAccount admission webhook on the real control plane: the operator runs under the
 * manifests' identity with --webhook-url on 127.0.0.1, and the real API server calls it (the
 * ServiceAccount admission plugin then copies the new ServiceAccount's imagePullSecrets into each
 * pod created after it, which is the race the webhook closes). Nothing here waits on a clock:
 * every assertion is on what the API server answered to a create.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AdmissionregistrationV1Api, type V1Pod, type V1ServiceAccount } from '@kubernetes/client-node';
import { ADDED_ENTRIES_ANNOTATION } from '../../src/domain/naming.js';
import { pemCertificates } from '../../src/webhook/certs.js';
import { WEBHOOK_CONFIGURATION_NAME, WEBHOOK_SECRET, desiredWebhook } from '../../src/webhook/configuration.js';
import { deleteWebhookConfiguration, installWebhookConfiguration } from '../harness/webhook.js';
import { freePort } from '../harness/kube.js';
import { BASE_DIR, parseAllYaml } from '../harness/manifests.js';
import { OPT_OUT, Scenario, fixtureCopies, identityNamespace, mergePatch } from '../harness/scenario.js';
import { type LogLine, type OperatorProcess, startOperator } from '../harness/operator.js';

/** The SHA-256 fingerprint of the certificate served on a port. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const fp = sock.getPeerCertificate().fingerprint256;
      sock.end();
      resolve(fp);
    });
    sock.on('error', reject);
  });
}

const names = (refs: { name?: string }[] | undefined): string[] => (refs ?? []).map((r) => r.name ?? '');
const sorted = (l: string[]): string[] => [...l].sort();

class WebhookScenario extends Scenario {
  readonly admission = this.kc.makeApiClient(AdmissionregistrationV1Api);

  /**
   * The configuration, as an admin installs it once (the manifests do, with a Service instead of a
   * URL), with no caBundle: the operator's identity may get, update and patch it by name, and the
   * admission policy lets it change only the caBundle, which the operator writes.
   */
  async installConfiguration(port: number): Promise<void> {
    await installWebhookConfiguration(this.kc, `https://127.0.0.1:${port}`);
  }

  async deleteConfiguration(): Promise<void> {
    await deleteWebhookConfiguration(this.kc);
  }

  async createServiceAccount(namespace: string, name: string, body: Partial<V1ServiceAccount> = {}): Promise<V1ServiceAccount> {
    return this.core.createNamespacedServiceAccount({ namespace, body: { ...body, metadata: { ...body.metadata, name } } });
  }

  /** A pod of ServiceAccount `sa`, created in the API only (no node runs it). */
  async createPod(namespace: string, name: string, sa: string): Promise<V1Pod> {
    const body: V1Pod = { metadata: { name }, spec: { serviceAccountName: sa, automountServiceAccountToken: false, containers: [{ name: 'app', image: 'us.icr.io/pso-test/app:1' }] } };
    for (;;) {
      try {
        return await this.core.createNamespacedPod({ namespace, body });
      } catch (e) {
        // The ServiceAccount admission plugin refuses a pod whose ServiceAccount it cannot find yet
        // (a namespace's `default`, made by kube-controller-manager a moment after the namespace);
        // a ReplicaSet controller retries the same way.
        if (!/error looking up service account|serviceaccount .* not found/i.test(String((e as { body?: unknown }).body ?? e))) throw e;
      }
    }
  }

  /** Waits until the API server calls the webhook: a probe ServiceAccount is born with the copies' names. */
  async waitUntilCalled(namespace: string): Promise<void> {
    let i = 0;
    await this.waitFor(
      'the API server to call the webhook',
      async () => {
        const name = `probe-${i++}`;
        const sa = await this.createServiceAccount(namespace, name);
        await this.core.deleteNamespacedServiceAccount({ namespace, name });
        return names(sa.imagePullSecrets).length > 0;
      },
      30_000,
    );
  }
}

describe('the ServiceAccount admission webhook (--webhook-url, the manifests identity)', () => {
  const s = new WebhookScenario('webhook');
  let port = 0;
  let target = '';

  before(async () => {
    await s.setUp();
    port = await freePort();
    await s.installConfiguration(port);
    await s.startOperator(['--webhook-url', `https://127.0.0.1:${port}`, '--exclude-namespaces', `${s.id}-excl*`]);
    target = await s.namespace('target');
    await s.waitUntilCalled(target);
  });

  after(async () => {
    await s.tearDown();
    await s.deleteConfiguration();
  });

  it('registered the same webhook as the manifests ship, with a URL: fail-open, 3 s, no side effects, ServiceAccount CREATE', async () => {
    const mwc = await s.admission.readMutatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION_NAME });
    assert.equal(mwc.webhooks?.length, 1);
    const w = mwc.webhooks?.[0];
    assert.equal(w?.failurePolicy, 'Ignore');
    assert.ok((w?.timeoutSeconds ?? 99) <= 3);
    assert.equal(w?.sideEffects, 'None');
    assert.deepEqual(w?.admissionReviewVersions, ['v1']);
    assert.equal(w?.clientConfig.url, `https://127.0.0.1:${port}/mutate-serviceaccounts`);
    assert.ok(w?.clientConfig.caBundle, 'caBundle written');
    const shipped = parseAllYaml(readFileSync(join(BASE_DIR, 'mutatingwebhookconfiguration.yaml'), 'utf8'))[0] as unknown as { webhooks: { clientConfig: unknown }[] };
    const { clientConfig: _a, ...fromManifest } = shipped.webhooks[0] ?? { clientConfig: undefined };
    const { clientConfig: _b, ...fromCode } = desiredWebhook({ url: 'https://x' }, undefined);
    assert.deepEqual(fromManifest, JSON.parse(JSON.stringify(fromCode)));
  });

  it('gives a ServiceAccount the copies at creation, recorded in the annotation the reconciler uses, after entries of its own', async () => {
    const sa = await s.createServiceAccount(target, 'builder', { imagePullSecrets: [{ name: 'mine' }] });
    assert.equal(names(sa.imagePullSecrets)[0], 'mine');
    assert.deepEqual(sorted(names(sa.imagePullSecrets).slice(1)), fixtureCopies(target));
    assert.equal(sa.metadata?.annotations?.[ADDED_ENTRIES_ANNOTATION], fixtureCopies(target).join(','));
  });

  it('a namespace, its ServiceAccount and pods created back to back, 20 times: every pod lists the pull secrets', async () => {
    const missed: string[] = [];
    for (let i = 0; i < 20; i++) {
      const ns = await s.namespace(`race-${i}`);
      await s.createServiceAccount(ns, 'app');
      const pod = await s.createPod(ns, 'app', 'app');
      const dflt = await s.createPod(ns, 'default-sa', 'default');
      for (const p of [pod, dflt]) if (sorted(names(p.spec?.imagePullSecrets)).join() !== fixtureCopies(ns).join()) missed.push(`${ns}/${p.metadata?.name ?? ''}: ${names(p.spec?.imagePullSecrets).join(',')}`);
    }
    assert.deepEqual(missed, []);
  });

  it('answers while 150 other namespaces are being reconciled: every pod lists the pull secrets', async () => {
    const burst = Promise.all(Array.from({ length: 150 }, (_, i) => s.namespace(`load-${i}`)));
    const missed: string[] = [];
    for (let i = 0; i < 10; i++) {
      const ns = await s.namespace(`under-load-${i}`);
      await s.createServiceAccount(ns, 'app');
      const pod = await s.createPod(ns, 'app', 'app');
      if (sorted(names(pod.spec?.imagePullSecrets)).join() !== fixtureCopies(ns).join()) missed.push(ns);
    }
    await burst;
    assert.deepEqual(missed, []);
  });

  it('leaves opted-out and excluded namespaces, unselected namespaces and opted-out ServiceAccounts alone', async () => {
    const optedOut = await s.namespace('optout', { annotations: { [OPT_OUT]: 'true' } });
    const excluded = await s.namespace('excluded');
    await s.core.createNamespace({ body: { metadata: { name: `${s.id}-unselected` } } });
    s.namespaces.push(`${s.id}-unselected`);
    const untouched: V1ServiceAccount[] = [
      await s.createServiceAccount(optedOut, 'app'),
      await s.createServiceAccount(excluded, 'app', { imagePullSecrets: [{ name: 'mine' }] }),
      await s.createServiceAccount(`${s.id}-unselected`, 'app'),
      await s.createServiceAccount(target, 'opted-out', { metadata: { name: 'opted-out', annotations: { [OPT_OUT]: 'true' } } }),
    ];
    assert.equal(excluded, `${s.id}-excluded`);
    for (const sa of untouched) {
      assert.deepEqual(names(sa.imagePullSecrets), sa.metadata?.name === 'app' && sa.metadata.namespace === excluded ? ['mine'] : [], `${sa.metadata?.namespace}/${sa.metadata?.name}`);
      assert.equal(sa.metadata?.annotations?.[ADDED_ENTRIES_ANNOTATION], undefined);
    }
  });

  it('keeps the name of a foreign secret off the list, as the reconciler does', async () => {
    const team = await s.foreignNamespace('foreign', 'all-icr-io');
    const want = fixtureCopies(team).filter((n) => n !== 'all-icr-io');
    await s.waitFor('the other copies', async () => (await s.copies(team)).join() === want.join());
    const sa = await s.createServiceAccount(team, 'app');
    assert.deepEqual(sorted(names(sa.imagePullSecrets)), want);
  });

  it("removes the webhook's entries when the ServiceAccount opts out later (the reconciler reads the same annotation)", async () => {
    const ns = await s.namespace('later-optout');
    const sa = await s.createServiceAccount(ns, 'app', { imagePullSecrets: [{ name: 'mine' }] });
    assert.equal(names(sa.imagePullSecrets).length, 1 + fixtureCopies(ns).length);
    await s.core.patchNamespacedServiceAccount({ name: 'app', namespace: ns, body: { metadata: { annotations: { [OPT_OUT]: 'true' } } } }, mergePatch);
    await s.waitFor('our entries removed', async () => (await s.pullSecretNames(ns, 'app')).join() === 'mine');
  });

  it('with the operator stopped, a ServiceAccount is still created, unchanged, and the reconciler patches it once the operator is back', async () => {
    await s.operator?.stop();
    const ns = target;
    const sa = await s.createServiceAccount(ns, 'while-down');
    assert.deepEqual(names(sa.imagePullSecrets), [], 'failurePolicy Ignore: admitted without the webhook');
    assert.ok(s.operator);
    const first = s.operator;
    await s.startOperator(['--webhook-url', `https://127.0.0.1:${port}`, '--exclude-namespaces', `${s.id}-excl*`]);
    await s.waitFor('patched by the reconciler', async () => sorted(await s.pullSecretNames(ns, 'while-down')).join() === fixtureCopies(ns).join());
    // The first process's log is checked for denials too.
    s.operator = mergedLogs(first, s.operator);
  });
});

describe('webhook certificates: two replicas share one CA in the Secret, and renewals break no admission', () => {
  const s = new WebhookScenario('webhook-tls');
  const own = identityNamespace();
  let second: OperatorProcess | undefined;
  let ports: [number, number] = [0, 0];

  before(async () => {
    await s.setUp();
    await s.core.deleteNamespacedSecret({ namespace: own, name: WEBHOOK_SECRET }).catch(() => undefined);
    ports = [await freePort(), await freePort()];
    await s.installConfiguration(ports[0]);
    // A serving certificate lives 12 s (renewed every 8 s) and the CA 48 s (renewed after 32 s).
    // Both replicas run with the same webhook flags, as the Deployment's do (they share one
    // certificate, which names the URL's host); the second serves on a port of its own, which the
    // test dials directly.
    const common = ['--webhook-cert-validity', '12s', '--webhook-url', `https://127.0.0.1:${ports[0]}`];
    const env = { POD_NAMESPACE: own };
    // Both at once: each finds no Secret, makes a CA, and one create loses to the other.
    const [a, b] = await Promise.all([
      s.startOperator(common, env),
      startOperator({ kubeconfig: s.operatorKubeconfigPath, args: s.args([...common, '--webhook-address', `127.0.0.1:${ports[1]}`]), env }),
    ]);
    s.operator = a;
    second = b;
  });

  after(async () => {
    await second?.stop();
    if (second && s.operator) s.operator = mergedLogs(s.operator, second);
    await s.tearDown();
    await s.deleteConfiguration();
    await s.core.deleteNamespacedSecret({ namespace: own, name: WEBHOOK_SECRET }).catch(() => undefined);
  });

  it('keeps the CA and certificate in the Secret of its namespace, and both replicas serve the same certificate', async () => {
    const secret = await s.waitFor('the certificate Secret', async () => s.secret(own, WEBHOOK_SECRET));
    assert.equal(secret?.type, 'kubernetes.io/tls');
    for (const k of ['ca.crt', 'ca.key', 'tls.crt', 'tls.key']) assert.ok(secret?.data?.[k], k);
    await s.waitFor('both replicas serving the same certificate', async () => (await servedFingerprint(ports[0])) === (await servedFingerprint(ports[1])));
  });

  it('admits every ServiceAccount with the copies through a renewal of the serving certificate and of the CA', async () => {
    const ns = await s.namespace('rotation');
    await s.waitUntilCalled(ns);
    // Either replica may renew first (the other then reads the Secret): both logs count.
    const logs = (): LogLine[] => [...(s.operator?.logs ?? []), ...(second?.logs ?? [])];
    const renewed = (kind: string): number => logs().filter((l) => l.message === 'webhook certificate renewed' && l['renewed'] === kind).length;
    const startCa = renewed('new-ca');
    const startSwitch = logs().filter((l) => l.message === 'webhook certificate renewed' && l['reason'] === 'the serving certificate is not issued by the current CA').length;

    const missed: string[] = [];
    let i = 0;
    // Until the CA has been renewed and a serving certificate of the new CA has been served.
    const switched = (): number => logs().filter((l) => l.message === 'webhook certificate renewed' && l['reason'] === 'the serving certificate is not issued by the current CA').length;
    const done = (): boolean => renewed('new-ca') > startCa && switched() > startSwitch;
    while (!done() && i < 5000) {
      const name = `sa-${i++}`;
      await s.createServiceAccount(ns, name);
      const pod = await s.createPod(ns, name, name);
      if (sorted(names(pod.spec?.imagePullSecrets)).join() !== fixtureCopies(ns).join()) missed.push(name);
    }
    assert.ok(done(), 'the CA and the serving certificate were renewed');
    // A few more after the switch to the new CA.
    for (let j = 0; j < 10; j++) {
      const name = `after-${j}`;
      const sa = await s.createServiceAccount(ns, name);
      if (sorted(names(sa.imagePullSecrets)).join() !== fixtureCopies(ns).join()) missed.push(name);
    }
    assert.deepEqual(missed, [], `of ${i + 10} ServiceAccounts`);
  });

  it('writes the material back when its Secret is deleted, so the replicas keep one CA', async () => {
    const cas = (data: Record<string, string> | undefined): string[] => pemCertificates(Buffer.from(data?.['ca.crt'] ?? '', 'base64').toString('utf8'));
    const before = cas((await s.secret(own, WEBHOOK_SECRET))?.data);
    await s.core.deleteNamespacedSecret({ namespace: own, name: WEBHOOK_SECRET });
    const after = await s.waitFor('the Secret written back', async () => {
      const got = cas((await s.secret(own, WEBHOOK_SECRET))?.data);
      return got.length > 0 && got;
    });
    assert.ok(after.some((c) => before.includes(c)), 'a CA of before is still in the bundle');
    const ns = await s.namespace('after-delete');
    await s.waitUntilCalled(ns);
  });
});

/** One OperatorProcess whose log is both processes' logs (tearDown checks it for denials). */
function mergedLogs(a: OperatorProcess, b: OperatorProcess): OperatorProcess {
  return { ...b, logs: [...a.logs, ...b.logs], stderr: () => a.stderr() + b.stderr(), stop: async (sig) => (await a.stop(sig), b.stop(sig)) };
}
