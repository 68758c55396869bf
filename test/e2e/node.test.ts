/**
 * The whole promise, end to end, on a real node (`npm run test:e2e`): this file starts its own
 * control plane with a node (containerd, kubelet, scheduler, a password-protected registry with a
 * private image), runs the operator's image on the kubelet as the manifests install it, and
 * checks that pods in any namespace pull the private image with no pull secret in their own
 * YAML. Every address involved is on 127.0.0.1. The last test stops it all and checks that no
 * process, mount or cgroup is left; `after` stops it too when a test failed.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { AdmissionregistrationV1Api, AppsV1Api, CoordinationV1Api, CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { type ControlPlane, isRunning, startControlPlane } from '../harness/control-plane.js';
import { waitFor } from '../harness/kube.js';
import { MANIFESTS_DIR, type Obj, parseAllYaml } from '../harness/manifests.js';
import { type NodeInfo, nodeLeftovers, registryStatus, writeHtpasswd } from '../harness/node.js';
import { OPT_OUT, mergePatch } from '../harness/scenario.js';
import { ensureOperatorImage } from './image.js';
import { WEBHOOK_SECRET } from '../../src/webhook/configuration.js';
import { REPLICA_LABEL, overlay } from './overlay.js';

const run = promisify(execFile);
const OP_NS = 'pullsecret-operator';
const COPY = 'pullsecret-operator.io/copy';
const tmp = mkdtempSync(join(tmpdir(), 'pso-e2e-'));
const log = (msg: string): void => {
  if (process.env.PSO_E2E_VERBOSE) console.error(msg);
};
let plane: ControlPlane;
let node: NodeInfo;
let core: CoreV1Api;
let apps: AppsV1Api;
let coord: CoordinationV1Api;
let kubeconfig = '';
let ca = '';

function kubectl(args: string[], input?: string): string {
  const r = spawnSync(join(plane.binDir, 'kubectl'), ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8', input });
  assert.equal(r.status, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const dockerAuth = (user: string, password: string): { username: string; password: string; auth: string } => ({ username: user, password, auth: Buffer.from(`${user}:${password}`).toString('base64') });
const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64');

/** A Deployment of the private image whose pod spec names no pull secret. */
async function deployApp(namespace: string, name: string, image: string, serviceAccountName?: string): Promise<void> {
  await apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: {
            ...(serviceAccountName ? { serviceAccountName } : {}),
            hostNetwork: true,
            terminationGracePeriodSeconds: 1,
            // Always: every pod really asks the registry, whatever the node has cached.
            containers: [{ name: 'app', image, imagePullPolicy: 'Always' }],
          },
        },
      },
    },
  });
}

async function podsOf(namespace: string, app: string): Promise<V1Pod[]> {
  return (await core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items;
}

const running = async (namespace: string, app: string): Promise<V1Pod | undefined> => (await podsOf(namespace, app)).find((p) => p.status?.containerStatuses?.[0]?.state?.running !== undefined);

/** A namespace whose default ServiceAccount lists `copy` (the operator did its part). */
async function coveredNamespace(name: string, copy: string): Promise<void> {
  await core.createNamespace({ body: { metadata: { name } } });
  await waitFor(`${name}: default ServiceAccount lists ${copy}`, async () => {
    const sa = await core.readNamespacedServiceAccount({ namespace: name, name: 'default' }).catch(() => undefined);
    return sa?.imagePullSecrets?.some((r) => r.name === copy) === true;
  }, 30000);
}

interface AuditEvent {
  verb: string;
  stage: string;
  objectRef?: { resource?: string; namespace?: string; name?: string };
  user?: { username?: string; extra?: Record<string, string[]> };
  requestReceivedTimestamp: string;
  responseStatus?: { code?: number };
}

/**
 * Every successful write of the operator's ServiceAccount in the API server's audit log, with
 * the pod its token is bound to (the kubelet mounts a pod-bound token; the API server records
 * the pod's name in the user's extra).
 */
function operatorWrites(): { pod: string; time: number; what: string; verb: string }[] {
  const path = plane.auditLogPath;
  assert.ok(path, 'the plane keeps an audit log');
  const user = `system:serviceaccount:${OP_NS}:pullsecret-operator`;
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditEvent)
    .filter((e) => e.stage === 'ResponseComplete' && e.user?.username === user && (e.responseStatus?.code ?? 0) < 300)
    .map((e) => ({
      pod: e.user?.extra?.['authentication.kubernetes.io/pod-name']?.[0] ?? '(no pod)',
      time: Date.parse(e.requestReceivedTimestamp),
      what: `${e.objectRef?.resource}/${e.objectRef?.namespace}/${e.objectRef?.name}`,
      verb: e.verb,
    }))
    .sort((a, b) => a.time - b.time);
}

