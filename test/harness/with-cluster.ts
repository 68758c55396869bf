/**
 * Usage: tsx test/harness/with-cluster.ts <command...>
 *
 * Starts one control plane in a temp dir, runs the command with KUBECONFIG and
 * PSO_TEST_KUBECONFIG pointing at it (and PSO_TEST_BIN_DIR at its binaries, kubectl included,
 * PSO_TEST_AUDIT_LOG at its audit log), stops the plane and exits with the command's code.
 * The plane's Kubernetes version is $PSO_KUBERNETES_VERSION (1.34.4, v1.34.4 or 1.34), else the
 * default (test/control-plane/K8S_VERSION); the command sees the exact version in the same variable.
 *
 * It also installs the manifests' identity of the operator (its ServiceAccount, RBAC and the
 * admission policy that confines its writes; see installOperatorIdentity) in the namespace
 * `pso-operator-identity`, and points PSO_TEST_OPERATOR_KUBECONFIG at a token of that
 * ServiceAccount: the scenarios run the operator as the manifests do, under real RBAC and the
 * real policy, not as an admin.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { IDENTITY_NAMESPACE, killProcessesSync, startControlPlane } from './control-plane.js';
import { KUBERNETES_VERSION_ENV } from './kubernetes-version.js';
import { installOperatorIdentity } from './manifests.js';
import type { ControlPlane } from './control-plane.js';

async function main(): Promise<number> {
  const quiet: { buffer?: string[] } = {};
  const log = (msg: string): void => {
    if (quiet.buffer) quiet.buffer.push(msg);
    else console.error(`[with-cluster] ${msg}`);
  };
  const [cmd, ...args] = process.argv.slice(2);
  if (cmd === undefined) {
    console.error('usage: tsx test/harness/with-cluster.ts <command> [args...]');
    return 2;
  }

  const abort = new AbortController();
  let plane: ControlPlane | undefined;
  let child: ChildProcess | undefined;
  let interrupted: NodeJS.Signals | undefined;

  // Last resort: never leave the plane behind, even on an unexpected exit.
  process.on('exit', () => {
    if (plane) killProcessesSync(plane.processes);
  });
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted !== undefined) {
      log(`second ${sig}: killing everything`);
      if (plane) killProcessesSync(plane.processes);
      child?.kill('SIGKILL');
      process.exit(128 + (constants.signals[sig] ?? 0));
    }
    interrupted = sig;
    log(`${sig}: stopping`);
    abort.abort(new Error(`interrupted by ${sig}`));
    if (child && child.exitCode === null) {
      child.kill(sig);
      setTimeout(() => child?.kill('SIGKILL'), 10_000).unref();
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const dir = await mkdtemp(join(tmpdir(), 'pso-cluster-'));
  let code: number;
  try {
    plane = await startControlPlane({ dir, log, signal: abort.signal, audit: true });
    const kubeconfig = plane.kubeconfigPath;
    const admin = new KubeConfig();
    admin.loadFromFile(kubeconfig);
    const identity = await installOperatorIdentity(admin, IDENTITY_NAMESPACE, 'tests', join(dir, 'operator-kubeconfig'));
    child = spawn(cmd, args, {
      stdio: 'inherit',
      env: {
        ...process.env,
        KUBECONFIG: kubeconfig,
        PSO_TEST_KUBECONFIG: kubeconfig,
        PSO_TEST_OPERATOR_KUBECONFIG: identity.kubeconfigPath,
        PSO_TEST_BIN_DIR: plane.binDir,
        PSO_TEST_AUDIT_LOG: plane.auditLogPath ?? '',
        // The exact version, so that a test that starts a plane of its own (faults) starts the same.
        [KUBERNETES_VERSION_ENV]: plane.kubernetesVersion,
      },
    });
    const running = child;
    code = await new Promise<number>((res) => {
      running.once('error', (err) => {
        log(`cannot run ${cmd}: ${err.message}`);
        res(127);
      });
      running.once('exit', (c, sig) => res(c ?? 128 + (sig ? (constants.signals[sig] ?? 0) : 0)));
    });
  } catch (err) {
    log(`control plane failed: ${err instanceof Error ? err.message : String(err)}`);
    code = 1;
  }
  // After a successful command, stay quiet: the test runner's summary must be the last thing printed
  // (CI reads it). The stop's messages are shown only if something went wrong.
  quiet.buffer = [];
  if (plane) await plane.stop();
  if (interrupted !== undefined) code = 128 + (constants.signals[interrupted] ?? 0);
  if (code === 0) {
    await rm(dir, { recursive: true, force: true });
  } else {
    for (const m of quiet.buffer) console.error(`[with-cluster] ${m}`);
    console.error(`[with-cluster] exit code ${code}; control-plane logs kept in ${dir}`);
  }
  return code;
}

process.exit(await main());
