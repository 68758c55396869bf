/**
 * `npm run bench`: measures the operator on a fresh local control plane and prints the figures
 * docs/sizing.md quotes.
 * - New namespace: from the `default` ServiceAccount appearing (kube-controller-manager creates it)
 *   to that ServiceAccount listing every copy, seen through a watch; and from the namespace's
 *   creation to its last copy existing.
 * - Rotation: from a source update to every namespace's copy carrying the new data.
 * - Cost: API requests the operator made per new namespace, and write requests during idle resyncs.
 * Usage: npm run bench [-- --namespaces 30]
 *
 * At scale, against a floor: `npm run bench -- scale` (see scripts/bench-scale.ts); memory under
 * namespace churn: `npm run bench -- churn`; the first-deploy race with and without the webhook:
 * `npm run bench -- race` (scripts/bench-race.ts); what the webhook adds to a ServiceAccount create:
 * `npm run bench -- webhook` (scripts/bench-webhook.ts).
 *
 * Each run writes what it printed to docs/benchmarks/<YYYY-MM-DD>-<name>.md (name: latency, scale,
 * churn, race or webhook) and links it from docs/benchmarks/README.md as the latest;
 * `--out PATH` writes the page elsewhere, `--out -` writes none (scripts/bench-record.ts).
 */
import { parseArgs } from 'node:util';
import { KubeConfig, type V1Secret, Watch } from '@kubernetes/client-node';
import { withSeededPlane } from './bench-plane.js';
import { churnBench, scaleBench } from './bench-scale.js';
import { raceBench } from './bench-race.js';
import { webhookBench } from './bench-webhook.js';
import { recorded, takeOut } from './bench-record.js';
import { apiserverMetrics, apiserverWrites } from '../test/harness/kube.js';
import { startOperator } from '../test/harness/operator.js';
import { requestsByVerb } from '../test/harness/metrics.js';

const { out, rest: argv } = takeOut(process.argv.slice(2));
const sub = argv[0];
const { values } = sub === 'scale' || sub === 'churn' || sub === 'race' || sub === 'webhook' ? { values: { namespaces: '0' } } : parseArgs({ args: argv, options: { namespaces: { type: 'string', default: '30' } } });
const N = Number(values.namespaces);
const COPIES = 5; // the IBM fixtures give five copies per namespace

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const fmt = (xs: number[]): string => `p50 ${pct(xs, 50).toFixed(0)} ms, p95 ${pct(xs, 95).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms`;

/** Requests counted by the API server, by verb, for the resources the operator touches. */
async function requestsCounted(kc: KubeConfig): Promise<Record<string, number>> {
  return requestsByVerb(await apiserverMetrics(kc), ['secrets', 'serviceaccounts', 'events']);
}

