/**
 * A real local Kubernetes control plane for integration tests: etcd, kube-apiserver and
 * kube-controller-manager built from Go modules by test/control-plane/build.sh, and with `node`
 * a real node (test/harness/node.ts). Split per component, as envtest splits its own:
 * plane/etcd.ts, plane/apiserver.ts, plane/controller-manager.ts, plane/pki.ts and
 * plane/processes.ts; this module starts them in order and hands out the plane.
 *
 * No module-level mutable state and no signal handlers here: callers (cli.ts,
 * with-cluster.ts, tests) own process lifetime and call stop().
 */
import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { runBuildScript } from './build-script.js';
import { kubernetesVersion } from './kubernetes-version.js';
import { type NodeInfo, type RunningNode, startNode } from './node.js';
import { AUDIT_POLICY, apiserverArgs, httpsGet, type TlsClient } from './plane/apiserver.js';
import { controllerManagerArgs } from './plane/controller-manager.js';
import { etcdArgs, etcdHealthy } from './plane/etcd.js';
import { kubeconfigYaml, makePki } from './plane/pki.js';
import { type ProcessRef, ProcessGroup, freePorts, stopProcesses } from './plane/processes.js';

export { runBuildScript } from './build-script.js';
export { IDENTITY_NAMESPACE, isReady, serverVersion } from './plane/apiserver.js';
export { type ProcessRef, freePorts, isRunning, killProcessesSync, stopProcesses } from './plane/processes.js';

export const COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager'] as const;
export type ComponentName = (typeof COMPONENTS)[number];

export interface ControlPlane {
  /** The Kubernetes version its binaries were built from, e.g. v1.36.3 (see kubernetes-version.ts). */
  kubernetesVersion: string;
  kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  server: string;
  dir: string;
  binDir: string;
  caCertPath: string;
  adminCertPath: string;
  adminKeyPath: string;
  /** The API server's serving certificate (SANs 127.0.0.1 and localhost), signed by the CA. */
  serverCertPath: string;
  serverKeyPath: string;
  pids: Record<ComponentName, number>;
  /** In start order (etcd, kube-apiserver, kube-controller-manager, then the node's). */
  processes: readonly ProcessRef[];
  /** With `node: true`: what tests need to know of the node (also in <dir>/node.json). */
  node?: NodeInfo;
  /** With `node: true` or `audit: true`: the API server's audit log (JSON lines; see AUDIT_POLICY). */
  auditLogPath?: string;
  /** SIGTERM all (reverse order), SIGKILL after a grace period, wait for exit. Idempotent. */
  stop(): Promise<void>;
  /**
   * Fault injection: signals one of the plane's processes (SIGKILL by default) and waits until it
   * is gone. It stays down until start(name).
   */
  kill(name: ComponentName, signal?: NodeJS.Signals): Promise<void>;
  /**
   * Starts a killed process again from its own command line (the same binary, flags, ports and
   * data dir), records its new pid in processes.json, and waits until it is ready.
   */
  start(name: ComponentName): Promise<void>;
}

export interface StartOptions {
  /** Data dir; wiped first. Default: <repo>/.cluster */
  dir?: string;
  log?: (msg: string) => void;
  /** Start the processes in their own session, unref'd, so they outlive this process. */
  detached?: boolean;
  /** Aborting stops whatever was started and rejects. */
  signal?: AbortSignal;
  /**
   * Also start a real node (test/harness/node.ts): containerd, a kubelet, a kube-scheduler, a
   * password-protected registry with a private test image; and the controllers that run
   * Deployments on it.
   */
  node?: boolean;
  /** More flags for kube-controller-manager (the scale benchmark raises its client QPS). */
  controllerManagerArgs?: readonly string[];
  /** Write the API server's audit log (AUDIT_POLICY; on with `node`). */
  audit?: boolean;
  /**
   * Kubernetes version of the plane and its node: 1.34.4, v1.34.4 or 1.34 (see
   * kubernetes-version.ts). Default: $PSO_KUBERNETES_VERSION, else test/control-plane/K8S_VERSION.
   */
  kubernetesVersion?: string;
}

export function repoRoot(): string {
  return fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
}

/** Runs build.sh for `version` (v1.MINOR.PATCH) and returns the folder holding the plane's binaries. */
export async function buildBinaries(version: string, signal?: AbortSignal): Promise<string> {
  const binDir = await runBuildScript(join(repoRoot(), 'test', 'control-plane', 'build.sh'), [], signal, version);
  for (const b of COMPONENTS) await access(join(binDir, b));
  return binDir;
}

