/**
 * The deployment manifests of manifests/, read as `kubectl apply -k manifests/` would: the files
 * listed in manifests/base/kustomization.yaml `resources`, with the kustomization's `namespace` and `images`
 * applied. Plus a strict dry-run client and a kubeconfig for a ServiceAccount token.
 *
 * The files are parsed with js-yaml, the parser behind client-node's loadAllYaml, but without
 * loadAllYaml's typed deserialization: that drops every field client-node does not know (a
 * misspelt `readOnlyRootFileSystem` would vanish before the API server could reject it).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ApiException,
  type Configuration,
  CoreV1Api,
  HttpMethod,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  RbacAuthorizationV1Api,
} from '@kubernetes/client-node';
import { REPO_ROOT } from './operator.js';

/** js-yaml as client-node resolves it (a dependency of client-node, not of this package). */
const jsYaml = createRequire(import.meta.resolve('@kubernetes/client-node'))('js-yaml') as {
  load(text: string): unknown;
  loadAll(text: string): unknown[];
};

/** Every YAML document of `text`, exactly as written (null documents dropped). */
export function parseAllYaml<T = Obj>(text: string): T[] {
  return jsYaml.loadAll(text).filter((d) => d !== null && d !== undefined) as T[];
}

/** `kubectl apply -k manifests/`: its kustomization only points at base/. */
export const MANIFESTS_DIR = join(REPO_ROOT, 'manifests');
/** The objects, the namespace and the image: the base of manifests/ and of manifests/openshift/. */
export const BASE_DIR = join(MANIFESTS_DIR, 'base');
/** The OpenShift overlay: the base without a fixed runAsUser/runAsGroup. */
export const OPENSHIFT_DIR = join(MANIFESTS_DIR, 'openshift');
/** The monitoring objects (ServiceMonitor, PrometheusRule, dashboard ConfigMap): kubectl apply -k manifests/monitoring/. */
export const MONITORING_DIR = join(MANIFESTS_DIR, 'monitoring');

export interface ImageOverride {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}

export interface Kustomization {
  namespace?: string;
  resources: string[];
  images?: ImageOverride[];
}

/** A manifest object: typed header, everything else as written. */
export type Obj = KubernetesObject & { kind: string; apiVersion: string; metadata: { name: string; namespace?: string; [k: string]: unknown }; [k: string]: unknown };

export interface Manifest {
  /** The file under manifests/ it comes from. */
  file: string;
  obj: Obj;
}

export function readKustomization(): Kustomization {
  return jsYaml.load(readFileSync(join(BASE_DIR, 'kustomization.yaml'), 'utf8')) as Kustomization;
}

/** Every object of every file in `resources`, in order, exactly as written. */
export function loadManifestFiles(k: Kustomization = readKustomization()): Manifest[] {
  const out: Manifest[] = [];
  for (const file of k.resources) {
    for (const obj of parseAllYaml(readFileSync(join(BASE_DIR, file), 'utf8'))) out.push({ file, obj });
  }
  return out;
}

/** Kinds without a namespace (those the manifests use, and the usual others). The manifests test checks this against the API server's discovery. */
export const CLUSTER_SCOPED_KINDS = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PriorityClass',
  'StorageClass',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
]);

/**
 * The kinds that kustomize (v5.8.1, in kubectl 1.36) knows to be cluster-scoped. It gives every
 * other kind the kustomization's `namespace`, the admission policy and its binding included; the
 * API server drops a namespace from a cluster-scoped object, so that is harmless, and render()
 * does the same as kustomize so that the two can be compared.
 */
export const KUSTOMIZE_CLUSTER_SCOPED_KINDS = new Set([...CLUSTER_SCOPED_KINDS].filter((k) => !k.startsWith('ValidatingAdmissionPolicy')));

export function containersOf(obj: Obj): { name: string; image: string; args?: string[]; env?: { name: string; value?: string; valueFrom?: unknown }[] }[] {
  const spec = (obj['spec'] ?? {}) as { template?: { spec?: { containers?: []; initContainers?: [] } } };
  return [...(spec.template?.spec?.initContainers ?? []), ...(spec.template?.spec?.containers ?? [])];
}

