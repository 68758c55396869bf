/**
 * Least privilege past RBAC: the ValidatingAdmissionPolicy of manifests/ confines what the
 * operator's own ServiceAccount may write. Direct calls with that ServiceAccount's token (the
 * identity that test/harness/with-cluster.ts installs from the manifests) are denied by the real
 * API server with the policy's message, while the same token may still write the operator's own
 * objects, so the denials come from the policy, not from RBAC. Every other scenario of the suite
 * runs the operator with this token too (Scenario.startOperator) and fails on any denial.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AdmissionregistrationV1Api, ApiException, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type V1MutatingWebhook, type V1MutatingWebhookConfiguration, type V1Secret, type V1ServiceAccount } from '@kubernetes/client-node';
import { ADDED_ENTRIES_ANNOTATION } from '../../src/domain/naming.js';
import { WEBHOOK_CONFIGURATION_NAME, WEBHOOK_SECRET, desiredWebhook } from '../../src/webhook/configuration.js';
import { WEBHOOK_SECRET_LABELS } from '../../src/webhook/tls.js';
import { testKubectl, uniqueName } from '../harness/kube.js';
import { BASE_DIR, type Obj, parseAllYaml, readKustomization, render, serviceAccountUser } from '../harness/manifests.js';
import { MANAGED, OPT_OUT, SOURCE, Scenario, identityNamespace, mergePatch } from '../harness/scenario.js';

const rendered = render().map((m) => m.obj);
const only = (kind: string): Obj => {
  const all = rendered.filter((o) => o.kind === kind);
  assert.equal(all.length, 1, `one ${kind}`);
  return all[0] as Obj;
};

interface PolicySpec {
  failurePolicy: string;
  matchConstraints: { resourceRules: { apiGroups: string[]; apiVersions: string[]; operations: string[]; resources: string[] }[] };
  matchConditions: { name: string; expression: string }[];
  validations: { expression: string; message: string; reason?: string }[];
}

describe('the admission policy in the manifests', () => {
  const policy = only('ValidatingAdmissionPolicy');
  const binding = only('ValidatingAdmissionPolicyBinding');
  const spec = policy['spec'] as PolicySpec;

  it('is in kustomization.yaml, one whole object per file', () => {
    const k = readKustomization();
    for (const f of ['validatingadmissionpolicy.yaml', 'validatingadmissionpolicybinding.yaml']) {
      assert.ok(k.resources.includes(f), f);
      assert.equal(parseAllYaml(readFileSync(join(BASE_DIR, f), 'utf8')).length, 1, f);
    }
  });

  it('fails closed and denies: failurePolicy Fail, binding validationActions [Deny], bound to this policy', () => {
    assert.equal(spec.failurePolicy, 'Fail');
    const b = binding['spec'] as { policyName: string; validationActions: string[]; paramRef?: unknown };
    assert.equal(b.policyName, policy.metadata.name);
    assert.deepEqual(b.validationActions, ['Deny']);
  });

  it("applies only to the operator's own ServiceAccount, in the namespace the manifests install it", () => {
    const sa = only('ServiceAccount');
    assert.equal(sa.metadata.namespace, readKustomization().namespace);
    const user = serviceAccountUser(sa.metadata.namespace ?? '', sa.metadata.name);
    assert.equal(spec.matchConditions.length, 1);
    assert.equal(spec.matchConditions[0]?.expression, `request.userInfo.username == '${user}'`);
  });

  it('covers every write verb RBAC grants on secrets, serviceaccounts and mutatingwebhookconfigurations', () => {
    assert.deepEqual(spec.matchConstraints.resourceRules, [
      { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE', 'DELETE'], resources: ['secrets', 'serviceaccounts'] },
      { apiGroups: ['admissionregistration.k8s.io'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE', 'DELETE'], resources: ['mutatingwebhookconfigurations'] },
    ]);
    for (const v of spec.validations) {
      assert.ok(v.message.startsWith('pullsecret-operator may'), v.message);
      assert.equal(v.reason, 'Forbidden');
    }
  });
});

const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

/** The data of a .dockerconfigjson with one auths entry. */
const pullData = (password: string): Record<string, string> => ({
  '.dockerconfigjson': Buffer.from(JSON.stringify({ auths: { 'us.icr.io': { username: 'iamapikey', password } } })).toString('base64'),
});

