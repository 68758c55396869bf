/**
 * Running the operator's image as the Deployment runs it, against the local control plane: the
 * manifests' identity (ServiceAccount, RBAC, admission policy) installed in a namespace of its own,
 * a token of that ServiceAccount mounted where the kubelet mounts it (in-cluster configuration), the pod's securityContext as podman
 * flags, the Deployment's args and environment. Used by image.test.ts and startup.ts.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { CLUSTER_SCOPED_KINDS, type Obj, type OperatorIdentity, StrictObjectApi, containersOf, installOperatorIdentity, render } from '../harness/manifests.js';
import type { Scenario } from '../harness/scenario.js';
import { Container, type Podman } from './podman.js';

export interface StartUp {
  /** From `podman run` to the operator's first log line (Node up, the bundle loaded). */
  firstLogMs: number;
  /** ... to holding the Lease with synced caches. */
  syncedMs: number;
  /** ... to the end of the first reconcile. */
  reconciledMs: number;
}

export class ImageRunner {
  readonly namespace: string;
  readonly #rendered = render();
  readonly #tmp: string;
  readonly #saDir: string;
  #identity: OperatorIdentity | undefined;
  #apiPort = '';

  constructor(
    readonly podman: Podman,
    readonly scenario: Scenario,
    readonly admin: KubeConfig,
    tmp: string,
  ) {
    this.namespace = scenario.id;
    this.#tmp = tmp;
    this.#saDir = join(tmp, 'serviceaccount');
  }

  get #container(): { args?: string[]; env?: { name: string; value?: string; valueFrom?: unknown }[] } {
    const deploy = (this.#rendered.find((m) => m.obj.kind === 'Deployment') as { obj: Obj }).obj;
    return containersOf(deploy)[0] ?? { name: '', image: '' };
  }

  /** Installs the identity and writes the ServiceAccount folder (token, ca.crt, namespace). */
  async setUp(): Promise<void> {
    this.#identity = await installOperatorIdentity(this.admin, this.namespace, this.scenario.id.slice(-8), join(this.#tmp, 'kubeconfig'));
    const token = (JSON.parse(readFileSync(this.#identity.kubeconfigPath, 'utf8')) as { users: { user: { token: string } }[] }).users[0]?.user.token ?? '';
    const cluster = this.admin.getCurrentCluster();
    assert.ok(cluster);
    const url = new URL(cluster.server);
    assert.equal(url.hostname, '127.0.0.1', 'the control plane listens on 127.0.0.1 (reached over the host network)');
    this.#apiPort = url.port;
    const ca = cluster.caData ? Buffer.from(cluster.caData, 'base64') : readFileSync(cluster.caFile ?? '');
    mkdirSync(this.#saDir, { mode: 0o755 });
    // Readable by the container's user (65532, or an arbitrary OpenShift uid), as a kubelet mount is.
    writeFileSync(join(this.#saDir, 'token'), token, { mode: 0o644 });
    writeFileSync(join(this.#saDir, 'ca.crt'), ca, { mode: 0o644 });
    writeFileSync(join(this.#saDir, 'namespace'), this.namespace, { mode: 0o644 });
  }

  async tearDown(): Promise<void> {
    const api = StrictObjectApi.make(this.admin);
    for (const o of [...(this.#identity?.objects ?? [])].reverse()) if (o.kind === 'Namespace' || CLUSTER_SCOPED_KINDS.has(o.kind)) await api.delete(o).catch(() => undefined);
  }

  /** `podman run` flags: the Deployment's securityContext, in-cluster configuration, host network. */
  runFlags(user: string): string[] {
    return [
      'run', '--rm', '--network', 'host', '--user', user, '--read-only', '--cap-drop=ALL', '--security-opt', 'no-new-privileges',
      '-e', 'KUBERNETES_SERVICE_HOST=127.0.0.1', '-e', `KUBERNETES_SERVICE_PORT=${this.#apiPort}`,
      '-v', `${this.#saDir}:/var/run/secrets/kubernetes.io/serviceaccount:ro`,
    ];
  }

  /** The Deployment's environment as -e flags, its downward-API fields filled in for a pod named `pod`. */
  deploymentEnv(pod: string): string[] {
    const out: string[] = [];
    for (const e of this.#container.env ?? []) {
      const field = (e.valueFrom as { fieldRef?: { fieldPath: string } } | undefined)?.fieldRef?.fieldPath;
      const value = e.value ?? (field === 'metadata.name' ? pod : field === 'metadata.namespace' ? this.namespace : undefined);
      assert.ok(value !== undefined, `env ${e.name}: a value or a known fieldRef`);
      out.push('-e', `${e.name}=${value}`);
    }
    return out;
  }

  /**
   * Starts `image` as the Deployment would (its args, confined to the scenario, debug logs so
   * that each reconcile is logged, /healthz on a free port) in a container named `name`.
   */
  start(image: string, name: string): Container {
    // The webhook as the Deployment switches it on, but on a free loopback port: the container
    // shares the host's network.
    // The credential check off: the fixture sources name real icr.io hosts, and no test traffic leaves loopback.
    const deployed = (this.#container.args ?? []).map((a) => (a.startsWith('--webhook-address') ? '--webhook-address=127.0.0.1:0' : a === '--verify-credentials' ? '--verify-credentials=false' : a));
    const args = [...deployed, ...this.scenario.args(), '--http-address', '127.0.0.1:0'];
    return new Container(this.podman, [...this.runFlags('65532:65532'), '--name', name, ...this.deploymentEnv(name), image, ...args]);
  }

  /** Waits for the start-up milestones of a container from start(). */
  async startUp(c: Container): Promise<StartUp> {
    const first = await c.waitForLog((l) => l.message === 'starting', 'the first log line');
    const synced = await c.waitForLog((l) => l.message === 'caches synced; reconciling', 'the Lease and synced caches');
    const reconciled = await c.waitForLog((l) => l.message === 'reconciled', 'the first reconcile');
    return { firstLogMs: first.at - c.startedAt, syncedMs: synced.at - c.startedAt, reconciledMs: reconciled.at - c.startedAt };
  }

  /** Stops a container with SIGTERM, as the kubelet does; resolves with its exit code and how long it took. */
  async stop(c: Container, name: string): Promise<{ code: number | null; ms: number }> {
    const t0 = Date.now();
    await this.podman.run(['kill', '--signal', 'TERM', name]);
    const exit = await c.exited;
    return { code: exit.code, ms: exit.at - t0 };
  }
}
