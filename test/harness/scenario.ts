/**
 * An isolated scenario on the shared control plane: its own source namespace with the IBM
 * fixture secrets, its own target namespaces (labelled for this scenario), and an operator
 * limited to them with --source-namespace and --namespace-selector. Test files therefore do not
 * see each other's namespaces.
 */
import { ApiException, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type V1Secret, type V1ServiceAccount } from '@kubernetes/client-node';
import { applyIbmSecrets } from './fixtures.js';
import { testKubeConfig, uniqueName, waitFor } from './kube.js';
import { type OperatorProcess, startOperator } from './operator.js';

export const MANAGED = 'app.kubernetes.io/managed-by';
export const SOURCE = 'pullsecret-operator.io/source';
export const OPT_OUT = 'pullsecret-operator.io/opt-out';
/** Options for client-node patch calls: a JSON merge patch. */
export const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export function isNotFound(err: unknown): boolean {
  return err instanceof ApiException && err.code === 404;
}

export async function orUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export class Scenario {
  readonly kc = testKubeConfig();
  readonly core = this.kc.makeApiClient(CoreV1Api);
  readonly id: string;
  readonly source: string;
  readonly label: string;
  readonly namespaces: string[] = [];
  operator: OperatorProcess | undefined;

  constructor(prefix: string) {
    this.id = uniqueName(prefix);
    this.source = `${this.id}-src`;
    this.label = `pso-test=${this.id}`;
  }

  get kubeconfigPath(): string {
    const p = process.env.PSO_TEST_KUBECONFIG;
    if (!p) throw new Error('PSO_TEST_KUBECONFIG is not set');
    return p;
  }

  /**
   * The operator's own credentials: a token of the manifests' ServiceAccount, under their RBAC
   * and admission policy (installed by with-cluster.ts). Tests act as an admin (kubeconfigPath).
   */
  get operatorKubeconfigPath(): string {
    const p = process.env.PSO_TEST_OPERATOR_KUBECONFIG;
    if (!p) throw new Error('PSO_TEST_OPERATOR_KUBECONFIG is not set: run under test/harness/with-cluster.ts');
    return p;
  }

  /** Creates the source namespace with the IBM fixture secrets. */
  async setUp(opts: { fixtures?: boolean } = {}): Promise<void> {
    await this.core.createNamespace({ body: { metadata: { name: this.source } } });
    this.namespaces.push(this.source);
    if (opts.fixtures ?? true) await applyIbmSecrets(this.kc, this.source);
  }

  /** Operator flags that confine it to this scenario, plus `extra`. */
  args(extra: string[] = []): string[] {
    return ['--source-namespace', this.source, '--namespace-selector', this.label, '--log-level', 'debug', ...extra];
  }

  async startOperator(extra: string[] = [], env: Record<string, string> = {}): Promise<OperatorProcess> {
    this.operator = await startOperator({ kubeconfig: this.operatorKubeconfigPath, args: this.args(extra), env });
    return this.operator;
  }

  /** A namespace of this scenario (labelled for its selector). */
  async namespace(suffix: string, meta: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}): Promise<string> {
    const name = `${this.id}-${suffix}`;
    const [k, v] = this.label.split('=');
    await this.core.createNamespace({
      body: { metadata: { name, labels: { [k ?? '']: v ?? '', ...meta.labels }, annotations: meta.annotations } },
    });
    this.namespaces.push(name);
    return name;
  }

  /**
   * A namespace of this scenario where a secret that is not ours (Opaque) holds the name `name`
   * before the operator looks at the namespace: it is created unselected, and labelled for the
   * selector only once the secret is in place.
   */
  async foreignNamespace(suffix: string, name: string): Promise<string> {
    const ns = `${this.id}-${suffix}`;
    await this.core.createNamespace({ body: { metadata: { name: ns } } });
    this.namespaces.push(ns);
    await this.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name }, type: 'Opaque', data: { x: 'eA==' } } });
    const [k, v] = this.label.split('=');
    await this.core.patchNamespace({ name: ns, body: { metadata: { labels: { [k ?? '']: v ?? '' } } } }, mergePatch);
    return ns;
  }

  async secret(namespace: string, name: string): Promise<V1Secret | undefined> {
    return orUndefined(this.core.readNamespacedSecret({ namespace, name }));
  }

  async serviceAccount(namespace: string, name = 'default'): Promise<V1ServiceAccount | undefined> {
    return orUndefined(this.core.readNamespacedServiceAccount({ namespace, name }));
  }

  async pullSecretNames(namespace: string, sa = 'default'): Promise<string[]> {
    return ((await this.serviceAccount(namespace, sa))?.imagePullSecrets ?? []).map((r) => r.name ?? '');
  }

  /** Managed copies in a namespace, by name. */
  async copies(namespace: string): Promise<string[]> {
    const l = await this.core.listNamespacedSecret({ namespace, labelSelector: `${MANAGED}=pullsecret-operator` });
    return l.items.map((s) => s.metadata?.name ?? '').sort();
  }

  waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20000): Promise<T> {
    return waitFor(what, fn, timeoutMs);
  }

  /**
   * Stops the operator and deletes the scenario's namespaces. Fails if the operator was ever
   * refused a write by RBAC or by the admission policy: its contract is to stay within both.
   */
  async tearDown(): Promise<void> {
    if (this.operator) await this.operator.stop();
    for (const ns of this.namespaces) await orUndefined(this.core.deleteNamespace({ name: ns }));
    if (this.operator) assertNoDenial(this.operator.stderr());
  }
}

/** Throws if the operator's log shows a write denied by the admission policy or RBAC. */
export function assertNoDenial(log: string): void {
  const denials = log.split('\n').filter((l) => /ValidatingAdmissionPolicy|\bforbidden\b/i.test(l) && !/being terminated/.test(l));
  if (denials.length > 0) throw new Error(`the operator was denied:\n${denials.slice(0, 5).join('\n')}`);
}

/** The copy names the IBM fixtures give in namespace `ns`. */
export function fixtureCopies(ns: string): string[] {
  return ['all-icr-io', `bluemix-${ns}-secret-regional`, `${ns}-icr-io`, `${ns}-uk-icr-io`, `${ns}-us-icr-io`].sort();
}

/** The namespace of the identity with-cluster.ts installed, from its token's kubeconfig user. */
export function identityNamespace(): string {
  const kc = new KubeConfig();
  kc.loadFromFile(process.env.PSO_TEST_OPERATOR_KUBECONFIG ?? '');
  const token = kc.getCurrentUser()?.token ?? '';
  const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { sub: string };
  return claims.sub.split(':')[2] ?? '';
}
