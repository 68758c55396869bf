/**
 * The webhook's certificate Secret as the operator finds it, on the real control plane, with the
 * operator run as the manifests' Deployment runs it (its args: leader election and the webhook on;
 * its identity, RBAC and admission policy):
 * - a Secret of that name that the operator did not make and cannot serve (another type): the
 *   webhook cannot start, and nothing else waits for it. New namespaces converge, /readyz says why
 *   it is not ready, a Warning Event and the metrics say it too, and the Secret is never written
 *   (the API server's audit log shows no write of it by the operator). Deleting it lets the
 *   operator make its own, and the replica becomes ready;
 * - a Secret that cert-manager writes (tls.crt, tls.key, ca.crt; no ca.key): the operator serves
 *   it as it is, picks up its renewal, and writes neither it nor the caBundle, which cert-manager's
 *   CA injector owns.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { AdmissionregistrationV1Api, type V1Secret } from '@kubernetes/client-node';
import { type TlsMaterial, renew } from '../../src/webhook/certs.js';
import { WEBHOOK_CONFIGURATION_NAME, WEBHOOK_SECRET, desiredConfiguration } from '../../src/webhook/configuration.js';
import { AuditLog, byIdentity, writes } from '../harness/audit.js';
import { freePort } from '../harness/kube.js';
import { deploymentArgs } from '../harness/manifests.js';
import { Scenario, fixtureCopies, identityNamespace, isNotFound } from '../harness/scenario.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** The PEM certificate served on a port. */
function servedCertificate(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const der = sock.getPeerCertificate().raw;
      sock.end();
      resolve(new X509Certificate(der).toString());
    });
    sock.on('error', reject);
  });
}

