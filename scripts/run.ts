/**
 * `npm start`: runs the operator.
 * - With KUBECONFIG set: against that cluster, as is (flags after `--` are passed on).
 * - Without: starts the local control plane (test/harness), applies the IBM-style sample secrets
 *   to `default`, creates a few namespaces (one opted out, one whose ServiceAccount already lists
 *   the user's own pull secret), runs the operator and prints a table of what it did, until Ctrl-C.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { type ControlPlane, killProcessesSync, startControlPlane } from '../test/harness/control-plane.js';
import { applyIbmSecrets } from '../test/harness/fixtures.js';
import { REPO_ROOT } from '../test/harness/operator.js';

const MAIN = join(REPO_ROOT, 'src', 'main.ts');
const passThrough = process.argv.slice(2);

function runOperator(kubeconfig: string, args: string[], logTo: 'inherit' | 'pipe'): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, KUBECONFIG: kubeconfig },
    stdio: ['ignore', 'inherit', logTo],
  });
}

async function onRealCluster(kubeconfig: string): Promise<number> {
  console.error(`pullsecret-operator: running against the cluster of KUBECONFIG=${kubeconfig}`);
  const child = runOperator(kubeconfig, passThrough, 'inherit');
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}

async function demo(): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'pso-demo-'));
  const running: { plane?: ControlPlane; operator?: ChildProcess } = {};
  let stopping: Promise<never> | undefined;
  // npm and tsx may each pass the same Ctrl-C on: the first signal stops everything, later ones wait.
  const stop = (code: number): Promise<never> =>
    (stopping ??= (async () => {
      console.log('\nstopping the operator and the local control plane...');
      const { operator, plane } = running;
      operator?.kill('SIGTERM');
      if (operator && operator.exitCode === null) await new Promise((r) => operator.once('exit', r));
      await plane?.stop();
      await rm(dir, { recursive: true, force: true });
      process.exit(code);
    })());
  // Last resort: never leave the control plane behind.
  process.on('exit', () => {
    if (running.plane) killProcessesSync(running.plane.processes);
  });
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  console.log('No KUBECONFIG: starting a local control plane (etcd, kube-apiserver, kube-controller-manager).');
  const plane = (running.plane = await startControlPlane({ dir, log: (m) => console.log(`  ${m}`) }));
  const kc = new KubeConfig();
  kc.loadFromFile(plane.kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);

  console.log('Applying the IBM-style sample secrets (fake credentials) to namespace default.');
  await applyIbmSecrets(kc, 'default');
  await core.createNamespace({ body: { metadata: { name: 'team-a' } } });
  await core.createNamespace({ body: { metadata: { name: 'team-b' } } });
  await core.createNamespace({ body: { metadata: { name: 'legacy', annotations: { 'pullsecret-operator.io/opt-out': 'true' } } } });
  await core.createNamespace({ body: { metadata: { name: 'payments' } } });
  await core.createNamespacedServiceAccount({ namespace: 'payments', body: { metadata: { name: 'deployer' }, imagePullSecrets: [{ name: 'my-own-registry' }] } });
  console.log('Created namespaces team-a, team-b, legacy (opted out) and payments (ServiceAccount deployer lists my-own-registry).');

  const logFile = join(dir, 'operator.log');
  const { createWriteStream } = await import('node:fs');
  const out = createWriteStream(logFile);
  const operator = (running.operator = runOperator(plane.kubeconfigPath, ['--http-address', '127.0.0.1:0', ...passThrough], 'pipe'));
  operator.stderr?.pipe(out);
  operator.on('exit', (code) => {
    if (!stopping) {
      console.error(`the operator exited (${code}); its log: ${logFile}`);
      void stop(code ?? 1);
    }
  });
  console.log(`Operator started; its JSON log goes to ${logFile}`);
  console.log(`To poke at the cluster from another shell: export KUBECONFIG=${plane.kubeconfigPath}`);
  console.log('Press Ctrl-C to stop.\n');

  let last = '';
  for (;;) {
    const table = await snapshot(core).catch((err: unknown) => `(could not read the cluster: ${(err as Error).message})`);
    if (table !== last) {
      console.log(`${new Date().toISOString()}\n${table}\n`);
      last = table;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** A table of each namespace's managed copies and the ServiceAccounts that list them. */
async function snapshot(core: CoreV1Api): Promise<string> {
  const [nss, secrets, sas] = await Promise.all([
    core.listNamespace(),
    core.listSecretForAllNamespaces({ labelSelector: 'app.kubernetes.io/managed-by=pullsecret-operator' }),
    core.listServiceAccountForAllNamespaces(),
  ]);
  const rows: string[][] = [['NAMESPACE', 'COPIES', 'SERVICEACCOUNTS PATCHED', 'NOTE']];
  for (const ns of nss.items) {
    const name = ns.metadata?.name ?? '';
    const copies = secrets.items.filter((s) => s.metadata?.namespace === name).map((s) => s.metadata?.name ?? '');
    const patched = sas.items.filter((sa) => sa.metadata?.namespace === name && sa.metadata?.annotations?.['pullsecret-operator.io/added-pull-secrets']);
    const own = patched.flatMap((sa) => (sa.imagePullSecrets ?? []).map((r) => r.name ?? '').filter((n) => !copies.includes(n)).map((n) => `${sa.metadata?.name}: kept ${n}`));
    const note = ns.metadata?.annotations?.['pullsecret-operator.io/opt-out'] === 'true' ? 'opted out' : name === 'default' ? 'source' : name.startsWith('kube-') ? 'excluded' : own.join(', ');
    rows.push([name, copies.length ? `${copies.length} (${copies.sort().join(', ')})` : '-', patched.map((sa) => sa.metadata?.name ?? '').sort().join(', ') || '-', note]);
  }
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

const kubeconfig = process.env.KUBECONFIG;
if (kubeconfig && kubeconfig.split(':').some((p) => existsSync(p))) {
  process.exitCode = await onRealCluster(kubeconfig);
} else {
  await demo();
}
