/**
 * RBAC of manifests/: the operator runs as its own ServiceAccount, bound by the manifests'
 * ClusterRole and Role, under the API server's real RBAC authorizer, and everything works with no
 * 403. The grant is exactly what the code uses: the verbs are derived from the code (the
 * routes of the requests src/kube/client.ts sends, the paths the informers watch), not from a list.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AdmissionregistrationV1Api, ApiException, AuthorizationV1Api, CoordinationV1Api, CoreV1Api, KubeConfig, type V1APIResourceList, type V1Secret } from '@kubernetes/client-node';
import { FLAGS } from '../../src/config.js';
import { WEBHOOK_CONFIGURATION_NAME } from '../../src/webhook/configuration.js';
import { CREDENTIALS_CONFIGMAP } from '../../src/registry/results.js';
import { uniqueName } from '../harness/kube.js';
import { CLUSTER_SCOPED_KINDS, type Obj, type OperatorIdentity, StrictObjectApi, installOperatorIdentity, readKustomization, render } from '../harness/manifests.js';
import { REPO_ROOT, startOperator } from '../harness/operator.js';
import { OPT_OUT, Scenario, fixtureCopies, mergePatch } from '../harness/scenario.js';

const rendered = render();
const of = (kind: string): Obj => {
  const o = rendered.find((m) => m.obj.kind === kind)?.obj;
  assert.ok(o, kind);
  return o;
};

const LEASE_NAME = FLAGS.find((f) => f.name === 'lease-name')?.def ?? 'pullsecret-operator';

// ---------------------------------------------------------------------------------------------
// What the code uses, derived from the code.

interface Access {
  group: string;
  /** resource, or resource/subresource */
  resource: string;
  verb: string;
}
const accessKey = (a: Access): string => `${a.group || 'core'}/${a.resource}:${a.verb}`;

/**
 * Calls of the code that the manifests deliberately do not grant: creating the
 * MutatingWebhookConfiguration is only for --webhook-url, an out-of-cluster run with an admin's
 * kubeconfig; in the cluster the manifests install it, and the operator only gets, patches and
 * updates it (by name). A create grant would let the operator register any webhook.
 */
const OUT_OF_CLUSTER_ONLY = new Set(['admissionregistration.k8s.io/mutatingwebhookconfigurations:create']);

/**
 * Every request of src/kube/client.ts, as (group, resource, verb). Each request's method and path
 * are built from a literal `route({ verb: ..., group: ..., resource: ... })` there, so the scan
 * reads what the code sends. Each resource is checked against the API server's discovery.
 */