/** Splits an image reference into name, tag and digest (a registry port is not a tag). */
export function parseImage(ref: string): { name: string; tag?: string; digest?: string } {
  const [rest = '', digest] = ref.split('@');
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) return { name: rest.slice(0, colon), tag: rest.slice(colon + 1), digest };
  return { name: rest, digest };
}

/**
 * What `kubectl apply -k` sends: kustomize's `namespace` on every namespaced object and on
 * ServiceAccount subjects of (Cluster)RoleBindings, and its `images` overrides.
 */
export function render(k: Kustomization = readKustomization(), manifests: Manifest[] = loadManifestFiles(k)): Manifest[] {
  return manifests.map(({ file, obj }) => {
    const o = structuredClone(obj);
    if (k.namespace) {
      if (!KUSTOMIZE_CLUSTER_SCOPED_KINDS.has(o.kind)) o.metadata.namespace = k.namespace;
      if (o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding') {
        for (const s of (o['subjects'] ?? []) as { kind: string; namespace?: string }[]) if (s.kind === 'ServiceAccount') s.namespace = k.namespace;
      }
    }
    for (const c of containersOf(o)) {
      const ref = parseImage(c.image);
      const over = (k.images ?? []).find((i) => i.name === ref.name);
      if (!over) continue;
      const name = over.newName ?? ref.name;
      c.image = over.digest ? `${name}@${over.digest}` : `${name}:${over.newTag ?? ref.tag ?? 'latest'}`;
    }
    return { file, obj: o };
  });
}

/** The user name of a ServiceAccount's requests, as the admission policy matches it. */
export const serviceAccountUser = (namespace: string, name: string): string => `system:serviceaccount:${namespace}:${name}`;

/**
 * The rendered manifests moved into another namespace, with a suffix on the names of the
 * cluster-scoped objects (RBAC and the admission policy): an install that cannot collide with
 * another test's. The policy's match on the operator's user name follows the namespace.
 */
export function retarget(manifests: Manifest[], namespace: string, suffix: string): Obj[] {
  const from = manifests.find((m) => m.obj.kind === 'ServiceAccount')?.obj;
  return manifests.map(({ obj }) => {
    const o = structuredClone(obj);
    if (o.kind === 'Namespace') o.metadata.name = namespace;
    else if (!CLUSTER_SCOPED_KINDS.has(o.kind)) o.metadata.namespace = namespace;
    else delete o.metadata.namespace;
    if (o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding' || o.kind === 'ValidatingAdmissionPolicy' || o.kind === 'ValidatingAdmissionPolicyBinding') o.metadata.name = `${o.metadata.name}-${suffix}`;
    if (o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding') {
      const ref = o['roleRef'] as { kind: string; name: string };
      if (ref.kind === 'ClusterRole') ref.name = `${ref.name}-${suffix}`;
      for (const s of (o['subjects'] ?? []) as { kind: string; namespace?: string }[]) if (s.kind === 'ServiceAccount') s.namespace = namespace;
    }
    if (o.kind === 'ValidatingAdmissionPolicyBinding') {
      const spec = o['spec'] as { policyName: string };
      spec.policyName = `${spec.policyName}-${suffix}`;
    }
    if (o.kind === 'ValidatingAdmissionPolicy' && from) {
      const user = serviceAccountUser(from.metadata.namespace ?? '', from.metadata.name);
      const conditions = (o['spec'] as { matchConditions?: { expression: string }[] }).matchConditions ?? [];
      const matching = conditions.filter((c) => c.expression.includes(`'${user}'`));
      if (matching.length !== 1) throw new Error(`the admission policy matches the operator's user ${user} in exactly one matchCondition`);
      for (const c of matching) c.expression = c.expression.replace(`'${user}'`, `'${serviceAccountUser(namespace, from.metadata.name)}'`);
    }
    return o;
  });
}

/** The kinds that make up the operator's identity: who it is, what RBAC grants it, what the admission policy lets it write. */
export const IDENTITY_KINDS = ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'];

export interface OperatorIdentity {
  namespace: string;
  serviceAccount: string;
  /** A kubeconfig with a TokenRequest token of that ServiceAccount. */
  kubeconfigPath: string;
  /** What was created, in order. */
  objects: Obj[];
}

/**
 * Installs the manifests' identity objects (IDENTITY_KINDS) retargeted to `namespace`, writes a
 * kubeconfig with a token of its ServiceAccount (TokenRequest, as the kubelet mounts one) to
 * `kubeconfigPath`, and waits until the admission policy is in force for that token.
 */
export async function installOperatorIdentity(admin: KubeConfig, namespace: string, suffix: string, kubeconfigPath: string): Promise<OperatorIdentity> {
  const objects = retarget(
    render().filter((m) => IDENTITY_KINDS.includes(m.obj.kind)),
    namespace,
    suffix,
  );
  const api = StrictObjectApi.make(admin);
  for (const kind of IDENTITY_KINDS) for (const o of objects.filter((x) => x.kind === kind)) await api.createStrict(o);
  const serviceAccount = objects.find((o) => o.kind === 'ServiceAccount')?.metadata.name ?? '';
  const core = admin.makeApiClient(CoreV1Api);
  const tr = await core.createNamespacedServiceAccountToken({ namespace, name: serviceAccount, body: { spec: { audiences: [], expirationSeconds: 4 * 3600 } } });
  const token = tr.status?.token;
  if (!token) throw new Error('TokenRequest gave no token');
  await writeTokenKubeconfig(admin, token, kubeconfigPath);
  await waitForAdmissionPolicy(kubeconfigPath, namespace);
  return { namespace, serviceAccount, kubeconfigPath, objects };
}

/**
 * A new policy takes effect once the API server's policy informer has seen it and its binding:
 * probe with a server-side dry run of a write the policy denies (an unlabelled Secret) until the
 * answer is the policy's 403. Nothing is stored.
 */
export async function waitForAdmissionPolicy(kubeconfigPath: string, namespace: string, timeoutMs = 30000): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const denied = await core
      .createNamespacedSecret({ namespace, dryRun: 'All', body: { metadata: { name: 'policy-probe' }, type: 'Opaque' } })
      .then(
        () => false,
        (e: unknown) => e instanceof ApiException && e.code === 403 && /ValidatingAdmissionPolicy/.test(String(e.body)),
      );
    if (denied) return;
    if (Date.now() > deadline) throw new Error(`the admission policy was not in force for ${kubeconfigPath} within ${timeoutMs} ms`);
    await sleep(200);
  }
}

