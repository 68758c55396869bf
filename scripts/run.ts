/**
 * `npm start`: runs the operator.
 * - With KUBECONFIG set: against that cluster, as is (flags after `--` are passed on).
 * - Without: starts the local control plane (test/harness), applies the IBM-style sample secrets
 *   to `default`, creates a few namespaces (one opted out, one whose ServiceAccount already lists
 *   the user's own pull secret), runs the operator and prints a table of what it did, and what the
 *   credential check found for each source's registry hosts, until Ctrl-C.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { type ControlPlane, killProcessesSync, startControlPlane } from '../test/harness/control-plane.js';
import { applyIbmSecrets } from '../test/harness/fixtures.js';
import { type OperatorProcess, REPO_ROOT, startOperator } from '../test/harness/operator.js';
import { CREDENTIALS_CONFIGMAP, parseResults } from '../src/registry/results.js';

/** The operator's namespace in the demo: where the leader publishes the credential results. */
const OPERATOR_NAMESPACE = 'pullsecret-operator';

const MAIN = join(REPO_ROOT, 'src', 'main.ts');
const passThrough = process.argv.slice(2);

/** Against a real cluster: the command itself, its output on this terminal, as `pullsecret-operator` would run. */
async function onRealCluster(kubeconfig: string): Promise<number> {
  console.error(`pullsecret-operator: running against the cluster of KUBECONFIG=${kubeconfig}`);
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...passThrough], { cwd: REPO_ROOT, env: { ...process.env, KUBECONFIG: kubeconfig }, stdio: ['ignore', 'inherit', 'inherit'] });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}

async function demo(): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'pso-demo-'));
  const running: { plane?: ControlPlane; operator?: OperatorProcess } = {};
  let stopping: Promise<never> | undefined;
  // npm and tsx may each pass the same Ctrl-C on: the first signal stops everything, later ones wait.
  const stop = (code: number): Promise<never> =>
    (stopping ??= (async () => {
      console.log('\nstopping the operator and the local control plane...');
      const { operator, plane } = running;
      await operator?.stop();
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
  // The operator's own namespace, where it publishes the credential check's results (a namespace like any other: it gets copies too).
  await core.createNamespace({ body: { metadata: { name: OPERATOR_NAMESPACE } } });
  console.log(`Created namespaces team-a, team-b, legacy (opted out), payments (ServiceAccount deployer lists my-own-registry) and ${OPERATOR_NAMESPACE}.`);

  const logFile = join(dir, 'operator.log');
  const { createWriteStream } = await import('node:fs');
  const out = createWriteStream(logFile);
  // Your PSO_* variables reach it, as they would the command; nothing waits for it to start. The
  // credential check is on, as the command's default is (the harness turns it off for the tests).
  const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && e[0] !== 'KUBECONFIG'));
  env['PSO_VERIFY_CREDENTIALS'] ??= 'true';
  const args = ['--http-address', '127.0.0.1:0', '--operator-namespace', OPERATOR_NAMESPACE, ...passThrough];
  const operator = (running.operator = await startOperator({ kubeconfig: plane.kubeconfigPath, args, env, waitSynced: false }));
  operator.child.stderr?.pipe(out);
  void operator.exited.then(({ code }) => {
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
    const table = await Promise.all([snapshot(core), credentials(core)])
      .then((parts) => parts.join('\n\n'))
      .catch((err: unknown) => `(could not read the cluster: ${(err as Error).message})`);
    if (table !== last) {
      console.log(`${new Date().toISOString()}\n${table}\n`);
      last = table;
    }
    await sleep(1000);
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

/**
 * What the credential check found, from the ConfigMap the leader publishes (as `status` reads it).
 * The sample sources name real icr.io hosts with fake credentials: say plainly what that means here.
 */
async function credentials(core: CoreV1Api): Promise<string> {
  const cm = await core.readNamespacedConfigMap({ namespace: OPERATOR_NAMESPACE, name: CREDENTIALS_CONFIGMAP }).catch(() => undefined);
  const doc = cm ? parseResults(cm.data) : undefined;
  if (!doc || 'error' in doc) return 'CREDENTIAL CHECK: no results yet (the leader publishes them in a second or two)';
  const rows: string[][] = [['SOURCE', 'REGISTRY', 'CREDENTIALS', 'DETAIL']];
  const results = new Set<string>();
  for (const src of doc.sources) {
    for (const r of src.registries) {
      results.add(r.result);
      rows.push([src.source, r.host, r.result, r.detail.length > 90 ? `${r.detail.slice(0, 87)}...` : r.detail]);
    }
  }
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const lines = rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
  if (results.has('unreachable')) {
    lines.push('', 'The sample sources name real icr.io hosts. Those marked unreachable cannot be reached from this machine',
      '(no DNS or no route to them), so the check cannot judge their credentials. From a machine that reaches icr.io it would (the sample keys are fake).');
  }
  if (results.has('rejected')) lines.push('', 'rejected: icr.io refused the sample\'s fake API keys, as it should (pods would get 401 with them).');
  return lines.join('\n');
}

const kubeconfig = process.env.KUBECONFIG;
if (kubeconfig && kubeconfig.split(':').some((p) => existsSync(p))) {
  process.exitCode = await onRealCluster(kubeconfig);
} else {
  await demo();
}