async function get(port: number | undefined, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

const POLICY = { validityMs: 3_600_000, hosts: ['127.0.0.1'] };

/** The Secret cert-manager writes for a Certificate from a CA issuer: tls.crt, tls.key and ca.crt, never the CA's key. */
function certManagerSecret(m: TlsMaterial): V1Secret {
  return {
    metadata: { name: WEBHOOK_SECRET, labels: { 'controller.cert-manager.io/fao': 'true' }, annotations: { 'cert-manager.io/certificate-name': 'pullsecret-operator-webhook', 'cert-manager.io/issuer-kind': 'Issuer' } },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': b64(m.cert), 'tls.key': b64(m.key), 'ca.crt': b64(m.caCerts[0] ?? '') },
  };
}

describe('a webhook certificate that can never be stored: the rest of the operator goes on, and says why it is not ready', () => {
  const s = new Scenario('wh-blocked');
  const own = identityNamespace();
  const identity = `${s.id}-op`;
  const audit = new AuditLog();
  let mark = 0;
  let foreign: V1Secret | undefined;

  before(async () => {
    await s.setUp();
    await s.core.deleteNamespacedSecret({ namespace: own, name: WEBHOOK_SECRET }).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
    // Someone else's Secret holds the name, and it is no certificate.
    foreign = await s.core.createNamespacedSecret({ namespace: own, body: { metadata: { name: WEBHOOK_SECRET, labels: { team: 'platform' } }, type: 'Opaque', data: { note: b64('not yours') } } });
    mark = await audit.mark();
    const d = deploymentArgs(await freePort(), own);
    // startOperator waits for the leader's "caches synced; reconciling": reconciling does not wait for the webhook.
    await s.startOperator(d.args, { ...d.env, POD_NAME: identity });
  });

  after(async () => {
    await s.tearDown();
    await s.core.deleteNamespacedSecret({ namespace: own, name: WEBHOOK_SECRET }).catch(() => undefined);
  });

  it('reconciles: a new namespace gets its copies and its ServiceAccount the entries', async () => {
    const ns = await s.namespace('new');
    await s.waitFor('the copies and the ServiceAccount entries', async () => (await s.copies(ns)).join() === fixtureCopies(ns).join() && (await s.pullSecretNames(ns)).length === fixtureCopies(ns).length);
  });

  it('is not ready, and /readyz says the webhook cannot serve and why', async () => {
    const r = await get(s.operator?.httpPort, '/readyz');
    assert.equal(r.status, 503);
    assert.match(r.body, /webhook not serving: Secret .*pullsecret-operator-webhook-tls exists and it is not the operator's and its type is "Opaque"/);
    assert.equal((await get(s.operator?.httpPort, '/healthz')).status, 200, 'alive: nothing is stuck, so no restart');
  });

  it('says why in a Warning Event on the Secret and in the metrics', async () => {
    const ev = await s.waitFor('the Warning Event', async () => (await s.core.listNamespacedEvent({ namespace: own })).items.find((e) => e.involvedObject.name === WEBHOOK_SECRET && e.reason === 'WebhookCertificateBlocked'));
    assert.equal(ev.type, 'Warning');
    assert.match(ev.message ?? '', /Delete it to let the operator make its own, or make it a kubernetes\.io\/tls Secret/);
    const metrics = (await get(s.operator?.httpPort, '/metrics')).body;
    assert.match(metrics, /^pullsecret_operator_webhook_serving 0$/m);
    const errors = Number(/^pullsecret_operator_webhook_certificate_errors_total\{reason="foreign-secret"\} (\d+)$/m.exec(metrics)?.[1] ?? 0);
    assert.ok(errors >= 1, `certificate errors counted: ${errors}`);
  });

  it('never writes the Secret it did not make: unchanged, and no write of it by the operator in the audit log', async () => {
    const now = await s.secret(own, WEBHOOK_SECRET);
    assert.equal(now?.metadata?.resourceVersion, foreign?.metadata?.resourceVersion);
    const mine = writes(byIdentity(await audit.since(mark), identity)).filter((e) => e.objectRef?.namespace === own && e.objectRef.name === WEBHOOK_SECRET);
    assert.deepEqual(mine, []);
  });

  it('makes its own certificate once that Secret is deleted, and becomes ready', async () => {
    await s.core.deleteNamespacedSecret({ namespace: own, name: WEBHOOK_SECRET });
    await s.waitFor('/readyz 200', async () => (await get(s.operator?.httpPort, '/readyz')).status === 200, 30_000);
    const made = await s.secret(own, WEBHOOK_SECRET);
    assert.equal(made?.type, 'kubernetes.io/tls');
    assert.ok(made?.data?.['ca.key'], "the operator's own CA");
    assert.match((await get(s.operator?.httpPort, '/metrics')).body, /^pullsecret_operator_webhook_serving 1$/m);
  });
});

describe("a certificate Secret that cert-manager writes: served as it is, and neither it nor the caBundle is written", () => {
  const s = new Scenario('wh-certmgr');
  const own = identityNamespace();
  const identity = `${s.id}-op`;
  const audit = new AuditLog();
  const admission = s.kc.makeApiClient(AdmissionregistrationV1Api);
  let mark = 0;
  let port = 0;
  let issued: TlsMaterial;

  before(async () => {
    await s.setUp();
    await s.core.deleteNamespacedSecret({ namespace: own, name: WEBHOOK_SECRET }).catch(() => undefined);
    // cert-manager's CA issuer, played by the operator's own certificate code.
    issued = await renew(undefined, { kind: 'new-ca', reason: 'test' }, Date.now(), POLICY);
    await s.core.createNamespacedSecret({ namespace: own, body: certManagerSecret(issued) });
    port = await freePort();
    // The configuration as an admin installs it, with the caBundle cert-manager's CA injector writes.
    await admission.deleteMutatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION_NAME }).catch(() => undefined);
    const { webhooks, ...rest } = desiredConfiguration(`https://127.0.0.1:${port}`, b64(issued.caCerts[0] ?? ''));
    await admission.createMutatingWebhookConfiguration({ body: { ...rest, metadata: { ...rest.metadata, annotations: { 'cert-manager.io/inject-ca-from': `${own}/pullsecret-operator-webhook` } }, webhooks } });
    mark = await audit.mark();
    const d = deploymentArgs(port, own);
    // A short certificate validity makes the certificate loop look every 2 s (a tenth of it).
    await s.startOperator([...d.args, '--webhook-cert-validity', '20s'], { ...d.env, POD_NAME: identity });
  });

  after(async () => {
    await s.tearDown();
    await admission.deleteMutatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION_NAME }).catch(() => undefined);
    await s.core.deleteNamespacedSecret({ namespace: own, name: WEBHOOK_SECRET }).catch(() => undefined);
  });

  it("serves cert-manager's certificate, and the API server calls the webhook with it", async () => {
    await s.waitFor('/readyz 200', async () => (await get(s.operator?.httpPort, '/readyz')).status === 200);
    assert.equal(await servedCertificate(port), new X509Certificate(issued.cert).toString());
    const ns = await s.namespace('calls');
    await s.waitFor('copies in the namespace', async () => (await s.copies(ns)).length === fixtureCopies(ns).length);
    const sa = await s.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'born-with-copies' } } });
    assert.deepEqual((sa.imagePullSecrets ?? []).map((r) => r.name).sort(), fixtureCopies(ns), 'the API server called the webhook over TLS it trusts');
  });

  it("picks up cert-manager's renewal of the Secret", async () => {
    // cert-manager reissues the leaf from the same CA: the caBundle stays valid.
    const next = await renew(issued, { kind: 'new-serving', reason: 'test' }, Date.now(), POLICY);
    const cur = await s.core.readNamespacedSecret({ namespace: own, name: WEBHOOK_SECRET });
    await s.core.replaceNamespacedSecret({ namespace: own, name: WEBHOOK_SECRET, body: { ...cur, data: certManagerSecret(next).data } });
    await s.waitFor('the renewed certificate served', async () => (await servedCertificate(port)) === new X509Certificate(next.cert).toString(), 30_000);
    const ns = await s.namespace('after-renewal');
    await s.waitFor('copies in the namespace', async () => (await s.copies(ns)).length === fixtureCopies(ns).length);
    const sa = await s.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'born-with-copies' } } });
    assert.deepEqual((sa.imagePullSecrets ?? []).map((r) => r.name).sort(), fixtureCopies(ns), 'admitted with the renewed certificate');
  });

  it('wrote neither the Secret nor the webhook configuration, by the audit log', async () => {
    const mine = writes(byIdentity(await audit.since(mark), identity), ['secrets', 'mutatingwebhookconfigurations']).filter(
      (e) => e.objectRef?.resource === 'mutatingwebhookconfigurations' || (e.objectRef?.namespace === own && e.objectRef.name === WEBHOOK_SECRET),
    );
    assert.deepEqual(mine, []);
    const mwc = await admission.readMutatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION_NAME });
    assert.equal(mwc.webhooks?.[0]?.clientConfig.caBundle, b64(issued.caCerts[0] ?? ''), 'the caBundle is as the injector wrote it');
  });
});
