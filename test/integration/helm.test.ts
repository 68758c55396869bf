/**
 * The Helm chart (charts/pullsecret-operator) with a real helm, built from Go modules
 * (test/helm/build.sh): lint, template, the same objects as manifests/ (and, with
 * openshift=true, as manifests/openshift/), then install, upgrade and uninstall on the control
 * plane, with the operator running under the chart's own ServiceAccount in between.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AppsV1Api, KubeConfig, RbacAuthorizationV1Api, type V1Deployment } from '@kubernetes/client-node';
import { CHART_DIR, Helm, buildHelm } from '../harness/helm.js';
import { testKubectl } from '../harness/kube.js';
import { CLUSTER_SCOPED_KINDS, MANIFESTS_DIR, MONITORING_DIR, OPENSHIFT_DIR, type Obj, StrictObjectApi, containersOf, fixedIds, kustomize, objectKey, parseAllYaml, serviceAccountUser, waitForAdmissionPolicy, writeTokenKubeconfig } from '../harness/manifests.js';
import { REPO_ROOT, startOperator } from '../harness/operator.js';
import { Scenario, assertNoDenial, fixtureCopies, isNotFound } from '../harness/scenario.js';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
const kubeconfig = (): string => process.env.PSO_TEST_KUBECONFIG ?? '';
let helm: Helm;

before(async () => {
  helm = new Helm(await buildHelm(), kubeconfig());
});

after(() => helm.dispose());

/** `helm template` of the chart, parsed. */
function template(namespace: string, ...set: string[]): Obj[] {
  return parseAllYaml(helm.ok(['template', 'pullsecret-operator', CHART_DIR, '--namespace', namespace, ...set.flatMap((s) => ['--set', s])]));
}

/**
 * Objects by kind/namespace/name. kustomize writes its `namespace` into cluster-scoped kinds it
 * does not know (the admission policy and its binding); the API server drops it, and so does this.
 */
function byKey(objs: Obj[]): Map<string, Obj> {
  return new Map(
    objs.map((o) => {
      const c = structuredClone(o);
      if (CLUSTER_SCOPED_KINDS.has(c.kind)) delete c.metadata.namespace;
      return [objectKey(c), c];
    }),
  );
}

function deploymentOf(objs: Obj[]): V1Deployment & Obj {
  return objs.find((o) => o.kind === 'Deployment') as V1Deployment & Obj;
}

