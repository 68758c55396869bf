/**
 * Measures the operator's memory (RSS) and CPU on the test control plane, to size the
 * Deployment's resources (manifests/base/deployment.yaml).
 *
 * Usage (after `npm run build`, so that the compiled operator runs as in the image):
 *   npx tsx test/harness/with-cluster.ts npx tsx test/harness/measure.ts [--namespaces 50] [--idle 30]
 *
 * It puts the IBM fixture secrets in `default`, creates N namespaces (each with its default and
 * two more ServiceAccounts), starts `node dist/pullsecret-operator.mjs` (NODE_ENV=production) with the
 * default policy (source `default`, every namespace), and samples /proc/<pid> every 100 ms
 * through these phases: initial sync (every namespace gets its copies and every ServiceAccount is
 * patched), idle, a source rotation (every copy updated), and a periodic resync (full relist).
 * Prints peak and settled RSS and CPU seconds and millicores per phase.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CoreV1Api } from '@kubernetes/client-node';
import { applyIbmSecrets } from './fixtures.js';
import { testKubeConfig, waitFor } from './kube.js';
import { REPO_ROOT } from './operator.js';

const { values } = parseArgs({
  options: { namespaces: { type: 'string', default: '50' }, idle: { type: 'string', default: '30' }, resync: { type: 'string', default: '20' } },
});
const N = Number(values.namespaces);
const IDLE_S = Number(values.idle);
const RESYNC_S = Number(values.resync);
const ENTRY = join(REPO_ROOT, 'dist', 'pullsecret-operator.mjs');
if (!existsSync(ENTRY)) throw new Error(`${ENTRY} is missing: run npm run build first`);

const kc = testKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const kubeconfig = process.env.PSO_TEST_KUBECONFIG ?? '';
const TICKS = 100; // USER_HZ on Linux

interface Sample {
  t: number;
  rssKiB: number;
  cpuTicks: number;
}

function sample(pid: number): Sample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of /proc/<pid>/stat; fields[0] is field 3.
    const cpu = Number(fields[11]) + Number(fields[12]);
    return { t: Date.now(), rssKiB: rss, cpuTicks: cpu };
  } catch {
    return undefined;
  }
}

const mib = (kib: number): string => (kib / 1024).toFixed(1);

async function main(): Promise<void> {
  console.log(`node ${process.version}; ${N} namespaces; entry ${ENTRY}`);
  await applyIbmSecrets(kc, 'default');
  const names = Array.from({ length: N }, (_, i) => `load-${String(i).padStart(3, '0')}`);
  for (const name of names) {
    await core.createNamespace({ body: { metadata: { name } } });
    for (const sa of ['builder', 'runner']) await core.createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: sa } } });
  }
  await waitFor('default ServiceAccounts', async () => {
    const l = await core.listServiceAccountForAllNamespaces({});
    return l.items.filter((s) => s.metadata?.name === 'default' && s.metadata.namespace?.startsWith('load-')).length === N;
  }, 60000);
  const secrets = (await core.listSecretForAllNamespaces({})).items.length;
  const sas = (await core.listServiceAccountForAllNamespaces({})).items.length;
  console.log(`cluster: ${(await core.listNamespace({})).items.length} namespaces, ${secrets} secrets, ${sas} serviceaccounts`);

  const child = spawn(process.execPath, [ENTRY, '--kubeconfig', kubeconfig, '--http-address', '127.0.0.1:0', '--log-level', 'info', '--resync-period', `${RESYNC_S}s`], {
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', POD_NAME: 'measure-0', POD_NAMESPACE: 'default' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let lines = 0;
  let port = 0;
  child.stderr.on('data', (d: Buffer) => {
    const text = d.toString();
    lines += text.split('\n').length - 1;
    port ||= Number(/"port":(\d+)/.exec(text)?.[1] ?? 0);
  });
  const heap = async (): Promise<string> => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const v = (name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    return `V8 heap used ${(v('nodejs_heap_size_used_bytes') / 2 ** 20).toFixed(1)} MiB of ${(v('nodejs_heap_size_total_bytes') / 2 ** 20).toFixed(1)} MiB, external ${(v('nodejs_external_memory_bytes') / 2 ** 20).toFixed(1)} MiB`;
  };
  const pid = child.pid ?? 0;
  const samples: Sample[] = [];
  const timer = setInterval(() => {
    const s = sample(pid);
    if (s) samples.push(s);
  }, 100);
  const mark = (): number => samples.length;
  const phase = (label: string, from: number, to = samples.length): void => {
    const ss = samples.slice(from, to);
    const first = ss[0];
    const last = ss[ss.length - 1];
    if (!first || !last) return;
    const cpuS = (last.cpuTicks - first.cpuTicks) / TICKS;
    const wallS = (last.t - first.t) / 1000;
    const peak = Math.max(...ss.map((s) => s.rssKiB));
    console.log(
      `${label.padEnd(28)} wall ${wallS.toFixed(1).padStart(5)} s  cpu ${cpuS.toFixed(2).padStart(5)} s  avg ${Math.round((cpuS / Math.max(wallS, 0.001)) * 1000).toString().padStart(4)} m  ` +
        `rss end ${mib(last.rssKiB).padStart(6)} MiB  peak ${mib(peak).padStart(6)} MiB`,
    );
  };

  const inSync = async (check: (copies: string[], ns: string) => boolean): Promise<boolean> => {
    const copies = await core.listSecretForAllNamespaces({ labelSelector: 'app.kubernetes.io/managed-by=pullsecret-operator' });
    const byNs = new Map<string, string[]>();
    for (const s of copies.items) byNs.set(s.metadata?.namespace ?? '', [...(byNs.get(s.metadata?.namespace ?? '') ?? []), s.metadata?.resourceVersion ?? '']);
    const list = await core.listServiceAccountForAllNamespaces({});
    const patched = list.items.filter((s) => s.metadata?.namespace?.startsWith('load-') && (s.imagePullSecrets?.length ?? 0) >= 5).length;
    return patched === 3 * N && names.every((ns) => check(byNs.get(ns) ?? [], ns));
  };

  const t0 = mark();
  await waitFor('initial sync', () => inSync((c) => c.length >= 5), 180000, 200);
  phase('start + initial sync', t0);
  console.log(`  ${await heap()}`);
  const t1 = mark();
  await new Promise((r) => setTimeout(r, IDLE_S * 1000));
  phase(`idle ${IDLE_S}s (incl. resyncs)`, t1);

  const before = new Set((await core.listSecretForAllNamespaces({ labelSelector: 'app.kubernetes.io/managed-by=pullsecret-operator' })).items.map((s) => s.metadata?.resourceVersion));
  const src = await core.readNamespacedSecret({ namespace: 'default', name: 'all-icr-io' });
  const t2 = mark();
  await core.replaceNamespacedSecret({ namespace: 'default', name: 'all-icr-io', body: { ...src, metadata: { ...src.metadata, labels: { ...src.metadata?.labels, rotated: String(Date.now()) } }, data: { ...src.data, extra: Buffer.from('rotated').toString('base64') } } });
  await waitFor('rotation propagated', async () => {
    const l = await core.listSecretForAllNamespaces({ fieldSelector: 'metadata.name=all-icr-io', labelSelector: 'app.kubernetes.io/managed-by=pullsecret-operator' });
    return l.items.filter((s) => s.metadata?.namespace?.startsWith('load-') && !before.has(s.metadata.resourceVersion)).length === N;
  }, 120000, 200);
  phase('source rotation', t2);
  const t3 = mark();
  await new Promise((r) => setTimeout(r, 5000));
  phase('settle 5s', t3);
  phase('whole run', 0);
  console.log(`  ${await heap()}`);
  const peak = Math.max(...samples.map((s) => s.rssKiB));
  console.log(`peak RSS ${mib(peak)} MiB; ${lines} log lines`);
  clearInterval(timer);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

await main();