/**
 * KubernetesObjectApi that sends the object exactly as written (the typed serializer of
 * create() would silently drop fields it does not know) with fieldValidation=Strict, so that an
 * unknown or misspelt field is an error, not a warning.
 */
export class StrictObjectApi extends KubernetesObjectApi {
  static make(kc: KubeConfig): StrictObjectApi {
    const api = kc.makeApiClient(StrictObjectApi);
    api.setDefaultNamespace(kc);
    return api;
  }

  constructor(configuration: Configuration) {
    super(configuration);
  }

  /** Creates `obj`; with dryRun 'All' the server validates and admits it but stores nothing. */
  async createStrict<T extends KubernetesObject>(obj: T, dryRun?: 'All'): Promise<T> {
    const path = await this.specUriPath(obj, 'create');
    const ctx = this.configuration.baseServer.makeRequestContext(path, HttpMethod.POST);
    ctx.setHeaderParam('Accept', 'application/json');
    ctx.setHeaderParam('Content-Type', 'application/json');
    ctx.setQueryParam('fieldValidation', 'Strict');
    ctx.setQueryParam('fieldManager', 'pullsecret-operator-tests');
    if (dryRun) ctx.setQueryParam('dryRun', dryRun);
    ctx.setBody(JSON.stringify(obj));
    return this.requestPromise<T>(ctx);
  }

  /** Whether the API server serves `kind` of `apiVersion` as a namespaced resource. */
  async isNamespaced(apiVersion: string, kind: string): Promise<boolean | undefined> {
    return (await this.resource(apiVersion, kind))?.namespaced;
  }
}

/**
 * Writes a kubeconfig that authenticates with `token` to the admin kubeconfig's server, trusting
 * the same CA. Returns its path.
 */
export async function writeTokenKubeconfig(admin: KubeConfig, token: string, path: string): Promise<string> {
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error('admin kubeconfig has no current cluster');
  const ca = cluster.caData ?? (cluster.caFile ? readFileSync(cluster.caFile).toString('base64') : undefined);
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server: cluster.server, ...(ca ? { 'certificate-authority-data': ca } : {}) } }],
    users: [{ name: 'sa', user: { token } }],
    contexts: [{ name: 'sa', context: { cluster: 'test', user: 'sa' } }],
    'current-context': 'sa',
  };
  await writeFile(path, JSON.stringify(config, null, 2), { mode: 0o600 });
  return path;
}