const leaseHolder = async (): Promise<string | undefined> => (await coord.readNamespacedLease({ namespace: OP_NS, name: 'pullsecret-operator' }).catch(() => undefined))?.spec?.holderIdentity ?? undefined;

async function deploymentsReady(): Promise<boolean> {
  for (const r of ['a', 'b']) {
    const d = await apps.readNamespacedDeployment({ namespace: OP_NS, name: `pullsecret-operator-${r}` }).catch(() => undefined);
    const st = d?.status;
    if (!d || st?.readyReplicas !== 1 || st.updatedReplicas !== 1 || (st.replicas ?? 0) !== 1 || st.observedGeneration !== d.metadata?.generation) return false;
  }
  return true;
}

describe('end to end, on a real node', () => {
  before(async () => {
    plane = await startControlPlane({ dir: join(tmp, 'cluster'), node: true, log });
    assert.ok(plane.node);
    node = plane.node;
    kubeconfig = plane.kubeconfigPath;
    ca = readFileSync(node.registryCaPath, 'utf8');
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
    apps = kc.makeApiClient(AppsV1Api);
    coord = kc.makeApiClient(CoordinationV1Api);
    const port = Number(new URL(plane.server).port);
    // The image the image test builds, imported into the node's containerd.
    const image = await ensureOperatorImage();
    const archive = join(tmp, 'operator.tar');
    await run('podman', ['save', '--format', 'oci-archive', '-o', archive, image], { maxBuffer: 1 << 26 });
    await run('ctr', ['-a', node.containerdSocket, '-n', 'k8s.io', 'images', 'import', archive], { maxBuffer: 1 << 26 });
    const rendered = parseAllYaml<Obj>(kubectl(['kustomize', MANIFESTS_DIR]));
    const objs = overlay(rendered, { image, apiServerPort: port, ports: [18080, 18081] });
    writeFileSync(join(tmp, 'operator.yaml'), objs.map((o) => JSON.stringify(o)).join('\n---\n'));
    kubectl(['apply', '-f', join(tmp, 'operator.yaml')]);
  });

  after(async () => {
    await plane?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('runs both replicas of the image Running and Ready by the kubelet’s own probes, one holding the Lease', async (t) => {
    const t0 = Date.now();
    await waitFor('both operator Deployments ready', deploymentsReady, 120000);
    const holder = await waitFor('a Lease holder', leaseHolder, 30000);
    const pods = (await core.listNamespacedPod({ namespace: OP_NS })).items;
    assert.equal(pods.length, 2);
    assert.ok(pods.some((p) => p.metadata?.name === holder), `the holder ${holder} is one of the pods`);
    for (const p of pods) assert.equal(p.spec?.nodeName, node.nodeName);
    t.diagnostic(`operator Ready on the node ${((Date.now() - t0) / 1000).toFixed(1)} s after apply`);
  });

  it('legacy .dockercfg: a new namespace runs the private image, named by the host the legacy source holds', async (t) => {
    await core.createNamespacedSecret({
      namespace: 'default',
      body: {
        metadata: { name: 'e2e-legacy-registry', labels: { [COPY]: 'true' } },
        type: 'kubernetes.io/dockercfg',
        data: { '.dockercfg': b64({ [node.registryAlias]: dockerAuth(node.username, node.password) }) },
      },
    });
    const t0 = Date.now();
    await coveredNamespace('e2e-legacy', 'e2e-legacy-registry');
    await deployApp('e2e-legacy', 'app', `${node.registryAlias}/private/app:1`);
    await waitFor('the legacy pod Running', () => running('e2e-legacy', 'app'), 60000);
    t.diagnostic(`legacy .dockercfg: namespace created -> pod Running in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });

  let appNamespaceCreated = 0;
  it('the promise: a new namespace runs the private image with no pull secret in the pod spec', async (t) => {
    await core.createNamespacedSecret({
      namespace: 'default',
      body: {
        metadata: { name: 'e2e-registry', labels: { [COPY]: 'true' } },
        type: 'kubernetes.io/dockerconfigjson',
        data: { '.dockerconfigjson': b64({ auths: { [node.registry]: dockerAuth(node.username, node.password) } }) },
      },
    });
    appNamespaceCreated = Date.now();
    await coveredNamespace('e2e-app', 'e2e-registry');
    await deployApp('e2e-app', 'app', node.privateImage);
    const pod = await waitFor('the pod Running', () => running('e2e-app', 'app'), 60000);
    assert.equal(pod.spec?.containers[0]?.image, node.privateImage);
    const names = (pod.spec?.imagePullSecrets ?? []).map((r) => r.name);
    assert.ok(names.includes('e2e-registry'), `the ServiceAccount gave the pod the copy: ${names.join()}`);
    const dep = await apps.readNamespacedDeployment({ namespace: 'e2e-app', name: 'app' });
    assert.equal(dep.spec?.template.spec?.imagePullSecrets, undefined, 'the Deployment names no pull secret');
    t.diagnostic(`namespace created -> pod Running in ${((Date.now() - appNamespaceCreated) / 1000).toFixed(1)} s`);
  });

  it('the first-deploy race, webhook on: a namespace, a ServiceAccount and a Deployment of it applied back to back, 20 times: every pod pulls', async (t) => {
    // The manifests' webhook, served by both replicas behind its Service (the plane routes a
    // Service-backed webhook to its endpoints: the replicas' hostNetwork ports on this node).
    const admission = new KubeConfig();
    admission.loadFromFile(kubeconfig);
    const mwc = admission.makeApiClient(AdmissionregistrationV1Api);
    await waitFor('the caBundle written by the operator', async () => Boolean((await mwc.readMutatingWebhookConfiguration({ name: 'pullsecret-operator' })).webhooks?.[0]?.clientConfig.caBundle), 60000);
    await core.createNamespace({ body: { metadata: { name: 'e2e-webhook-probe' } } });
    let i = 0;
    await waitFor('the API server calling the webhook', async () => {
      const sa = await core.createNamespacedServiceAccount({ namespace: 'e2e-webhook-probe', body: { metadata: { name: `probe-${i++}` } } });
      return (sa.imagePullSecrets ?? []).some((r) => r.name === 'e2e-registry');
    }, 60000);
    const t0 = Date.now();
    const names = Array.from({ length: 20 }, (_, n) => `e2e-race-${n}`);
    for (const n of names) {
      await core.createNamespace({ body: { metadata: { name: n } } });
      await core.createNamespacedServiceAccount({ namespace: n, body: { metadata: { name: 'app' } } });
      await deployApp(n, 'app', node.privateImage, 'app');
    }
    const missing: string[] = [];
    for (const n of names) {
      const pod = await waitFor(`${n}: the pod`, async () => (await podsOf(n, 'app'))[0], 60000);
      if (!(pod.spec?.imagePullSecrets ?? []).some((r) => r.name === 'e2e-registry')) missing.push(n);
    }
    assert.deepEqual(missing, [], 'every pod got the pull secret from its ServiceAccount at creation');
    for (const n of names) await waitFor(`${n}: the pod Running`, () => running(n, 'app'), 120000);
    t.diagnostic(`20 namespaces, ServiceAccounts and Deployments applied back to back -> all 20 pods Running in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });

  it("an opted-out namespace gets no copy, and the same Deployment fails with the registry's 401", async () => {
    await core.createNamespace({ body: { metadata: { name: 'e2e-opted-out', annotations: { [OPT_OUT]: 'true' } } } });
    await waitFor('its default ServiceAccount', () => core.readNamespacedServiceAccount({ namespace: 'e2e-opted-out', name: 'default' }).catch(() => undefined), 30000);
    await deployApp('e2e-opted-out', 'app', node.privateImage);
    const waiting = await waitFor('ErrImagePull or ImagePullBackOff', async () => {
      const w = (await podsOf('e2e-opted-out', 'app'))[0]?.status?.containerStatuses?.[0]?.state?.waiting;
      return w && ['ErrImagePull', 'ImagePullBackOff'].includes(w.reason ?? '') && w;
    }, 60000);
    const events = (await core.listNamespacedEvent({ namespace: 'e2e-opted-out' })).items.map((e) => e.message ?? '').join('\n');
    assert.match(`${waiting.message ?? ''}\n${events}`, /401 Unauthorized/);
    const secrets = (await core.listNamespacedSecret({ namespace: 'e2e-opted-out' })).items.map((s) => s.metadata?.name);
    assert.ok(!secrets.includes('e2e-registry'), 'no copy in an opted-out namespace');
  });

  it('rotation: the registry password changes, the source is updated, a new pod in an existing namespace still pulls, nothing restarted', async (t) => {
    const restarts = async (): Promise<string> =>
      (await core.listNamespacedPod({ namespace: OP_NS })).items
        .map((p) => `${p.metadata?.name}:${p.status?.containerStatuses?.[0]?.restartCount ?? 0}`)
        .sort()
        .join();
    const before = await restarts();
    const newPassword = `rotated-${Date.now()}`;
    await writeHtpasswd(node.htpasswdPath, node.username, newPassword);
    const client = { host: node.registry, ca, username: node.username };
    await waitFor('the registry refuses the old password', async () => (await registryStatus({ ...client, password: node.password })) === 401 && (await registryStatus({ ...client, password: newPassword })) === 200, 30000);
    const t0 = Date.now();
    const rotated = b64({ auths: { [node.registry]: dockerAuth(node.username, newPassword) } });
    await core.patchNamespacedSecret({ namespace: 'default', name: 'e2e-registry', body: { data: { '.dockerconfigjson': rotated } } }, mergePatch);
    await waitFor('the copy rotated', async () => (await core.readNamespacedSecret({ namespace: 'e2e-app', name: 'e2e-registry' })).data?.['.dockerconfigjson'] === rotated, 30000);
    await deployApp('e2e-app', 'after-rotation', node.privateImage);
    await waitFor('the new pod Running', () => running('e2e-app', 'after-rotation'), 60000);
    assert.equal(await restarts(), before, 'no operator pod restarted');
    t.diagnostic(`source rotated -> new pod Running in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });

  it('hands over when the leader pod is deleted', async (t) => {
    const leader = await waitFor('a Lease holder', leaseHolder, 30000);
    const t0 = Date.now();
    await core.deleteNamespacedPod({ namespace: OP_NS, name: leader });
    const next = await waitFor('another holder', async () => {
      const h = await leaseHolder();
      return h !== undefined && h !== '' && h !== leader && h;
    }, 60000);
    const took = Date.now() - t0;
    await coveredNamespace('e2e-after-failover', 'e2e-registry');
    t.diagnostic(`leader pod deleted -> ${next} holds the Lease in ${(took / 1000).toFixed(1)} s`);
    await waitFor('both Deployments ready again', deploymentsReady, 120000);
  });

  it('a rollout restart under load converges every namespace with no overlapping writes', async (t) => {
    const names = Array.from({ length: 12 }, (_, i) => `e2e-rollout-${i}`);
    kubectl(['-n', OP_NS, 'rollout', 'restart', 'deployment/pullsecret-operator-a', 'deployment/pullsecret-operator-b']);
    for (const n of names) {
      await core.createNamespace({ body: { metadata: { name: n } } });
      await sleep(500);
    }
    await waitFor('both Deployments rolled out', deploymentsReady, 180000);
    for (const n of names) {
      await waitFor(`${n} covered`, async () => (await core.readNamespacedServiceAccount({ namespace: n, name: 'default' }).catch(() => undefined))?.imagePullSecrets?.some((r) => r.name === 'e2e-registry') === true, 60000);
    }
    // Who wrote when, from the API server's own audit log, over the whole run (two handovers):
    // each write of the operator's ServiceAccount names the pod its token is bound to. The leader's
    // writes only: the copies, ServiceAccounts and the Lease. Every replica serves the webhook and
    // may write its certificate Secret and the configuration's caBundle (two replicas starting at
    // once both do, by design: src/webhook/tls.ts), so those are not a leader's.
    const all = operatorWrites();
    const writes = all.filter((w) => !w.what.startsWith('mutatingwebhookconfigurations/') && w.what !== `secrets/${OP_NS}/${WEBHOOK_SECRET}`);
    t.diagnostic(`webhook TLS writes (any replica): ${all.filter((w) => !writes.includes(w)).map((w) => `${w.pod} ${w.verb} ${w.what}`).join('; ') || 'none'}`);
    assert.ok(writes.length > 0, 'the operator wrote');
    const byPod = new Map<string, { first: number; last: number; n: number }>();
    for (const w of writes) {
      const cur = byPod.get(w.pod) ?? { first: w.time, last: w.time, n: 0 };
      byPod.set(w.pod, { first: Math.min(cur.first, w.time), last: Math.max(cur.last, w.time), n: cur.n + 1 });
    }
    const spans = [...byPod.entries()].sort((a, b) => a[1].first - b[1].first);
    t.diagnostic(`writes by pod: ${spans.map(([p, s]) => `${p} ${s.n} (${new Date(s.first).toISOString()} .. ${new Date(s.last).toISOString()})`).join('; ')}`);
    assert.ok(spans.length >= 2, `writes from more than one leader over the run: ${spans.map((s) => s[0]).join()}`);
    for (let i = 1; i < spans.length; i++) {
      const prev = spans[i - 1] as [string, { last: number }];
      const cur = spans[i] as [string, { first: number }];
      if (prev[1].last >= cur[1].first) {
        // Name every write of the overlap, so that a failure says which requests of which pod.
        const overlap = writes.filter((w) => w.time >= cur[1].first && w.time <= prev[1].last && (w.pod === prev[0] || w.pod === cur[0]));
        t.diagnostic(`overlapping writes:\n${overlap.map((w) => `${new Date(w.time).toISOString()} ${w.pod} ${w.verb} ${w.what}`).join('\n')}`);
      }
      assert.ok(prev[1].last < cur[1].first, `writes of ${prev[0]} (until ${new Date(prev[1].last).toISOString()}) overlap those of ${cur[0]} (from ${new Date(cur[1].first).toISOString()})`);
    }
    const pods = (await core.listNamespacedPod({ namespace: OP_NS, labelSelector: REPLICA_LABEL })).items;
    assert.equal(pods.length, 2);
  });

  it('stops, leaving no process, container, mount or cgroup behind', async () => {
    const socket = node.containerdSocket;
    await plane.stop();
    for (const p of plane.processes) assert.equal(isRunning(p), false, `${p.name} (${p.pid}) stopped`);
    assert.deepEqual(nodeLeftovers(plane.dir, socket), { shims: [], mounts: [], cgroups: [] });
  });
});