describe('charts/pullsecret-operator, rendered', () => {
  it('passes helm lint --strict, with the default values and with openshift=true', () => {
    for (const set of [[], ['--set', 'openshift=true']]) {
      const out = helm.ok(['lint', '--strict', CHART_DIR, ...set]);
      assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  it("has the package.json version as appVersion, the image's default tag", () => {
    const chart = parseAllYaml<{ version: string; appVersion: string }>(readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8'))[0];
    assert.equal(chart?.appVersion, pkg.version);
    assert.equal(chart?.version, pkg.version);
  });

  it('renders exactly the objects of `kubectl kustomize manifests/`, the Namespace aside (left to --create-namespace)', () => {
    const manifests = kustomize(testKubectl(), MANIFESTS_DIR);
    const ns = manifests.find((o) => o.kind === 'Namespace')?.metadata.name ?? '';
    const expected = byKey(manifests.filter((o) => o.kind !== 'Namespace'));
    const rendered = template(ns);
    assert.deepEqual(rendered.filter((o) => CLUSTER_SCOPED_KINDS.has(o.kind) && o.metadata.namespace !== undefined).map(objectKey), [], 'no namespace on cluster-scoped objects');
    const chart = byKey(rendered);
    assert.deepEqual([...chart.keys()].sort(), [...expected.keys()].sort());
    for (const [k, o] of expected) assert.deepEqual(chart.get(k), o, k);
  });

  it('with openshift=true renders exactly `kubectl kustomize manifests/openshift/` (the Namespace aside): no fixed runAsUser, runAsGroup or fsGroup', () => {
    const overlay = kustomize(testKubectl(), OPENSHIFT_DIR);
    const ns = overlay.find((o) => o.kind === 'Namespace')?.metadata.name ?? '';
    const chart = template(ns, 'openshift=true');
    assert.deepEqual(chart.flatMap((o) => fixedIds(o).map((p) => `${objectKey(o)}${p}`)), []);
    assert.deepEqual(byKey(chart), byKey(overlay.filter((o) => o.kind !== 'Namespace')));
  });

  it('renders no monitoring object by default, and no custom resource of the Prometheus Operator unless asked', () => {
    const kinds = template('pullsecret-operator').map((o) => o.kind);
    assert.ok(!kinds.some((k) => k === 'ServiceMonitor' || k === 'PrometheusRule'));
    assert.ok(!template('pullsecret-operator').some((o) => o.apiVersion.startsWith('monitoring.coreos.com/')));
    assert.ok(!template('pullsecret-operator').some((o) => o.kind === 'ConfigMap'), 'no dashboard ConfigMap');
    // Each switch renders its own object only: the dashboard needs no CRD, the other two do.
    const only = (set: string): string[] => template('pullsecret-operator', set).filter((o) => !template('pullsecret-operator').some((d) => objectKey(d) === objectKey(o))).map(objectKey);
    assert.deepEqual(only('serviceMonitor.enabled=true'), ['ServiceMonitor/pullsecret-operator/pullsecret-operator']);
    assert.deepEqual(only('prometheusRule.enabled=true'), ['PrometheusRule/pullsecret-operator/pullsecret-operator']);
    assert.deepEqual(only('grafanaDashboard.enabled=true'), ['ConfigMap/pullsecret-operator/pullsecret-operator-dashboard']);
  });

  it('with serviceMonitor, prometheusRule and grafanaDashboard enabled renders exactly `kubectl kustomize manifests/` and `manifests/monitoring/` (the Namespace aside), and passes helm lint --strict', () => {
    const on = ['serviceMonitor.enabled=true', 'prometheusRule.enabled=true', 'grafanaDashboard.enabled=true'];
    const manifests = [...kustomize(testKubectl(), MANIFESTS_DIR), ...kustomize(testKubectl(), MONITORING_DIR)];
    const ns = manifests.find((o) => o.kind === 'Namespace')?.metadata.name ?? '';
    const expected = byKey(manifests.filter((o) => o.kind !== 'Namespace'));
    const chart = byKey(template(ns, ...on));
    assert.deepEqual([...chart.keys()].sort(), [...expected.keys()].sort());
    for (const [k, o] of expected) assert.deepEqual(chart.get(k), o, k);
    const lint = helm.ok(['lint', '--strict', CHART_DIR, ...on.flatMap((x) => ['--set', x])]);
    assert.match(lint, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('renders the monitoring values: extra labels, the dashboard\'s namespace and annotations, the scrape interval, shortened for: durations', () => {
    const objs = template('ops', 'serviceMonitor.enabled=true', 'serviceMonitor.interval=15s', 'serviceMonitor.labels.release=kps', 'prometheusRule.enabled=true', 'prometheusRule.labels.release=kps', 'prometheusRule.forOverride=10s', 'grafanaDashboard.enabled=true', 'grafanaDashboard.namespace=grafana', 'grafanaDashboard.labels.team=platform', 'grafanaDashboard.annotations.grafana_folder=Operators');
    const sm = objs.find((o) => o.kind === 'ServiceMonitor') as Obj & { spec: { endpoints: { interval: string; port: string }[] } };
    assert.equal(sm.metadata.namespace, 'ops');
    assert.equal((sm.metadata['labels'] as Record<string, string>)['release'], 'kps');
    assert.deepEqual(sm.spec.endpoints.map((e) => [e.port, e.interval]), [['http', '15s']]);
    const rule = objs.find((o) => o.kind === 'PrometheusRule') as Obj & { spec: { groups: { rules: { for: string; annotations: Record<string, string> }[] }[] } };
    assert.equal((rule.metadata['labels'] as Record<string, string>)['release'], 'kps');
    const rules = rule.spec.groups.flatMap((g) => g.rules);
    assert.ok(rules.length > 0 && rules.every((r) => r.for === '10s'));
    // Prometheus's own templates survive helm's.
    assert.ok(rules.some((r) => (r.annotations['description'] ?? '').includes('{{ $labels.instance }}')));
    const cm = objs.find((o) => o.kind === 'ConfigMap') as Obj & { data: Record<string, string> };
    assert.equal(cm.metadata.namespace, 'grafana');
    assert.deepEqual(cm.metadata['labels'], { 'app.kubernetes.io/name': 'pullsecret-operator', 'app.kubernetes.io/part-of': 'pullsecret-operator', grafana_dashboard: '1', team: 'platform' });
    assert.deepEqual(cm.metadata['annotations'], { grafana_folder: 'Operators' });
    assert.equal(cm.data['pullsecret-operator-dashboard.json'], readFileSync(join(REPO_ROOT, 'monitoring', 'pullsecret-operator-dashboard.json'), 'utf8'));
  });

  it('renders its values: namespace, image tag and digest, replicas, resources, log level, flags, pull secrets', () => {
    const objs = template('elsewhere', 'namespace=ops', 'image.repository=us.icr.io/team/pso', 'image.tag=1.2.3', 'replicas=3', 'resources.limits.memory=512Mi', 'logLevel=debug', 'flags.exclude-namespaces=ci-*', 'flags.orphan-grace=30m', 'imagePullSecrets[0].name=all-icr-io');
    for (const o of objs) assert.equal(o.metadata.namespace, CLUSTER_SCOPED_KINDS.has(o.kind) ? undefined : 'ops', objectKey(o));
    for (const o of objs.filter((x) => x.kind === 'RoleBinding' || x.kind === 'ClusterRoleBinding')) assert.equal((o['subjects'] as { namespace: string }[])[0]?.namespace, 'ops');
    // The admission policy confines the ServiceAccount of that namespace.
    const policy = objs.find((o) => o.kind === 'ValidatingAdmissionPolicy') as Obj;
    assert.deepEqual((policy['spec'] as { matchConditions: { expression: string }[] }).matchConditions.map((c) => c.expression), [`request.userInfo.username == '${serviceAccountUser('ops', 'pullsecret-operator')}'`]);
    const d = deploymentOf(objs);
    const c = d.spec?.template.spec?.containers[0];
    assert.equal(c?.image, 'us.icr.io/team/pso:1.2.3');
    assert.equal(d.spec?.replicas, 3);
    assert.equal(c?.resources?.limits?.['memory'], '512Mi');
    assert.equal(c?.resources?.requests?.['memory'], '128Mi', 'the default request stays');
    assert.deepEqual(c?.args, ['--leader-elect', '--webhook-address=:9443', '--verify-credentials', '--exclude-namespaces=ci-*', '--orphan-grace=30m']);
    // The webhook's Service names the namespace's webhook, and so does the configuration.
    const mwc = objs.find((o) => o.kind === 'MutatingWebhookConfiguration') as Obj;
    assert.equal((mwc['webhooks'] as { clientConfig: { service: { namespace: string } } }[])[0]?.clientConfig.service.namespace, 'ops');
    // webhook.enabled=false: no flag, port, Service or configuration.
    const off = template('elsewhere', 'webhook.enabled=false');
    assert.deepEqual(deploymentOf(off).spec?.template.spec?.containers[0]?.args, ['--leader-elect', '--verify-credentials']);
    // verifyCredentials=false: the check off.
    assert.deepEqual(deploymentOf(template('elsewhere', 'verifyCredentials=false')).spec?.template.spec?.containers[0]?.args, ['--leader-elect', '--webhook-address=:9443', '--verify-credentials=false']);
    assert.deepEqual(deploymentOf(off).spec?.template.spec?.containers[0]?.ports?.map((p) => p.name), ['http']);
    assert.ok(!off.some((o) => o.kind === 'MutatingWebhookConfiguration' || o.metadata.name === 'pullsecret-operator-webhook'));
    assert.equal(c?.env?.find((e) => e.name === 'PSO_LOG_LEVEL')?.value, 'debug');
    assert.deepEqual(d.spec?.template.spec?.imagePullSecrets, [{ name: 'all-icr-io' }]);
    const digest = `sha256:${'a'.repeat(64)}`;
    assert.equal(containersOf(deploymentOf(template('x', `image.digest=${digest}`)))[0]?.image, `icr.io/pullsecret-operator/pullsecret-operator@${digest}`);
  });
});

describe('charts/pullsecret-operator on the API server: install, upgrade, uninstall', () => {
  const s = new Scenario('helm');
  const release = 'pso';
  let ns = '';
  const tmp = mkdtempSync(join(tmpdir(), 'pso-helm-test-'));
  const admin = new KubeConfig();

  before(async () => {
    admin.loadFromFile(kubeconfig());
    await s.setUp();
    // The release namespace is one of the scenario's targets, so the operator makes copies there too.
    ns = `${s.id}-release`;
  });

  after(async () => {
    helm.run(['uninstall', release, '--namespace', ns]);
    await s.tearDown();
    await s.core.deleteNamespace({ name: ns }).catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('validates every object on the API server (server-side dry run, strict field validation)', async () => {
    await s.core.createNamespace({ body: { metadata: { name: ns, labels: { [s.label.split('=')[0] ?? '']: s.label.split('=')[1] ?? '' } } } });
    const manifest = helm.ok(['template', release, CHART_DIR, '--namespace', ns]);
    const r = spawnSync(testKubectl(), ['--kubeconfig', kubeconfig(), 'apply', '--server-side', '--dry-run=server', '--validate=strict', '--field-manager', 'pso-helm-test', '-f', '-'], { input: manifest, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').length, parseAllYaml(manifest).length, r.stdout);
    // Strict: a misspelt field is refused.
    const bad = spawnSync(testKubectl(), ['--kubeconfig', kubeconfig(), 'apply', '--server-side', '--dry-run=server', '--validate=strict', '-f', '-'], { input: manifest.replace('readOnlyRootFilesystem:', 'readOnlyRootFileSystem:'), encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /readOnlyRootFileSystem: field not declared in schema/);
  });

  it('installs, and the operator runs under the chart\'s ServiceAccount, Role, ClusterRole and admission policy, never denied', async () => {
    const out = helm.ok(['install', release, CHART_DIR, '--namespace', ns, '--create-namespace']);
    assert.match(out, /STATUS: deployed/);
    const apps = admin.makeApiClient(AppsV1Api);
    const d = await apps.readNamespacedDeployment({ namespace: ns, name: 'pullsecret-operator' });
    assert.equal(d.spec?.replicas, 2);
    assert.equal(d.metadata?.annotations?.['meta.helm.sh/release-name'], release);
    // No kubelet here: run the operator as the pod would, with a token of the chart's ServiceAccount.
    const tr = await s.core.createNamespacedServiceAccountToken({ namespace: ns, name: 'pullsecret-operator', body: { spec: { audiences: [], expirationSeconds: 3600 } } });
    const path = await writeTokenKubeconfig(admin, tr.status?.token ?? '', join(tmp, 'kubeconfig'));
    // The chart's admission policy confines that ServiceAccount, in this namespace.
    await waitForAdmissionPolicy(path, ns);
    // With the webhook as the chart switches it on: its certificate Secret in the namespace (the
    // policy's one exception) and the caBundle of the chart's configuration (get and patch by name).
    s.operator = await startOperator({ kubeconfig: path, args: s.args(['--leader-elect', '--webhook-address', '127.0.0.1:0']), env: { POD_NAME: 'pso-0', POD_NAMESPACE: ns } });
    await s.operator.waitForLog((l) => l.message === 'became leader', 20000, 'the Lease (chart Role)');
    await s.operator.waitForLog((l) => l.message === 'webhook caBundle updated', 20000, "the chart's webhook configuration trusting the operator's CA");
    assert.equal((await s.secret(ns, 'pullsecret-operator-webhook-tls'))?.type, 'kubernetes.io/tls');
    const target = await s.namespace('app');
    for (const n of [target, ns]) await s.waitFor(`copies in ${n}`, async () => JSON.stringify(await s.copies(n)) === JSON.stringify(fixtureCopies(n)));
    await s.operator.stop();
    assertNoDenial(s.operator.stderr());
    s.operator = undefined;
  });

  it('upgrades with changed values', async () => {
    const out = helm.ok(['upgrade', release, CHART_DIR, '--namespace', ns, '--set', 'replicas=3', '--set', 'flags.exclude-namespaces=ci-*']);
    assert.match(out, /REVISION: 2/);
    const d = await admin.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace: ns, name: 'pullsecret-operator' });
    assert.equal(d.spec?.replicas, 3);
    assert.deepEqual(d.spec?.template.spec?.containers[0]?.args, ['--leader-elect', '--webhook-address=:9443', '--verify-credentials', '--exclude-namespaces=ci-*']);
  });

  it("uninstalls, leaving nothing of the chart behind; the operator's copies stay", async () => {
    const rendered = template(ns);
    helm.ok(['uninstall', release, '--namespace', ns, '--wait']);
    const api = StrictObjectApi.make(admin);
    const left: string[] = [];
    for (const o of rendered) {
      try {
        await api.read({ apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata.name, ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}) } });
        left.push(objectKey(o));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    assert.deepEqual(left, []);
    const releases = await s.core.listNamespacedSecret({ namespace: ns, labelSelector: 'owner=helm' });
    assert.deepEqual(releases.items.map((x) => x.metadata?.name), [], 'no release records');
    assert.equal(helm.ok(['list', '--namespace', ns, '--all', '--short']).trim(), '');
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    await assert.rejects(rbac.readClusterRole({ name: 'pullsecret-operator' }), isNotFound);
    // What the operator wrote is not the chart's: `cleanup` removes it (docs/operating.md, Upgrade and uninstall).
    for (const n of s.namespaces.filter((x) => x !== s.source).concat(ns)) assert.deepEqual(await s.copies(n), fixtureCopies(n), n);
  });
});