describe("direct writes with the operator's token, on the real API server", () => {
  const s = new Scenario('policy');
  const op = new KubeConfig();
  let core: CoreV1Api;
  let ns = '';

  before(async () => {
    op.loadFromFile(s.operatorKubeconfigPath);
    core = op.makeApiClient(CoreV1Api);
    ns = uniqueName('pso-policy');
    await s.core.createNamespace({ body: { metadata: { name: ns } } });
    s.namespaces.push(ns);
    await s.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'theirs', labels: { app: 'theirs' } }, type: 'Opaque', stringData: { k: 'v' } } });
    await s.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'theirs-pull' }, type: 'kubernetes.io/dockerconfigjson', data: pullData('v') } });
    await s.core.createNamespacedServiceAccount({
      namespace: ns,
      body: { metadata: { name: 'app', labels: { team: 'a' }, annotations: { owner: 'team-a' } }, secrets: [{ name: 'legacy-token' }], imagePullSecrets: [{ name: 'mine' }] },
    });
    // A ServiceAccount with the user's own entries around one the operator added.
    await s.core.createNamespacedServiceAccount({
      namespace: ns,
      body: { metadata: { name: 'builder', annotations: { [ADDED_ENTRIES_ANNOTATION]: 'all-icr-io' } }, imagePullSecrets: [{ name: 'first' }, { name: 'all-icr-io' }, { name: 'second' }] },
    });
  });

  after(() => s.tearDown());

  /** Resolves with the API server's answer body when the call is denied with HTTP `code`. */
  const deniedWith = async (call: Promise<unknown>, code = 403): Promise<string> => {
    try {
      await call;
    } catch (e) {
      assert.ok(e instanceof ApiException, String(e));
      assert.equal(e.code, code, String(e.body));
      return String(e.body);
    }
    assert.fail('the write was admitted');
  };
  const byPolicy = (body: string, message: RegExp): void => {
    assert.match(body, /ValidatingAdmissionPolicy 'pullsecret-operator-writes-tests'/, 'denied by the policy, not by RBAC');
    assert.match(body, message);
  };
  const theirs = async (): Promise<V1Secret> => s.core.readNamespacedSecret({ namespace: ns, name: 'theirs' });
  const copy = (name: string, type = 'kubernetes.io/dockerconfigjson'): V1Secret => ({
    metadata: { name, labels: { [MANAGED]: 'pullsecret-operator' }, annotations: { [SOURCE]: 'default/all-icr-io' } },
    type,
    data: type === 'kubernetes.io/dockerconfigjson' ? pullData('v') : type === 'kubernetes.io/dockercfg' ? { '.dockercfg': Buffer.from('{}').toString('base64') } : { k: Buffer.from('v').toString('base64') },
  });

  it('denies updating a secret that is not ours', async () => {
    const body = await deniedWith(core.replaceNamespacedSecret({ namespace: ns, name: 'theirs', body: { ...(await theirs()), stringData: { k: 'stolen' } } }));
    byPolicy(body, /may update only pull secrets \(kubernetes\.io\/dockerconfigjson or kubernetes\.io\/dockercfg\) that carry the label app\.kubernetes\.io\/managed-by=pullsecret-operator/);
    assert.equal(Buffer.from((await theirs()).data?.['k'] ?? '', 'base64').toString(), 'v', 'unchanged');
  });

  it('denies taking a secret over by writing our label onto it', async () => {
    const cur = await theirs();
    const body = await deniedWith(core.replaceNamespacedSecret({ namespace: ns, name: 'theirs', body: { ...cur, metadata: { ...cur.metadata, labels: { [MANAGED]: 'pullsecret-operator' } } } }));
    byPolicy(body, /may update only pull secrets .* that carry the label/);
  });

  it('denies creating a secret without our label, or without a source annotation', async () => {
    byPolicy(await deniedWith(core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'unlabelled' }, type: 'Opaque' } })), /may create only its own copies/);
    const noSource = copy('no-source');
    delete noSource.metadata?.annotations;
    byPolicy(await deniedWith(core.createNamespacedSecret({ namespace: ns, body: noSource })), /may create only its own copies/);
    assert.deepEqual((await s.core.listNamespacedSecret({ namespace: ns })).items.map((x) => x.metadata?.name).sort(), ['theirs', 'theirs-pull']);
  });

  it('denies deleting a secret that is not ours', async () => {
    byPolicy(await deniedWith(core.deleteNamespacedSecret({ namespace: ns, name: 'theirs' })), /may delete only Secrets that carry the label/);
    assert.ok(await theirs(), 'still there');
  });

  it('denies changing a ServiceAccount’s labels, secrets, token automount or other annotations', async () => {
    const sa = async (): Promise<V1ServiceAccount> => s.core.readNamespacedServiceAccount({ namespace: ns, name: 'app' });
    const before = await sa();
    const rv = before.metadata?.resourceVersion;
    const patches: [string, object][] = [
      ['labels', { metadata: { resourceVersion: rv, labels: { team: 'b' } } }],
      ['a new label', { metadata: { resourceVersion: rv, labels: { extra: 'x' } } }],
      ['secrets', { metadata: { resourceVersion: rv }, secrets: [{ name: 'another-token' }] }],
      ['automountServiceAccountToken', { metadata: { resourceVersion: rv }, automountServiceAccountToken: false }],
      ['another annotation', { metadata: { resourceVersion: rv, annotations: { owner: 'someone-else' } } }],
      ['an annotation removed', { metadata: { resourceVersion: rv, annotations: { owner: null } } }],
      ['the admin’s opt-out annotation', { metadata: { resourceVersion: rv, annotations: { [OPT_OUT]: 'true' } } }],
    ];
    for (const [what, body] of patches) {
      const answer = await deniedWith(core.patchNamespacedServiceAccount({ namespace: ns, name: 'app', body }, mergePatch));
      assert.match(answer, /may change only imagePullSecrets and its annotation pullsecret-operator\.io\/added-pull-secrets/, what);
    }
    const after = await sa();
    assert.equal(after.metadata?.resourceVersion, rv, 'nothing was written');
  });

  it('still lets the same token write what is ours: a copy (create, update, delete), a handed-over secret, imagePullSecrets and our annotation', async () => {
    const created = await core.createNamespacedSecret({ namespace: ns, body: copy('ours') });
    const updated = await core.replaceNamespacedSecret({ namespace: ns, name: 'ours', body: { ...created, data: pullData('rotated') } });
    assert.notEqual(updated.metadata?.resourceVersion, created.metadata?.resourceVersion);
    await core.deleteNamespacedSecret({ namespace: ns, name: 'ours' });
    await core.createNamespacedSecret({ namespace: ns, body: copy('ours-legacy', 'kubernetes.io/dockercfg') });
    // An admin hands a pull secret over by labelling it; from then on the operator may keep it in sync.
    const pull = async (): Promise<V1Secret> => s.core.readNamespacedSecret({ namespace: ns, name: 'theirs-pull' });
    await s.core.patchNamespacedSecret({ namespace: ns, name: 'theirs-pull', body: { metadata: { labels: { [MANAGED]: 'pullsecret-operator' } } } }, mergePatch);
    await core.replaceNamespacedSecret({ namespace: ns, name: 'theirs-pull', body: { ...(await pull()), data: pullData('synced') } });
    // ...but not drop the label it was handed over with.
    const cur = await pull();
    byPolicy(await deniedWith(core.replaceNamespacedSecret({ namespace: ns, name: 'theirs-pull', body: { ...cur, metadata: { ...cur.metadata, labels: {} } } })), /must keep it/);
    // A labelled secret of another type may be deleted (a copy whose type changes is recreated), not updated.
    await s.core.patchNamespacedSecret({ namespace: ns, name: 'theirs', body: { metadata: { labels: { [MANAGED]: 'pullsecret-operator' } } } }, mergePatch);
    byPolicy(await deniedWith(core.replaceNamespacedSecret({ namespace: ns, name: 'theirs', body: { ...(await theirs()), stringData: { k: 'synced' } } })), /may update only pull secrets/);
    await s.core.patchNamespacedSecret({ namespace: ns, name: 'theirs', body: { metadata: { labels: { [MANAGED]: null } } } }, mergePatch);
    const sa = await s.core.readNamespacedServiceAccount({ namespace: ns, name: 'app' });
    const patched = await core.patchNamespacedServiceAccount(
      {
        namespace: ns,
        name: 'app',
        body: { metadata: { resourceVersion: sa.metadata?.resourceVersion, annotations: { [ADDED_ENTRIES_ANNOTATION]: 'all-icr-io' } }, imagePullSecrets: [{ name: 'mine' }, { name: 'all-icr-io' }] },
      },
      mergePatch,
    );
    assert.deepEqual(
      patched.imagePullSecrets?.map((r) => r.name),
      ['mine', 'all-icr-io'],
    );
    assert.equal(patched.metadata?.labels?.['team'], 'a');
  });

  it("lets it create and renew the webhook's certificate Secret in its own namespace only: the one named exception", async () => {
    const own = identityNamespace();
    const tls = (namespace: string, type = 'kubernetes.io/tls', labels: Record<string, string> = { ...WEBHOOK_SECRET_LABELS }): V1Secret => ({
      metadata: { name: WEBHOOK_SECRET, namespace, labels },
      type,
      data: { 'tls.crt': Buffer.from('cert').toString('base64'), 'tls.key': Buffer.from('key').toString('base64') },
    });
    await s.core.deleteNamespacedSecret({ namespace: own, name: WEBHOOK_SECRET }).catch(() => undefined);
    const created = await core.createNamespacedSecret({ namespace: own, body: tls(own) });
    await core.replaceNamespacedSecret({ namespace: own, name: WEBHOOK_SECRET, body: { ...created, data: { ...created.data, 'ca.crt': Buffer.from('ca').toString('base64') } } });
    // Never deleted, not in another namespace, not as another type, not without its labels.
    byPolicy(await deniedWith(core.deleteNamespacedSecret({ namespace: own, name: WEBHOOK_SECRET })), /may delete only Secrets that carry the label/);
    byPolicy(await deniedWith(core.createNamespacedSecret({ namespace: ns, body: tls(ns) })), /may create only its own copies/);
    await s.core.deleteNamespacedSecret({ namespace: own, name: WEBHOOK_SECRET });
    byPolicy(await deniedWith(core.createNamespacedSecret({ namespace: own, body: tls(own, 'Opaque') })), /may create only its own copies/);
    byPolicy(await deniedWith(core.createNamespacedSecret({ namespace: own, body: tls(own, 'kubernetes.io/tls', {}) })), /may create only its own copies/);
    // A Secret of that name that someone else made (cert-manager's, say) is never written by the token.
    const foreign = await s.core.createNamespacedSecret({ namespace: own, body: tls(own, 'kubernetes.io/tls', { 'app.kubernetes.io/managed-by': 'cert-manager' }) });
    byPolicy(await deniedWith(core.replaceNamespacedSecret({ namespace: own, name: WEBHOOK_SECRET, body: { ...foreign, metadata: { ...foreign.metadata, labels: { ...WEBHOOK_SECRET_LABELS } } } })), /may update only pull secrets/);
    await s.core.deleteNamespacedSecret({ namespace: own, name: WEBHOOK_SECRET });
  });

  it('denies a "copy" that would make the API server mint a token: a labelled Secret of type service-account-token, in any namespace', async () => {
    for (const namespace of ['kube-system', ns]) {
      const body: V1Secret = {
        metadata: { name: 'pso-escalation', labels: { [MANAGED]: 'pullsecret-operator' }, annotations: { [SOURCE]: 'default/all-icr-io', 'kubernetes.io/service-account.name': 'default' } },
        type: 'kubernetes.io/service-account-token',
      };
      byPolicy(await deniedWith(core.createNamespacedSecret({ namespace, body })), /may create only its own copies: a Secret of type kubernetes\.io\/dockerconfigjson or kubernetes\.io\/dockercfg/);
      assert.equal((await s.core.listNamespacedSecret({ namespace, fieldSelector: 'metadata.name=pso-escalation' })).items.length, 0, `nothing was created in ${namespace}`);
    }
    // Nor any other type that is not a pull secret.
    byPolicy(await deniedWith(core.createNamespacedSecret({ namespace: ns, body: copy('opaque-copy', 'Opaque') })), /may create only its own copies/);
  });

  it("denies removing, reordering or claiming the user's own imagePullSecrets entries; appending copies and removing its own entries stays allowed", async () => {
    const read = async (): Promise<V1ServiceAccount> => s.core.readNamespacedServiceAccount({ namespace: ns, name: 'builder' });
    const sa = await read();
    const rv = sa.metadata?.resourceVersion;
    const denied: [string, object][] = [
      ['the whole list replaced', { metadata: { resourceVersion: rv }, imagePullSecrets: [{ name: 'all-icr-io' }] }],
      ["a user's entry removed", { metadata: { resourceVersion: rv }, imagePullSecrets: [{ name: 'first' }, { name: 'all-icr-io' }] }],
      ['the list emptied', { metadata: { resourceVersion: rv }, imagePullSecrets: null }],
      ["the user's entries reordered", { metadata: { resourceVersion: rv }, imagePullSecrets: [{ name: 'second' }, { name: 'all-icr-io' }, { name: 'first' }] }],
      ["a user's entry claimed as the operator's", { metadata: { resourceVersion: rv, annotations: { [ADDED_ENTRIES_ANNOTATION]: 'all-icr-io,first' } } }],
      ["a user's entry claimed and removed at once", { metadata: { resourceVersion: rv, annotations: { [ADDED_ENTRIES_ANNOTATION]: 'all-icr-io,first' } }, imagePullSecrets: [{ name: 'all-icr-io' }, { name: 'second' }] }],
    ];
    for (const [what, body] of denied) {
      const answer = await deniedWith(core.patchNamespacedServiceAccount({ namespace: ns, name: 'builder', body }, mergePatch));
      byPolicy(answer, /may not remove, reorder or claim as its own the imagePullSecrets entries it did not add/);
      assert.ok(what);
    }
    assert.equal((await read()).metadata?.resourceVersion, rv, 'nothing was written');
    // What the operator does: remove its own entry, append copies, record them.
    const done = await core.patchNamespacedServiceAccount(
      { namespace: ns, name: 'builder', body: { metadata: { resourceVersion: rv, annotations: { [ADDED_ENTRIES_ANNOTATION]: 'team-us-icr-io' } }, imagePullSecrets: [{ name: 'first' }, { name: 'second' }, { name: 'team-us-icr-io' }] } },
      mergePatch,
    );
    assert.deepEqual(done.imagePullSecrets?.map((r) => r.name), ['first', 'second', 'team-us-icr-io']);
  });

  it('denies every change to its MutatingWebhookConfiguration but the caBundle of its webhooks, and its creation and deletion', async () => {
    const adminApi = s.kc.makeApiClient(AdmissionregistrationV1Api);
    const api = op.makeApiClient(AdmissionregistrationV1Api);
    const name = WEBHOOK_CONFIGURATION_NAME; // RBAC grants get, update and patch of this one by name
    // As the manifests ship it, but sent to no namespace at all (a label nothing carries), so that this test's object calls no webhook.
    const shipped = desiredWebhook({ service: { namespace: identityNamespace(), name: 'pullsecret-operator-webhook', path: '/mutate-serviceaccounts', port: 443 } }, undefined);
    await adminApi.deleteMutatingWebhookConfiguration({ name }).catch(() => undefined);
    await adminApi.createMutatingWebhookConfiguration({
      body: { metadata: { name, labels: { 'app.kubernetes.io/name': 'pullsecret-operator' } }, webhooks: [{ ...shipped, namespaceSelector: { matchLabels: { 'pso-test-no-namespace': 'x' } } }] },
    });
    try {
      const ca = Buffer.from('-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n').toString('base64');
      // Allowed: what src/webhook/tls.ts does, a JSON patch of the caBundle guarded by resourceVersion.
      const cur = await adminApi.readMutatingWebhookConfiguration({ name });
      await api.patchMutatingWebhookConfiguration({ name, body: [{ op: 'test', path: '/metadata/resourceVersion', value: cur.metadata?.resourceVersion }, { op: 'add', path: '/webhooks/0/clientConfig/caBundle', value: ca }] }, jsonPatch);
      const changes: [string, (w: V1MutatingWebhook) => void][] = [
        ['rules widened to Secrets', (w) => (w.rules = [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['secrets'], scope: '*' }])],
        ['rules widened to Pods', (w) => w.rules?.push({ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: '*' })],
        ['clientConfig sent to a URL', (w) => (w.clientConfig = { url: 'https://attacker.example.com/steal', caBundle: ca })],
        ['clientConfig sent to another Service', (w) => (w.clientConfig = { service: { namespace: 'kube-system', name: 'other', path: '/x', port: 443 }, caBundle: ca })],
        ['failurePolicy Fail', (w) => (w.failurePolicy = 'Fail')],
        ['namespaceSelector opened', (w) => (w.namespaceSelector = {})],
        ['objectSelector set', (w) => (w.objectSelector = { matchLabels: { a: 'b' } })],
        ['timeoutSeconds', (w) => (w.timeoutSeconds = 30)],
        ['sideEffects', (w) => (w.sideEffects = 'NoneOnDryRun')],
        ['matchConditions', (w) => (w.matchConditions = [{ name: 'all', expression: 'true' }])],
      ];
      for (const [what, change] of changes) {
        const mwc = await adminApi.readMutatingWebhookConfiguration({ name });
        const w = structuredClone(mwc.webhooks?.[0]) as V1MutatingWebhook;
        change(w);
        const body = await deniedWith(api.replaceMutatingWebhookConfiguration({ name, body: { ...mwc, webhooks: [w] } }));
        byPolicy(body, /may change only the caBundle of its MutatingWebhookConfiguration's webhooks/);
        assert.ok(what);
      }
      const mwc = await adminApi.readMutatingWebhookConfiguration({ name });
      const extra = { ...structuredClone(mwc.webhooks?.[0]), name: 'secrets.attacker.example.com' } as V1MutatingWebhook;
      const whole: [string, V1MutatingWebhookConfiguration][] = [
        ['a webhook added', { ...mwc, webhooks: [...(mwc.webhooks ?? []), extra] }],
        ['the webhooks emptied', { ...mwc, webhooks: [] }],
        ['a label changed', { ...mwc, metadata: { ...mwc.metadata, labels: { 'app.kubernetes.io/name': 'x' } } }],
        ['an annotation added (a CA injector)', { ...mwc, metadata: { ...mwc.metadata, annotations: { 'cert-manager.io/inject-ca-from': 'kube-system/x' } } }],
      ];
      for (const [what, body] of whole) {
        byPolicy(await deniedWith(api.replaceMutatingWebhookConfiguration({ name, body })), /may change only the caBundle/);
        assert.ok(what);
      }
      assert.equal((await adminApi.readMutatingWebhookConfiguration({ name })).webhooks?.[0]?.clientConfig.caBundle, ca, 'only the caBundle changed');
      // RBAC grants neither create nor delete; the policy would deny them too.
      await deniedWith(api.createMutatingWebhookConfiguration({ body: { metadata: { name: 'other' }, webhooks: [] } }));
      await deniedWith(api.deleteMutatingWebhookConfiguration({ name }));
    } finally {
      await adminApi.deleteMutatingWebhookConfiguration({ name });
    }
  });

  it('leaves everyone else alone: an admin may still write what the operator may not', async () => {
    await s.core.patchNamespacedServiceAccount({ namespace: ns, name: 'app', body: { metadata: { labels: { team: 'b' } } } }, mergePatch);
    await s.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'admins' }, type: 'Opaque' } });
    await s.core.deleteNamespacedSecret({ namespace: ns, name: 'admins' });
  });

  it("shows an admin the denial with the security page's command: kubectl --as the operator, server-side dry run", () => {
    const user = serviceAccountUser(identityNamespace(), 'pullsecret-operator');
    const r = spawnSync(testKubectl(), ['--kubeconfig', s.kubeconfigPath, 'create', 'secret', 'generic', 'probe', '-n', ns, '--from-literal=k=v', `--as=${user}`, '--dry-run=server'], { encoding: 'utf8' });
    assert.notEqual(r.status, 0, r.stdout);
    assert.match(r.stderr, /denied request: pullsecret-operator may create only its own copies/);
  });

  it('is denied by RBAC, before any policy, what RBAC does not grant (ServiceAccount create and delete)', async () => {
    const body = await deniedWith(core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'new' } } }));
    assert.match(body, /cannot create resource \\"serviceaccounts\\"|cannot create resource "serviceaccounts"/);
    await deniedWith(core.deleteNamespacedServiceAccount({ namespace: ns, name: 'app' }));
  });
});