/** The paths of every runAsUser, runAsGroup and fsGroup in `obj`: what OpenShift's restricted-v2 wants left to it. */
export function fixedIds(obj: unknown, path = ''): string[] {
  if (Array.isArray(obj)) return obj.flatMap((v, i) => fixedIds(v, `${path}/${i}`));
  if (obj === null || typeof obj !== 'object') return [];
  return Object.entries(obj).flatMap(([k, v]) => [...(['runAsUser', 'runAsGroup', 'fsGroup'].includes(k) ? [`${path}/${k}`] : []), ...fixedIds(v, `${path}/${k}`)]);
}

/** `kubectl kustomize <dir>` with the control plane's kubectl, parsed. */
export function kustomize(kubectl: string, dir: string): Obj[] {
  const r = spawnSync(kubectl, ['kustomize', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`kubectl kustomize ${dir}: ${r.stderr}`);
  return parseAllYaml(r.stdout);
}

/** `kind/namespace/name`, the identity of an object in a rendering. */
export function objectKey(o: Obj): string {
  return `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

/**
 * The operator's args as the manifests' Deployment runs it (leader election and the webhook on),
 * for a replica run as a local process beside others: the webhook's `:9443` becomes
 * 127.0.0.1:`webhookPort`. POD_NAMESPACE is the identity's namespace, as the Deployment's downward
 * API gives it: the Lease and the webhook's certificate Secret live there.
 */
export function deploymentArgs(webhookPort: number, identityNamespace: string): { args: string[]; env: Record<string, string> } {
  const deployment = render().find((m) => m.obj.kind === 'Deployment')?.obj;
  const container = deployment ? containersOf(deployment).find((c) => c.name === 'operator') : undefined;
  if (!container?.args) throw new Error('the manifests have no Deployment with an operator container and args');
  // The credential check stays on as shipped, except against the IBM fixtures' real icr.io hosts:
  // tests that need it pass --verify-credentials themselves; no test traffic leaves loopback.
  const args = container.args.map((a) => (a.startsWith('--webhook-address=') ? `--webhook-address=127.0.0.1:${webhookPort}` : a === '--verify-credentials' ? '--verify-credentials=false' : a));
  if (!args.includes('--leader-elect') || !args.some((a) => a.startsWith('--webhook-address='))) throw new Error(`the Deployment's args changed: ${container.args.join(' ')}`);
  return { args, env: { POD_NAMESPACE: identityNamespace } };
}

/**
 * The read-only user of `status`: a ServiceAccount `status-reader` in `namespace`, bound to the
 * ClusterRole of manifests/status-reader.yaml (created under a suffixed name) and nothing else,
 * with a kubeconfig of its token written to `kubeconfigPath`. remove() deletes the cluster-scoped
 * objects (the ServiceAccount goes with its namespace).
 */
export async function installStatusReader(admin: KubeConfig, namespace: string, suffix: string, kubeconfigPath: string): Promise<{ kubeconfigPath: string; remove(): Promise<void> }> {
  const role = parseAllYaml(readFileSync(join(MANIFESTS_DIR, 'status-reader.yaml'), 'utf8'))[0] as Obj;
  const name = `${role.metadata.name}-${suffix}`;
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  const core = admin.makeApiClient(CoreV1Api);
  await StrictObjectApi.make(admin).createStrict({ ...role, metadata: { ...role.metadata, name } });
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'status-reader' } } });
  await rbac.createClusterRoleBinding({ body: { metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name }, subjects: [{ kind: 'ServiceAccount', name: 'status-reader', namespace }] } });
  const tr = await core.createNamespacedServiceAccountToken({ namespace, name: 'status-reader', body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  await writeTokenKubeconfig(admin, tr.status?.token ?? '', kubeconfigPath);
  return {
    kubeconfigPath,
    remove: async () => {
      await rbac.deleteClusterRoleBinding({ name }).catch(() => undefined);
      await rbac.deleteClusterRole({ name }).catch(() => undefined);
    },
  };
}
