/**
 * The deployment manifests (manifests/, `kubectl apply -k manifests/`): the real API server
 * validates every object strictly (dry run), admits the operator's pod under Pod Security
 * "restricted", and the Deployment's flags, env, ports and probes fit the operator's code.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiException, CoreV1Api, loadAllYaml, type V1Pod, type V1PodSpec } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { FLAGS, loadConfig } from '../../src/config.js';
import { startHttpServer } from '../../src/http/server.js';
import { testKubeConfig, testKubectl, waitFor } from '../harness/kube.js';
import { BASE_DIR, CLUSTER_SCOPED_KINDS, KUSTOMIZE_CLUSTER_SCOPED_KINDS, MANIFESTS_DIR, MONITORING_DIR, OPENSHIFT_DIR, fixedIds, kustomize, objectKey, type Obj, StrictObjectApi, containersOf, loadManifestFiles, parseAllYaml, parseImage, readKustomization, render } from '../harness/manifests.js';
import { REPO_ROOT } from '../harness/operator.js';

const kustomization = readKustomization();
const rendered = render(kustomization);
const NS = kustomization.namespace ?? '';
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };

function only(kind: string): Obj {
  const found = rendered.filter((m) => m.obj.kind === kind);
  assert.equal(found.length, 1, `exactly one ${kind}`);
  return (found[0] as { obj: Obj }).obj;
}

function podSpec(deploy: Obj): V1PodSpec {
  return (deploy['spec'] as { template: { spec: V1PodSpec } }).template.spec;
}

function errorBody(err: unknown): string {
  if (err instanceof ApiException) return `${err.code}: ${typeof err.body === 'string' ? err.body : JSON.stringify(err.body)}`;
  return String(err);
}

describe('manifests/ kustomization', () => {
  it('lists every manifest file of manifests/base/ in resources, and only existing ones', () => {
    const files = readdirSync(BASE_DIR).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml').sort();
    assert.deepEqual([...kustomization.resources].sort(), files);
  });

  it('sets the operator namespace, which is the Namespace the manifests create', () => {
    assert.equal(NS, 'pullsecret-operator');
    assert.equal(only('Namespace').metadata.name, NS);
  });

  it("images entry rewrites the Deployment's image to the package.json version", () => {
    const images = containersOf(only('Deployment')).map((c) => c.image);
    assert.equal(images.length, 1);
    const written = containersOf((loadManifestFiles().find((m) => m.obj.kind === 'Deployment') as { obj: Obj }).obj)[0]?.image ?? '';
    assert.ok(kustomization.images?.some((i) => i.name === parseImage(written).name), 'the images entry names the image of deployment.yaml');
    assert.equal(parseImage(images[0] ?? '').tag, pkg.version);
  });

  it('renders, with kubectl kustomize, exactly the objects these tests validate', () => {
    const r = spawnSync(testKubectl(), ['kustomize', MANIFESTS_DIR], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const key = (o: Obj): string => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    const byKey = (objs: Obj[]): Map<string, Obj> => new Map(objs.map((o) => [key(o), o]));
    const kubectl = byKey(parseAllYaml(r.stdout));
    const ours = byKey(rendered.map((m) => m.obj));
    assert.deepEqual([...kubectl.keys()].sort(), [...ours.keys()].sort());
    for (const [k, o] of ours) assert.deepEqual(kubectl.get(k), o, k);
  });

});

describe('manifests/ on the API server', () => {
  const kc = testKubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const api = StrictObjectApi.make(kc);
  let createdNamespace = false;

  before(async () => {
    // The Namespace for real, so that the namespaced objects can be validated in it.
    const ns = only('Namespace');
    try {
      await api.createStrict(ns);
      createdNamespace = true;
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 409)) throw new Error(`Namespace ${ns.metadata.name}: ${errorBody(err)}`);
    }
  });

  after(async () => {
    if (createdNamespace) await core.deleteNamespace({ name: NS }).catch(() => undefined);
  });

  it('knows the scope of every kind the way the API server serves it', async () => {
    for (const { obj } of rendered) {
      const namespaced = await api.isNamespaced(obj.apiVersion, obj.kind);
      assert.notEqual(namespaced, undefined, `${obj.apiVersion} ${obj.kind} is served`);
      assert.equal(namespaced, !CLUSTER_SCOPED_KINDS.has(obj.kind), obj.kind);
      // kustomize also stamps its namespace on cluster-scoped kinds it does not know (see
      // KUSTOMIZE_CLUSTER_SCOPED_KINDS); the API server drops it (checked in the dry run below).
      assert.equal(obj.metadata.namespace !== undefined, namespaced || !KUSTOMIZE_CLUSTER_SCOPED_KINDS.has(obj.kind), `${obj.kind}/${obj.metadata.name} namespace`);
    }
  });

  it('accepts every object of every file in resources under strict field validation (dryRun=All)', async () => {
    const failures: string[] = [];
    for (const { file, obj } of rendered) {
      // An existing Namespace (created above) is validated under another name.
      const body = obj.kind === 'Namespace' ? { ...obj, metadata: { ...obj.metadata, name: `${obj.metadata.name}-dry-run` } } : obj;
      try {
        const out = await api.createStrict(body, 'All');
        assert.equal(out.metadata?.name, body.metadata.name);
        assert.equal(out.metadata?.uid !== undefined, true);
        if (CLUSTER_SCOPED_KINDS.has(obj.kind)) assert.equal(out.metadata?.namespace, undefined, `${obj.kind} is stored without a namespace`);
      } catch (err) {
        failures.push(`${file}: ${obj.kind}/${obj.metadata.name}: ${errorBody(err)}`);
      }
    }
    assert.deepEqual(failures, []);
    // Nothing was stored.
    const sa = only('ServiceAccount');
    await assert.rejects(core.readNamespacedServiceAccount({ namespace: NS, name: sa.metadata.name }), (e: unknown) => e instanceof ApiException && e.code === 404);
  });

  it('rejects a misspelt field in a manifest (so the check above is strict)', async () => {
    const text = readFileSync(join(BASE_DIR, 'deployment.yaml'), 'utf8').replace('readOnlyRootFilesystem:', 'readOnlyRootFileSystem:');
    // client-node's loadAllYaml would have dropped the unknown field before the server saw it.
    assert.doesNotMatch(JSON.stringify(loadAllYaml(text)), /readOnlyRootFileSystem/);
    const [deploy] = render(kustomization, parseAllYaml(text).map((obj) => ({ file: 'deployment.yaml', obj })));
    assert.match(JSON.stringify(deploy?.obj), /readOnlyRootFileSystem/);
    await assert.rejects(api.createStrict(deploy?.obj as Obj, 'All'), (e: unknown) => e instanceof ApiException && (e.code === 400 || e.code === 422) && /unknown field.*readOnlyRootFileSystem/.test(errorBody(e)));
  });

  it("admits the Deployment's pod under Pod Security 'restricted' in the operator namespace", async () => {
    const ns = await core.readNamespace({ name: NS });
    assert.equal(ns.metadata?.labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
    // The ServiceAccount admission plugin needs the pod's ServiceAccount to exist.
    const sa = only('ServiceAccount');
    await core.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: sa.metadata.name } } }).catch((e: unknown) => {
      if (!(e instanceof ApiException && e.code === 409)) throw e;
    });
    await waitFor('the ServiceAccount', () => core.readNamespacedServiceAccount({ namespace: NS, name: sa.metadata.name }));
    const deploy = only('Deployment');
    const template = (deploy['spec'] as { template: { metadata: { labels: Record<string, string> } } }).template;
    const pod: V1Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pso-admission-probe', namespace: NS, labels: template.metadata.labels }, spec: podSpec(deploy) };
    try {
      await api.createStrict(pod, 'All');
    } catch (err) {
      assert.fail(`pod rejected: ${errorBody(err)}`);
    }
    // And Pod Security is enforced here: a pod that may escalate privileges is refused.
    const bad: V1Pod = structuredClone(pod);
    const c0 = bad.spec?.containers[0];
    if (c0?.securityContext) c0.securityContext.allowPrivilegeEscalation = true;
    await assert.rejects(api.createStrict(bad, 'All'), (e: unknown) => e instanceof ApiException && e.code === 403 && /allowPrivilegeEscalation/.test(errorBody(e)));
  });

  it("passes `kubectl apply -k manifests/openshift/ --dry-run=server`, its pod admitted under Pod Security 'restricted'", async () => {
    const kubeconfig = process.env.PSO_TEST_KUBECONFIG ?? '';
    const r = spawnSync(testKubectl(), ['--kubeconfig', kubeconfig, 'apply', '-k', OPENSHIFT_DIR, '--dry-run=server'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^deployment\.apps\/pullsecret-operator (created|configured|unchanged) \(server dry run\)$/m, r.stdout);
    const deploy = kustomize(testKubectl(), OPENSHIFT_DIR).find((o) => o.kind === 'Deployment') as Obj;
    const template = (deploy['spec'] as { template: { metadata: { labels: Record<string, string> } } }).template;
    const pod: V1Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pso-openshift-probe', namespace: NS, labels: template.metadata.labels }, spec: podSpec(deploy) };
    try {
      await api.createStrict(pod, 'All');
    } catch (err) {
      assert.fail(`pod rejected: ${errorBody(err)}`);
    }
  });

  it('passes `kubectl apply -k manifests/ --dry-run=server` against the real API server', () => {
    // Server-side dry run of the admin's own command: every object is validated and admitted, nothing is
    // stored. (The Namespace exists already, from before(): a dry run cannot create it for the others.)
    const kubeconfig = process.env.PSO_TEST_KUBECONFIG ?? '';
    const r = spawnSync(testKubectl(), ['--kubeconfig', kubeconfig, 'apply', '-k', MANIFESTS_DIR, '--dry-run=server'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    for (const kind of ['namespace', 'serviceaccount', 'clusterrole.rbac.authorization.k8s.io', 'deployment.apps', 'poddisruptionbudget.policy']) {
      assert.match(r.stdout, new RegExp(`^${kind.replace(/\./g, '\\.')}/\\S+ (created|configured|unchanged) \\(server dry run\\)$`, 'm'), r.stdout);
    }
  });
});

describe('manifests/monitoring/ (kubectl apply -k manifests/monitoring/)', () => {
  const objs = kustomize(testKubectl(), MONITORING_DIR);

  it('lists every file of the folder, and renders a ServiceMonitor, a PrometheusRule and the dashboard ConfigMap in the operator namespace', () => {
    const k = parseAllYaml<{ resources: string[] }>(readFileSync(join(MONITORING_DIR, 'kustomization.yaml'), 'utf8'))[0];
    assert.deepEqual([...(k?.resources ?? [])].sort(), readdirSync(MONITORING_DIR).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml').sort());
    assert.deepEqual(objs.map((o) => `${o.apiVersion} ${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`).sort(), [
      'monitoring.coreos.com/v1 PrometheusRule/pullsecret-operator/pullsecret-operator',
      'monitoring.coreos.com/v1 ServiceMonitor/pullsecret-operator/pullsecret-operator',
      'v1 ConfigMap/pullsecret-operator/pullsecret-operator-dashboard',
    ]);
  });

  it("selects the metrics Service's pods and port, which the alert rules' job names", () => {
    const sm = objs.find((o) => o.kind === 'ServiceMonitor') as Obj & { spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string }[] } };
    const services = rendered.filter((m) => m.obj.kind === 'Service').map((m) => m.obj as Obj & { metadata: { labels: Record<string, string> }; spec: { ports: { name: string }[] } });
    const selected = services.filter((svc) => Object.entries(sm.spec.selector.matchLabels).every(([k, v]) => svc.metadata.labels[k] === v));
    // Both Services carry the labels; only the metrics one has the port named http.
    const scraped = selected.filter((svc) => svc.spec.ports.some((p) => sm.spec.endpoints.some((e) => e.port === p.name)));
    assert.deepEqual(scraped.map((svc) => svc.metadata.name), ['pullsecret-operator-metrics']);
    assert.deepEqual(sm.spec.endpoints.map((e) => e.path), ['/metrics']);
    const rule = objs.find((o) => o.kind === 'PrometheusRule') as Obj & { spec: { groups: { rules: { expr: string }[] }[] } };
    for (const r of rule.spec.groups.flatMap((g) => g.rules)) assert.match(r.expr, /job="pullsecret-operator-metrics"/);
  });

  it('has a dashboard ConfigMap that the API server accepts under strict field validation (the other two need the Prometheus Operator CRDs)', async () => {
    const api = StrictObjectApi.make(testKubeConfig());
    const core = testKubeConfig().makeApiClient(CoreV1Api);
    const cm = objs.find((o) => o.kind === 'ConfigMap') as Obj;
    const ns = `pso-monitoring-dry-run-${process.pid}`;
    await core.createNamespace({ body: { metadata: { name: ns } } });
    try {
      const out = await api.createStrict({ ...cm, metadata: { ...cm.metadata, namespace: ns } }, 'All');
      assert.equal(out.metadata?.name, 'pullsecret-operator-dashboard');
    } finally {
      await core.deleteNamespace({ name: ns });
    }
  });
});

describe('manifests/openshift/ (OpenShift restricted-v2: UID and GID left to OpenShift)', () => {
  it('renders the base without any fixed runAsUser, runAsGroup or fsGroup, and with nothing else changed', () => {
    const base = kustomize(testKubectl(), MANIFESTS_DIR);
    const openshift = kustomize(testKubectl(), OPENSHIFT_DIR);
    assert.deepEqual(openshift.flatMap((o) => fixedIds(o).map((p) => `${objectKey(o)}${p}`)), []);
    const deploy = base.find((o) => o.kind === 'Deployment') as Obj;
    assert.deepEqual(fixedIds(deploy).sort(), ['/spec/template/spec/containers/0/securityContext/runAsGroup', '/spec/template/spec/containers/0/securityContext/runAsUser', '/spec/template/spec/securityContext/runAsGroup', '/spec/template/spec/securityContext/runAsUser'], 'the base fixes the ids in these places only');
    // The base minus those four fields is the overlay, object for object: the rest stays restricted.
    const spec = (deploy['spec'] as { template: { spec: V1PodSpec } }).template.spec;
    delete spec.securityContext?.runAsUser;
    delete spec.securityContext?.runAsGroup;
    delete spec.containers[0]?.securityContext?.runAsUser;
    delete spec.containers[0]?.securityContext?.runAsGroup;
    assert.deepEqual(new Map(openshift.map((o) => [objectKey(o), o])), new Map(base.map((o) => [objectKey(o), o])));
    assert.equal(spec.securityContext?.runAsNonRoot, true);
    assert.equal(spec.containers[0]?.securityContext?.readOnlyRootFilesystem, true);
  });

  it('keeps its patches inline: the only file of manifests/openshift/ is its kustomization.yaml', () => {
    assert.deepEqual(readdirSync(OPENSHIFT_DIR), ['kustomization.yaml']);
  });
});

describe('manifests/base/deployment.yaml against the code', () => {
  const deploy = only('Deployment');
  const spec = podSpec(deploy);
  const container = spec.containers[0];

  it('runs two replicas, hardened: non-root numeric user, read-only root, no privilege escalation, no capabilities, RuntimeDefault seccomp', () => {
    assert.equal((deploy['spec'] as { replicas: number }).replicas, 2);
    assert.equal(spec.containers.length, 1);
    const sc = { ...spec.securityContext, ...container?.securityContext };
    assert.equal(sc.runAsNonRoot, true);
    assert.ok(Number.isInteger(sc.runAsUser) && (sc.runAsUser ?? 0) > 0, 'numeric non-root runAsUser');
    assert.ok(Number.isInteger(sc.runAsGroup) && (sc.runAsGroup ?? 0) > 0, 'numeric non-root runAsGroup');
    assert.equal(container?.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(container?.securityContext?.allowPrivilegeEscalation, false);
    assert.deepEqual(container?.securityContext?.capabilities?.drop, ['ALL']);
    assert.equal(container?.securityContext?.capabilities?.add, undefined);
    assert.equal(sc.seccompProfile?.type, 'RuntimeDefault');
    assert.equal(spec.enableServiceLinks, false);
    assert.equal(spec.automountServiceAccountToken, true, 'the operator authenticates with its token');
  });

  it('uses the ServiceAccount that the ClusterRoleBinding and RoleBinding bind, to roles that exist', () => {
    const sa = only('ServiceAccount');
    assert.equal(spec.serviceAccountName, sa.metadata.name);
    for (const kind of ['ClusterRoleBinding', 'RoleBinding']) {
      const b = only(kind) as Obj & { subjects: { kind: string; name: string; namespace?: string }[]; roleRef: { kind: string; name: string } };
      assert.deepEqual(b.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: NS }], kind);
      assert.equal(only(b.roleRef.kind).metadata.name, b.roleRef.name, `${kind} roleRef`);
    }
    assert.equal(only('Role').metadata.namespace, NS, 'the leader-election Role is in the operator namespace');
  });

  it('has args and env that the operator accepts: leader election on, Lease in the pod namespace, identity from the pod name', () => {
    const args = container?.args ?? [];
    const env: Record<string, string> = {};
    for (const e of container?.env ?? []) {
      const field = e.valueFrom?.fieldRef?.fieldPath;
      env[e.name] = field === 'metadata.name' ? 'pullsecret-operator-7d9f-abcde' : field === 'metadata.namespace' ? NS : (e.value ?? '');
    }
    assert.ok(args.includes('--leader-elect'), '--leader-elect');
    assert.equal(env['PSO_LOG_LEVEL'], 'info');
    assert.ok((container?.env ?? []).some((e) => e.name === 'POD_NAME' && e.valueFrom?.fieldRef?.fieldPath === 'metadata.name'));
    assert.ok((container?.env ?? []).some((e) => e.name === 'POD_NAMESPACE' && e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace'));
    for (const name of Object.keys(env).filter((n) => n.startsWith('PSO_'))) assert.ok(FLAGS.some((f) => f.env === name), `${name} is a known variable`);
    const config = loadConfig(args, env, 'host');
    assert.equal(config.command, 'run');
    assert.equal(config.kubeconfig, undefined, 'in-cluster config');
    assert.equal(config.identity, env['POD_NAME']);
    assert.equal(config.leaderElection.enabled, true);
    assert.equal(config.leaderElection.namespace, NS);
    const port = container?.ports?.find((p) => p.name === 'http')?.containerPort;
    assert.equal(port, 8080);
    assert.equal(Number(config.httpAddress.split(':').pop()), port, 'the http port is where the operator listens');
  });

  it("probes paths that the operator's http server answers, on its named port", async () => {
    assert.equal(container?.livenessProbe?.httpGet?.path, '/healthz');
    assert.equal(container?.readinessProbe?.httpGet?.path, '/readyz');
    assert.equal(container?.livenessProbe?.httpGet?.port, 'http');
    assert.equal(container?.readinessProbe?.httpGet?.port, 'http');
    const server = await startHttpServer('127.0.0.1:0', { health: () => null, ready: () => null }, new Registry());
    try {
      for (const path of ['/healthz', '/readyz']) {
        const r = await fetch(`http://127.0.0.1:${server.port}${path}`);
        assert.equal(r.status, 200, path);
      }
    } finally {
      await server.close();
    }
  });

  it('requests no more than its limits, and caps the V8 heap below the memory limit', () => {
    const r = container?.resources;
    const cpu = (v: string | undefined): number => (v?.endsWith('m') ? Number(v.slice(0, -1)) : Number(v) * 1000);
    const mem = (v: string | undefined): number => Number(/^(\d+)Mi$/.exec(v ?? '')?.[1] ?? NaN);
    assert.ok(cpu(r?.requests?.['cpu']) > 0 && cpu(r?.requests?.['cpu']) <= cpu(r?.limits?.['cpu']), 'cpu');
    assert.ok(mem(r?.requests?.['memory']) > 0 && mem(r?.requests?.['memory']) <= mem(r?.limits?.['memory']), 'memory');
    const heap = Number(/--max-old-space-size=(\d+)/.exec(container?.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '')?.[1] ?? NaN);
    assert.ok(heap < mem(r?.limits?.['memory']), 'heap cap below the limit');
  });

  it('spreads the replicas over nodes, and the PodDisruptionBudget and Service select its pods', () => {
    const labels = (deploy['spec'] as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
    const matches = (sel: Record<string, string> | undefined): boolean => !!sel && Object.entries(sel).every(([k, v]) => labels[k] === v);
    assert.ok(matches((deploy['spec'] as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels));
    const tsc = spec.topologySpreadConstraints ?? [];
    assert.ok(tsc.some((c) => c.topologyKey === 'kubernetes.io/hostname' && matches(c.labelSelector?.matchLabels)));
    const anti = spec.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
    assert.ok(anti.some((a) => a.podAffinityTerm.topologyKey === 'kubernetes.io/hostname' && matches(a.podAffinityTerm.labelSelector?.matchLabels)));
    const pdb = only('PodDisruptionBudget') as Obj & { spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } } };
    assert.equal(pdb.spec.minAvailable, 1);
    assert.ok(matches(pdb.spec.selector.matchLabels));
    const services = rendered.filter((m) => m.obj.kind === 'Service').map((m) => m.obj as Obj & { spec: { selector: Record<string, string>; ports: { targetPort: string }[] } });
    assert.deepEqual(services.map((x) => x.metadata.name).sort(), ['pullsecret-operator-metrics', 'pullsecret-operator-webhook']);
    for (const svc of services) {
      assert.ok(matches(svc.spec.selector));
      assert.ok(svc.spec.ports.every((p) => container?.ports?.some((cp) => cp.name === p.targetPort)));
    }
  });
});