async function main(): Promise<void> {
  await withSeededPlane('pso-bench-', async ({ plane, kc, core }) => {
    const op = await startOperator({ kubeconfig: plane.kubeconfigPath, args: ['--resync-period', '10s', '--log-level', 'info'] });

    // 1. New namespaces, one at a time.
    const saLatency: number[] = [];
    const copiesLatency: number[] = [];
    const names: string[] = [];
    const beforeVerbs = await requestsCounted(kc);
    for (let i = 0; i < N; i++) {
      const ns = `bench-${i}`;
      names.push(ns);
      const t: { created?: number; saAdded?: number; saPatched?: number } = {};
      let copies = 0;
      const done = new Promise<void>((resolve) => {
        const check = (): void => {
          if (t.saPatched !== undefined && copies >= COPIES) resolve();
        };
        void new Watch(kc).watch(`/api/v1/namespaces/${ns}/serviceaccounts`, {}, (type, obj: { metadata?: { name?: string }; imagePullSecrets?: unknown[] }) => {
          if (obj.metadata?.name !== 'default') return;
          if (type === 'ADDED') t.saAdded ??= performance.now();
          if ((obj.imagePullSecrets ?? []).length >= COPIES) {
            t.saPatched ??= performance.now();
            check();
          }
        }, () => undefined).then((w) => done.finally(() => w.abort()));
        void new Watch(kc).watch(`/api/v1/namespaces/${ns}/secrets`, { labelSelector: 'app.kubernetes.io/managed-by=pullsecret-operator' }, (type) => {
          if (type === 'ADDED' && ++copies === COPIES) {
            copiesLatency.push(performance.now() - (t.created ?? 0));
            check();
          }
        }, () => undefined).then((w) => done.finally(() => w.abort()));
      });
      await new Promise((r) => setTimeout(r, 100)); // let both watches open
      t.created = performance.now();
      await core.createNamespace({ body: { metadata: { name: ns } } });
      await done;
      saLatency.push((t.saPatched ?? 0) - (t.saAdded ?? 0));
    }
    const afterVerbs = await requestsCounted(kc);
    const perNs = Object.fromEntries(Object.entries(afterVerbs).map(([v, n]) => [v, ((n - (beforeVerbs[v] ?? 0)) / N).toFixed(1)]).filter(([, n]) => n !== '0.0'));

    // 2. Rotation fan-out.
    const src = (await core.readNamespacedSecret({ namespace: 'default', name: 'all-icr-io' }));
    const rotated = Buffer.from(JSON.stringify({ auths: { 'icr.io': { username: 'iamapikey', password: 'bench-rotated' } } })).toString('base64');
    const pending = new Set(names);
    const rotation = new Promise<number>((resolve) => {
      let started = 0;
      void new Watch(kc).watch('/api/v1/secrets', { labelSelector: 'app.kubernetes.io/managed-by=pullsecret-operator' }, (_type, obj: V1Secret) => {
        if (obj.metadata?.name === 'all-icr-io' && obj.data?.['.dockerconfigjson'] === rotated) pending.delete(obj.metadata.namespace ?? '');
        if (pending.size === 0) resolve(performance.now() - started);
      }, () => undefined).then(() => {
        started = performance.now();
        void core.replaceNamespacedSecret({ namespace: 'default', name: 'all-icr-io', body: { ...src, data: { '.dockerconfigjson': rotated } } });
      });
    });
    const rotationMs = await rotation;

    // 3. Idle: writes during 3 resyncs.
    await new Promise((r) => setTimeout(r, 3000));
    const w0 = await apiserverWrites(kc);
    await new Promise((r) => setTimeout(r, 31_000));
    const idleWrites = (await apiserverWrites(kc)) - w0;
    await op.stop();

    console.log(`\npullsecret-operator benchmark: ${N} namespaces, ${COPIES} IBM secrets, local control plane (k8s ${plane.kubernetesVersion}), ${new Date().toISOString().slice(0, 10)}`);
    console.log(`| what | result |`);
    console.log(`| --- | --- |`);
    console.log(`| new namespace: default ServiceAccount created -> patched with all ${COPIES} copies | ${fmt(saLatency)} |`);
    console.log(`| new namespace: namespace created -> all ${COPIES} copies exist | ${fmt(copiesLatency)} |`);
    console.log(`| rotation of one source -> updated in all ${N} namespaces | ${rotationMs.toFixed(0)} ms |`);
    console.log(`| API requests per new namespace on secrets, serviceaccounts and events, all clients (includes this benchmark's 2 WATCHes and kube-controller-manager's POST of the default ServiceAccount) | ${Object.entries(perNs).map(([v, n]) => `${v} ${n}`).join(', ')} |`);
    console.log(`| write requests in 31 s of idle with --resync-period 10s (3 resyncs) | ${idleWrites} |`);
  });
}

const benches: Record<string, (argv: string[]) => Promise<void>> = { scale: scaleBench, churn: churnBench, race: raceBench, webhook: webhookBench };
const bench = sub === undefined ? undefined : benches[sub];
await recorded({ name: bench ? (sub ?? '') : 'latency', argv, out }, () => (bench ? bench(argv.slice(1)) : main()));