/** Starts etcd, kube-apiserver and kube-controller-manager (and with `node` the node); resolves once the plane is usable. */
export async function startControlPlane(opts: StartOptions = {}): Promise<ControlPlane> {
  const log = opts.log ?? ((): void => {});
  const { signal } = opts;
  const t0 = Date.now();
  const dir = resolve(opts.dir ?? join(repoRoot(), '.cluster'));
  const audit = opts.node === true || opts.audit === true;
  const version = kubernetesVersion(opts.kubernetesVersion);

  const binDir = await buildBinaries(version, signal);
  signal?.throwIfAborted();
  const tBuilt = Date.now();
  const since = (): string => `+${((Date.now() - tBuilt) / 1000).toFixed(1)}s`;
  log(`control-plane: Kubernetes ${version} binaries ready in ${((tBuilt - t0) / 1000).toFixed(1)}s (${binDir})`);

  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const [pki, ports] = await Promise.all([makePki(join(dir, 'pki')), freePorts(3)]);
  const [etcdClientPort, etcdPeerPort, apiPort] = ports as [number, number, number];
  log(`control-plane: certificates and ports ready at ${since()}`);

  const server = `https://127.0.0.1:${apiPort}`;
  const kubeconfigPath = join(dir, 'kubeconfig');
  const [ca, cert, key] = await Promise.all([readFile(pki.caCert, 'utf8'), readFile(pki.adminCert, 'utf8'), readFile(pki.adminKey, 'utf8')]);
  await writeFile(kubeconfigPath, kubeconfigYaml(server, ca, cert, key), { mode: 0o600 });
  const tls: TlsClient = { ca, cert, key };
  const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;

  const group = new ProcessGroup(dir, { detached: opts.detached, signal });
  const bin = (name: ComponentName): string => join(binDir, name);
  const readiness: Record<ComponentName, () => Promise<boolean>> = {
    etcd: () => etcdHealthy(etcdUrl),
    'kube-apiserver': async () => (await httpsGet(`${server}/readyz`, tls)) === 200,
    // Ready once it has done its first job: the default ServiceAccount of `default`.
    'kube-controller-manager': async () => (await httpsGet(`${server}/api/v1/namespaces/default/serviceaccounts/default`, tls)) === 200,
  };
  let node: RunningNode | undefined;
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      const t = Date.now();
      if (node) await node.stop();
      await stopProcesses(group.processes, log);
      log(`control-plane: stopped in ${((Date.now() - t) / 1000).toFixed(1)}s`);
    })();
    return stopped;
  };

  try {
    await group.launch('etcd', bin('etcd'), etcdArgs({ dir, clientUrl: etcdUrl, peerUrl: `http://127.0.0.1:${etcdPeerPort}` }));
    await group.waitUntil('etcd /health', readiness.etcd, 20_000);
    log(`control-plane: etcd ready at ${since()}`);

    // With audit (and with a node): the API server's own record of who did what, and when (user,
    // user agent, pod, timestamps), which tests judge the operator by (test/harness/audit.ts).
    if (audit) await writeFile(join(dir, 'audit-policy.yaml'), AUDIT_POLICY);
    await group.launch('kube-apiserver', bin('kube-apiserver'), apiserverArgs({ dir, etcdUrl, port: apiPort, pki, audit }));
    await group.waitUntil('kube-apiserver /readyz', readiness['kube-apiserver'], 60_000);
    log(`control-plane: kube-apiserver ready at ${since()}`);

    await group.launch('kube-controller-manager', bin('kube-controller-manager'), controllerManagerArgs({ kubeconfigPath, pki, node: opts.node === true, extra: opts.controllerManagerArgs }));
    await group.waitUntil('the default ServiceAccount in namespace default (kube-controller-manager)', readiness['kube-controller-manager'], 60_000);
    log(`control-plane: ready at ${server} in ${((Date.now() - tBuilt) / 1000).toFixed(1)}s after build (${((Date.now() - t0) / 1000).toFixed(1)}s total); kubeconfig ${kubeconfigPath}`);
    if (opts.node === true) {
      node = await startNode(
        { dir, kubeconfigPath, binDir, kubernetesVersion: version, caCertPath: pki.caCert, serverCertPath: pki.serverCert, serverKeyPath: pki.serverKey },
        { log, detached: opts.detached, signal, onProcess: (ref) => group.record(ref) },
      );
    }
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }

  return {
    kubernetesVersion: version,
    kubeconfigPath,
    server,
    dir,
    binDir,
    caCertPath: pki.caCert,
    adminCertPath: pki.adminCert,
    adminKeyPath: pki.adminKey,
    serverCertPath: pki.serverCert,
    serverKeyPath: pki.serverKey,
    ...(node ? { node: node.info } : {}),
    ...(audit ? { auditLogPath: join(dir, 'audit.log') } : {}),
    pids: { etcd: group.pid('etcd'), 'kube-apiserver': group.pid('kube-apiserver'), 'kube-controller-manager': group.pid('kube-controller-manager') },
    processes: group.processes,
    stop,
    kill: async (name, sig = 'SIGKILL') => {
      const pid = await group.kill(name, sig);
      log(`control-plane: ${name} (${pid}) stopped by ${sig}`);
    },
    start: async (name) => {
      const pid = await group.restart(name);
      const t = Date.now();
      await group.waitUntil(`${name} ready again`, readiness[name], 60_000);
      log(`control-plane: ${name} started again (${pid}), ready in ${Date.now() - t} ms`);
    },
  };
}