async function clientCalls(kc: KubeConfig): Promise<{ access: Access[]; calls: string[] }> {
  const text = readFileSync(join(REPO_ROOT, 'src', 'kube', 'client.ts'), 'utf8');
  const access: Access[] = [];
  const calls: string[] = [];
  const discovery = new Map<string, V1APIResourceList>();
  const resources = async (group: string): Promise<V1APIResourceList> => {
    let l = discovery.get(group);
    if (!l) {
      l =
        group === ''
          ? await kc.makeApiClient(CoreV1Api).getAPIResources()
          : group === 'admissionregistration.k8s.io'
            ? await kc.makeApiClient(AdmissionregistrationV1Api).getAPIResources()
            : await kc.makeApiClient(CoordinationV1Api).getAPIResources();
      discovery.set(group, l);
    }
    return l;
  };
  for (const m of text.matchAll(/\broute\(\{ verb: '(\w+)', group: '([\w.]*)', resource: '([\w/]+)'.*$/gm)) {
    const [line = '', verb = '', group = '', resource = ''] = m;
    calls.push(`${verb} ${group || 'core'}/${resource}`);
    assert.ok(['', 'coordination.k8s.io', 'admissionregistration.k8s.io'].includes(group), `${group}: an API group the client knows`);
    const list = await resources(group);
    assert.ok(list.resources.some((r) => r.name === resource), `${resource} is served by ${list.groupVersion}`);
    access.push({ group, resource, verb });
    // A server-side apply (on the same line) creates the object when it is missing: the API server
    // then authorizes a create of that name as well.
    if (verb === 'patch' && line.includes('application/apply-patch+yaml')) access.push({ group, resource, verb: 'create' });
  }
  return { access, calls };
}

/** Every collection path an informer watches (`path: '/api/v1/...'` in src), as a watch. */
function watchedPaths(): { access: Access[]; paths: string[] } {
  const access: Access[] = [];
  const paths: string[] = [];
  const files = (readdirSync(join(REPO_ROOT, 'src'), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
  for (const f of files) {
    const text = readFileSync(join(REPO_ROOT, 'src', f), 'utf8');
    for (const m of text.matchAll(/\bpath:\s*[`'"](\/apis?\/[^`'"]*)[`'"]/g)) {
      const path = m[1] ?? '';
      paths.push(path);
      const seg = path.replace(/\$\{[^}]*\}/g, 'X').split('/').filter(Boolean);
      const group = seg[0] === 'api' ? '' : (seg[1] ?? '');
      const rest = seg.slice(seg[0] === 'api' ? 2 : 3);
      const [resource, sub] = rest[0] === 'namespaces' && rest.length >= 3 ? [rest[2], rest[3]] : [rest[0], rest[1]];
      assert.ok(resource, `a resource in ${path}`);
      access.push({ group, resource: sub ? `${resource}/${sub}` : resource, verb: 'watch' });
    }
  }
  return { access, paths };
}

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}
const rulesOf = (o: Obj): Rule[] => (o['rules'] ?? []) as Rule[];
function granted(rules: Rule[]): Set<string> {
  const out = new Set<string>();
  for (const r of rules) for (const group of r.apiGroups ?? []) for (const resource of r.resources ?? []) for (const verb of r.verbs) out.add(accessKey({ group, resource, verb }));
  return out;
}

// ---------------------------------------------------------------------------------------------
// One install of the manifests' RBAC, in a namespace of its own.

const admin = new KubeConfig();
const id = uniqueName('pso-rbac');
const NS = id;
const SA = of('ServiceAccount').metadata.name;
const tmp = mkdtempSync(join(tmpdir(), 'pso-rbac-'));
const s = new Scenario('rbac');
let saKc: KubeConfig;
let identity: OperatorIdentity;
let operatorStderr = (): string => '';

before(async () => {
  admin.loadFromFile(s.kubeconfigPath);
  identity = await installOperatorIdentity(admin, NS, id.slice(-8), join(tmp, 'kubeconfig'));
  saKc = new KubeConfig();
  saKc.loadFromFile(identity.kubeconfigPath);
  await s.setUp();
  const extra = ['--leader-elect'];
  // The Deployment's environment: identity and Lease namespace from the downward API.
  s.operator = await startOperator({ kubeconfig: identity.kubeconfigPath, args: s.args(extra), env: { POD_NAME: `${id}-0`, POD_NAMESPACE: NS } });
  const op = s.operator;
  operatorStderr = () => op.stderr();
});

after(async () => {
  await s.tearDown();
  for (const o of [...identity.objects].reverse()) {
    if (CLUSTER_SCOPED_KINDS.has(o.kind)) {
      await StrictObjectApi.make(admin)
        .delete(o)
        .catch(() => undefined);
    }
  }
  rmSync(tmp, { recursive: true, force: true });
});

describe('the operator as its ServiceAccount, under the manifests RBAC', () => {
  let ns = '';

  it("gives a new namespace the copies and patches its default ServiceAccount", async () => {
    ns = await s.namespace('apps');
    await s.waitFor('copies', async () => (await s.copies(ns)).join() === fixtureCopies(ns).join());
    const names = await s.waitFor('default SA patched', async () => {
      const n = await s.pullSecretNames(ns);
      return n.length === fixtureCopies(ns).length && n;
    });
    assert.deepEqual([...names].sort(), fixtureCopies(ns));
  });

  it('patches a ServiceAccount created later', async () => {
    await s.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'builder' }, imagePullSecrets: [{ name: 'mine' }] } });
    const names = await s.waitFor('builder patched', async () => {
      const n = await s.pullSecretNames(ns, 'builder');
      return n.length === 1 + fixtureCopies(ns).length && n;
    });
    assert.equal(names[0], 'mine');
  });

  it('updates the copies when a source is rotated', async () => {
    const rotated = Buffer.from(JSON.stringify({ auths: { 'icr.io': { username: 'iamapikey', password: `ROTATED-${id}` } } })).toString('base64');
    const src = (await s.secret(s.source, 'all-icr-io')) as V1Secret;
    await s.core.replaceNamespacedSecret({ namespace: s.source, name: 'all-icr-io', body: { ...src, data: { '.dockerconfigjson': rotated } } });
    await s.waitFor('the rotated copy', async () => (await s.secret(ns, 'all-icr-io'))?.data?.['.dockerconfigjson'] === rotated);
  });

  it('leaves a foreign secret with a copy name alone and reports it in a Warning Event (secrets get, events create)', async () => {
    const team = await s.foreignNamespace('foreign', 'all-icr-io');
    const ev = await s.waitFor('a ForeignSecret Event', async () => {
      const l = await s.core.listEventForAllNamespaces({ fieldSelector: `involvedObject.kind=Namespace,involvedObject.name=${team}` });
      return l.items.find((e) => e.reason === 'ForeignSecret');
    });
    assert.equal(ev.type, 'Warning');
    assert.equal((await s.secret(team, 'all-icr-io'))?.type, 'Opaque', 'left alone');
  });

  it('deletes the copies and removes its entries when a namespace opts out', async () => {
    await s.core.patchNamespace({ name: ns, body: { metadata: { annotations: { [OPT_OUT]: 'true' } } } }, mergePatch);
    await s.waitFor('copies deleted and entries removed', async () => (await s.copies(ns)).length === 0 && (await s.pullSecretNames(ns)).length === 0 && (await s.pullSecretNames(ns, 'builder')).join() === 'mine');
  });

  it('holds and renews the leader-election Lease in its own namespace (leases get, create, update)', async () => {
    const coord = admin.makeApiClient(CoordinationV1Api);
    const first = await s.waitFor('the Lease', async () => {
      const l = await coord.readNamespacedLease({ namespace: NS, name: LEASE_NAME }).catch(() => undefined);
      return l?.spec?.holderIdentity === `${id}-0` && l;
    });
    await s.waitFor('a renewal', async () => {
      const l = await coord.readNamespacedLease({ namespace: NS, name: LEASE_NAME });
      return l.metadata?.resourceVersion !== first.metadata?.resourceVersion && l.spec?.holderIdentity === `${id}-0`;
    });
  });

  it('logged no 403 and no Forbidden', () => {
    const text = operatorStderr();
    assert.ok(text.length > 0, 'the operator logged');
    const bad = text.split('\n').filter((l) => /\b403\b|forbidden/i.test(l));
    assert.deepEqual(bad, []);
  });
});

