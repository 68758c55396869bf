/**
 * `npm run bench -- webhook`: what the admission webhook adds to a ServiceAccount create, the one
 * request of the cluster it sits in the path of. On a fresh local control plane, with the IBM
 * fixture sources and the operator running with its webhook (--webhook-url on 127.0.0.1), it times
 * ServiceAccount creates, from the call to the API server's answer, in pairs: one in a namespace
 * that gets the copies (the API server calls the webhook, which adds the copies' names) and one in
 * kube-public (which the webhook configuration's namespaceSelector leaves out: no call), in turn,
 * the order flipped every pair. The creates in kube-public are the floor: the same API server, the
 * same operator, the same moment, without the webhook in the path. Each cell runs idle and while
 * new namespaces keep arriving, 20 a second (each one reconciled, and its `default`
 * ServiceAccount admitted too); `--rounds` times. The figures: p50 and p99 of each side, and the
 * webhook's as a ratio to the floor of the same cell. The operator's own histogram
 * (pullsecret_operator_webhook_admission_duration_seconds, which the dashboard shows) gives the
 * time spent in the webhook itself.
 * Usage: npm run bench -- webhook [--creates 200] [--rounds 3]
 */
import { parseArgs } from 'node:util';
import { withSeededPlane } from './bench-plane.js';
import { freePort } from '../test/harness/kube.js';
import { startOperator } from '../test/harness/operator.js';

const COPIES = 5; // the IBM fixtures give five copies per namespace
/** Left out by the webhook configuration's namespaceSelector (src/webhook/configuration.ts), like kube-system. */
const FLOOR_NAMESPACE = 'kube-public';

const pct = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
};

/** Sum and count of the webhook's own histogram, from the operator's /metrics. */
async function admissionTime(port: number | undefined): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const read = (name: string): number =>
    text
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`))
      .reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  return { sum: read('pullsecret_operator_webhook_admission_duration_seconds_sum'), count: read('pullsecret_operator_webhook_admission_duration_seconds_count') };
}

interface Cell {
  floor: number[];
  webhook: number[];
  arrived: number;
  admissions: { sum: number; count: number };
}

export async function webhookBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { creates: { type: 'string', default: '200' }, rounds: { type: 'string', default: '3' } } });
  const creates = Number(values.creates);
  const rounds = Number(values.rounds);
  await withSeededPlane('pso-bench-webhook-', async ({ plane, core }) => {
    const port = await freePort();
    const op = await startOperator({ kubeconfig: plane.kubeconfigPath, args: ['--log-level', 'info', '--webhook-url', `https://127.0.0.1:${port}`] });
    const target = 'bench-webhook';
    await core.createNamespace({ body: { metadata: { name: target } } });
    let seq = 0;
    const create = async (ns: string): Promise<{ ms: number; patched: boolean }> => {
      const t0 = performance.now();
      const sa = await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: `sa-${seq++}` } } });
      return { ms: performance.now() - t0, patched: (sa.imagePullSecrets ?? []).length >= COPIES };
    };
    // Until the API server calls the webhook (registered once the caches synced) and the copies exist.
    for (;;) {
      if ((await create(target)).patched) break;
      await new Promise((r) => setTimeout(r, 200));
    }

    /** `creates` pairs, the order flipped every pair; checks that only the target's creates got the copies. */
    const pairs = async (): Promise<{ floor: number[]; webhook: number[] }> => {
      const floor: number[] = [];
      const webhook: number[] = [];
      for (let i = 0; i < creates; i++) {
        for (const ns of i % 2 === 0 ? [target, FLOOR_NAMESPACE] : [FLOOR_NAMESPACE, target]) {
          const r = await create(ns);
          if (r.patched !== (ns === target)) throw new Error(`a ServiceAccount in ${ns} was born ${r.patched ? 'with' : 'without'} the copies`);
          (ns === target ? webhook : floor).push(r.ms);
        }
      }
      return { floor, webhook };
    };
    /**
     * Namespaces arriving at a fixed rate, 20 at a time every second (or as soon as the last 20 are
     * created, when that takes longer), until `until` settles; resolves with how many.
     */
    const arrive = async (until: Promise<unknown>): Promise<number> => {
      let done = false;
      void until.then(
        () => (done = true),
        () => (done = true),
      );
      let n = 0;
      while (!done) {
        const tick = new Promise((r) => setTimeout(r, 1000));
        await Promise.all(Array.from({ length: 20 }, () => core.createNamespace({ body: { metadata: { name: `load-${seq++}` } } })));
        n += 20;
        await tick;
      }
      return n;
    };
    /** Until the webhook has answered nothing for 2 s: the `default` ServiceAccounts of earlier load are all made. */
    const quiet = async (): Promise<void> => {
      for (let last = -1; ; ) {
        const { count } = await admissionTime(op.httpPort);
        if (count === last) return;
        last = count;
        await new Promise((r) => setTimeout(r, 2000));
      }
    };
    const cell = async (load: boolean): Promise<Cell> => {
      await quiet();
      const before = await admissionTime(op.httpPort);
      const measuring = pairs();
      const arrived = load ? await arrive(measuring) : 0;
      const r = await measuring;
      const after = await admissionTime(op.httpPort);
      const admissions = { sum: after.sum - before.sum, count: after.count - before.count };
      // Idle, the webhook was called once per create in the target namespace, never for kube-public.
      if (!load && admissions.count !== creates) throw new Error(`the webhook answered ${admissions.count} admissions for ${creates} creates in ${target}`);
      return { ...r, arrived, admissions };
    };

    const results: { round: number; idle: Cell; load: Cell }[] = [];
    for (let round = 1; round <= rounds; round++) {
      const idle = await cell(false);
      const load = await cell(true);
      results.push({ round, idle, load });
      for (const [what, c] of [['idle', idle], ['under load', load]] as const) {
        console.error(`webhook bench: round ${round}, ${what}: floor p50 ${pct(c.floor, 50).toFixed(1)} ms p99 ${pct(c.floor, 99).toFixed(1)} ms; webhook p50 ${pct(c.webhook, 50).toFixed(1)} ms p99 ${pct(c.webhook, 99).toFixed(1)} ms`);
      }
    }
    await op.stop();

    const ms = (x: number): string => `${x.toFixed(1)} ms`;
    const row = (round: number, what: string, c: Cell): string =>
      `| ${round} | ${what} | ${ms(pct(c.floor, 50))} | ${ms(pct(c.webhook, 50))} | ${(pct(c.webhook, 50) / pct(c.floor, 50)).toFixed(2)}x | ${ms(pct(c.floor, 99))} | ${ms(pct(c.webhook, 99))} | ${(pct(c.webhook, 99) / pct(c.floor, 99)).toFixed(2)}x | ${c.admissions.count > 0 ? ms((c.admissions.sum / c.admissions.count) * 1000) : '-'} |`;
    const lines = [
      `ServiceAccount create, from the call to the API server's answer: ${creates} pairs per cell, one create in a namespace the webhook is called for and one in ${FLOOR_NAMESPACE} (the floor), in turn (local control plane, ${new Date().toISOString().slice(0, 10)}):`,
      '',
      '| round | when | p50 floor (no webhook call) | p50 with the webhook | ratio | p99 floor | p99 with the webhook | ratio | time in the webhook, mean (its histogram) |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ];
    for (const r of results) {
      lines.push(row(r.round, 'idle', r.idle));
      lines.push(row(r.round, `under load (${r.load.arrived} namespaces arrived)`, r.load));
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  });
}