describe('least privilege', () => {
  let used: Access[] = [];
  const clusterRole = of('ClusterRole');
  const role = of('Role');

  before(async () => {
    const { access } = await clientCalls(admin);
    used = [...access, ...watchedPaths().access].filter((a) => !OUT_OF_CLUSTER_ONLY.has(accessKey(a)));
  });

  it('derives the used verbs from every client-node call of src/kube/client.ts and every watched path', async () => {
    const { calls } = await clientCalls(admin);
    const { paths } = watchedPaths();
    assert.ok(calls.length >= 10, `client calls found: ${calls.join(', ')}`);
    assert.ok(paths.length >= 1, 'watched paths found');
    // The scan covers the whole client: every request goes through route(), and every route() is one of them.
    const text = readFileSync(join(REPO_ROOT, 'src', 'kube', 'client.ts'), 'utf8');
    assert.equal(calls.length, [...text.matchAll(/\broute\(\{/g)].length);
  });

  it('grants in the ClusterRole and the Role exactly the verbs the code uses, per resource: nothing more, nothing missing', () => {
    const want = new Set(used.map(accessKey));
    const have = granted([...rulesOf(clusterRole), ...rulesOf(role)]);
    const extra = [...have].filter((x) => !want.has(x)).sort();
    const missing = [...want].filter((x) => !have.has(x)).sort();
    assert.deepEqual({ extra, missing }, { extra: [], missing: [] });
  });

  it('uses no wildcard and no non-resource URL, and grants leases only in the operator namespace, for its Lease by name where RBAC can', () => {
    for (const r of [...rulesOf(clusterRole), ...rulesOf(role)]) {
      for (const v of [...(r.apiGroups ?? []), ...(r.resources ?? []), ...r.verbs, ...(r.resourceNames ?? [])]) assert.ok(!v.includes('*'), `wildcard in ${JSON.stringify(r)}`);
      assert.equal(r.nonResourceURLs, undefined);
    }
    assert.ok(rulesOf(clusterRole).every((r) => !(r.resources ?? []).includes('leases')), 'no cluster-wide leases');
    assert.ok(rulesOf(clusterRole).every((r) => !(r.resources ?? []).includes('configmaps')), 'no cluster-wide configmaps');
    assert.ok(
      rulesOf(role).every((r) => ((r.apiGroups ?? []).join() === 'coordination.k8s.io' && (r.resources ?? []).join() === 'leases') || ((r.apiGroups ?? []).join() === '' && (r.resources ?? []).join() === 'configmaps')),
      'the Role is about its Lease and the credential results only',
    );
    const configMapRules = rulesOf(role).filter((r) => (r.resources ?? []).includes('configmaps'));
    assert.equal(configMapRules.length, 1);
    assert.deepEqual(configMapRules[0]?.resourceNames, [CREDENTIALS_CONFIGMAP], 'every configmaps verb, create included, limited to the results ConfigMap by name');
    assert.equal(role.metadata.namespace, readKustomization().namespace);
    const webhookRules = rulesOf(clusterRole).filter((r) => (r.resources ?? []).includes('mutatingwebhookconfigurations'));
    assert.equal(webhookRules.length, 1);
    assert.deepEqual(webhookRules[0]?.resourceNames, [WEBHOOK_CONFIGURATION_NAME], 'the webhook configuration, by name');
    assert.ok(!webhookRules[0]?.verbs.includes('create'), 'no create of webhook configurations');
    for (const r of rulesOf(role).filter((x) => (x.resources ?? []).includes('leases'))) {
      const byName = r.verbs.filter((v) => v !== 'create');
      if (byName.length > 0) assert.deepEqual(r.resourceNames, [LEASE_NAME], `${byName.join()} limited to the Lease ${LEASE_NAME}`);
    }
  });

  const ssar = async (a: Access & { namespace?: string; name?: string }): Promise<boolean> => {
    const [resource, subresource] = a.resource.split('/');
    const r = await saKc.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({
      body: { spec: { resourceAttributes: { group: a.group, resource, subresource, verb: a.verb, namespace: a.namespace, name: a.name } } },
    });
    return r.status?.allowed === true;
  };

  it('is allowed, by the real RBAC authorizer, every verb the code uses (SelfSubjectAccessReview as the ServiceAccount)', async () => {
    const denied: string[] = [];
    for (const a of used) {
      const lease = a.resource === 'leases';
      const webhook = a.resource === 'mutatingwebhookconfigurations';
      const results = a.resource === 'configmaps';
      const asked = lease
        ? { ...a, namespace: NS, name: a.verb === 'create' ? undefined : LEASE_NAME }
        : webhook
          ? { ...a, namespace: '', name: WEBHOOK_CONFIGURATION_NAME }
          : results
            ? { ...a, namespace: NS, name: CREDENTIALS_CONFIGMAP }
            : { ...a, namespace: '' };
      if (!(await ssar(asked))) denied.push(`${accessKey(a)} in ${asked.namespace || 'all namespaces'}`);
      if (!lease && !webhook && !results && !(await ssar({ ...a, namespace: s.source }))) denied.push(`${accessKey(a)} in ${s.source}`);
    }
    assert.deepEqual(denied, []);
  });

  it('is denied, by the real RBAC authorizer, what the code does not use', async () => {
    const probes: (Access & { namespace?: string; name?: string })[] = [
      { group: '', resource: 'secrets', verb: 'patch' },
      { group: '', resource: 'secrets', verb: 'deletecollection', namespace: s.source },
      { group: '', resource: 'configmaps', verb: 'get', namespace: 'default' },
      // The results ConfigMap: by name, in the operator's namespace only; a create without a name (a POST) is not allowed.
      { group: '', resource: 'configmaps', verb: 'create', namespace: NS },
      { group: '', resource: 'configmaps', verb: 'patch', namespace: NS, name: 'another-configmap' },
      { group: '', resource: 'configmaps', verb: 'create', namespace: NS, name: 'another-configmap' },
      { group: '', resource: 'configmaps', verb: 'update', namespace: NS, name: CREDENTIALS_CONFIGMAP },
      { group: '', resource: 'configmaps', verb: 'delete', namespace: NS, name: CREDENTIALS_CONFIGMAP },
      { group: '', resource: 'configmaps', verb: 'patch', namespace: 'default', name: CREDENTIALS_CONFIGMAP },
      { group: '', resource: 'configmaps', verb: 'list', namespace: NS },
      { group: '', resource: 'pods', verb: 'list' },
      { group: '', resource: 'nodes', verb: 'list' },
      { group: '', resource: 'namespaces', verb: 'create' },
      { group: '', resource: 'namespaces', verb: 'delete', name: 'default' },
      { group: '', resource: 'namespaces', verb: 'patch', name: 'default' },
      { group: '', resource: 'serviceaccounts', verb: 'update', namespace: 'default' },
      { group: '', resource: 'serviceaccounts', verb: 'create', namespace: 'default' },
      { group: '', resource: 'serviceaccounts', verb: 'delete', namespace: 'default' },
      { group: '', resource: 'serviceaccounts/token', verb: 'create', namespace: NS, name: SA },
      { group: '', resource: 'events', verb: 'list' },
      { group: '', resource: 'events', verb: 'patch', namespace: 'default' },
      { group: 'events.k8s.io', resource: 'events', verb: 'create', namespace: 'default' },
      { group: 'coordination.k8s.io', resource: 'leases', verb: 'get', namespace: 'default', name: LEASE_NAME },
      { group: 'coordination.k8s.io', resource: 'leases', verb: 'create', namespace: 'kube-system' },
      { group: 'coordination.k8s.io', resource: 'leases', verb: 'update', namespace: NS, name: 'another-lease' },
      { group: 'coordination.k8s.io', resource: 'leases', verb: 'delete', namespace: NS, name: LEASE_NAME },
      { group: 'coordination.k8s.io', resource: 'leases', verb: 'list', namespace: NS },
      { group: 'rbac.authorization.k8s.io', resource: 'clusterroles', verb: 'escalate' },
      { group: 'rbac.authorization.k8s.io', resource: 'rolebindings', verb: 'create', namespace: NS },
      { group: 'apps', resource: 'deployments', verb: 'get', namespace: NS },
      { group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', verb: 'create' },
      { group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', verb: 'get', name: 'another-webhook' },
      { group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', verb: 'update', name: 'another-webhook' },
      { group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', verb: 'delete', name: WEBHOOK_CONFIGURATION_NAME },
      { group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', verb: 'list' },
      { group: 'admissionregistration.k8s.io', resource: 'validatingwebhookconfigurations', verb: 'get', name: WEBHOOK_CONFIGURATION_NAME },
      { group: 'admissionregistration.k8s.io', resource: 'validatingadmissionpolicies', verb: 'update', name: 'pullsecret-operator-writes' },
    ];
    const allowed: string[] = [];
    for (const p of probes) if (await ssar(p)) allowed.push(`${accessKey(p)} ${p.namespace ?? ''}/${p.name ?? ''}`);
    assert.deepEqual(allowed, []);
  });

  it('gets 403 from the API server for a call outside the grant', async () => {
    const core = saKc.makeApiClient(CoreV1Api);
    await assert.rejects(core.listNamespacedConfigMap({ namespace: 'default' }), (e: unknown) => e instanceof ApiException && e.code === 403);
  });
});
