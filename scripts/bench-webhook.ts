/**
 * `npm run bench -- webhook`: what the admission webhook adds to a ServiceAccount create, the one
 * request of the cluster it sits in the path of. On a fresh local control plane, with the IBM
 * fixture sources, it times T ServiceAccount creates, one after the other, in a namespace that has
 * its copies: with the operator alone (the floor: the same API server, the same operator
 * reconciling) and with its webhook on (--webhook-url on 127.0.0.1, so the API server calls it for
 * every create), idle and while new namespaces keep arriving 20 at a time (each one reconciled,
 * and its `default` ServiceAccount admitted too). The cells alternate, `--rounds` times, and the
 * figures are p50 and p99 of each, with the webhook's as a ratio to the floor of the same round.
 * The operator's own histogram (pullsecret_operator_webhook_admission_duration_seconds, which the
 * dashboard shows) gives the time spent in the webhook itself.
 * Usage: npm run bench -- webhook [--creates 200] [--rounds 2]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AdmissionregistrationV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { startControlPlane } from '../test/harness/control-plane.js';
import { applyIbmSecrets } from '../test/harness/fixtures.js';
import { freePort } from '../test/harness/kube.js';
import { startOperator } from '../test/harness/operator.js';

const COPIES = 5; // the IBM fixtures give five copies per namespace

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

export async function webhookBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { creates: { type: 'string', default: '200' }, rounds: { type: 'string', default: '2' } } });
  const creates = Number(values.creates);
  const rounds = Number(values.rounds);
  const dir = await mkdtemp(join(tmpdir(), 'pso-bench-webhook-'));
  const plane = await startControlPlane({ dir, log: (m) => console.error(m) });
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(plane.kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    const admission = kc.makeApiClient(AdmissionregistrationV1Api);
    await applyIbmSecrets(kc, 'default');
    let seq = 0;

    /** T creates one after the other in `ns`, timed from the call to the API server's answer. */
    const timeCreates = async (ns: string, check: (patched: boolean) => void): Promise<number[]> => {
      const out: number[] = [];
      for (let i = 0; i < creates; i++) {
        const t0 = performance.now();
        const sa = await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: `sa-${seq++}` } } });
        out.push(performance.now() - t0);
        check((sa.imagePullSecrets ?? []).length >= COPIES);
      }
      return out;
    };
    /** Namespaces arriving 20 at a time until `until` settles; resolves with how many. */
    const arrive = async (until: Promise<unknown>): Promise<number> => {
      let done = false;
      void until.then(
        () => (done = true),
        () => (done = true),
      );
      let n = 0;
      while (!done) {
        await Promise.all(Array.from({ length: 20 }, () => core.createNamespace({ body: { metadata: { name: `load-${seq++}` } } })));
        n += 20;
      }
      return n;
    };

    type Cell = { idle: number[]; load: number[]; arrived: number; webhookSeconds?: { sum: number; count: number } };
    const results: { round: number; without: Cell; with: Cell }[] = [];
    for (let round = 1; round <= rounds; round++) {
      const cells: Partial<Record<'without' | 'with', Cell>> = {};
      for (const webhook of [false, true]) {
        const port = await freePort();
        const args = ['--log-level', 'warn', ...(webhook ? ['--webhook-url', `https://127.0.0.1:${port}`] : [])];
        const op = await startOperator({ kubeconfig: plane.kubeconfigPath, args });
        const ns = `bench-sa-${round}-${webhook ? 'with' : 'without'}`;
        await core.createNamespace({ body: { metadata: { name: ns } } });
        // Wait for the namespace's copies (and, with the webhook, until the API server calls it).
        for (;;) {
          const sa = await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: `warm-${seq++}` } } });
          const copies = (await core.listNamespacedSecret({ namespace: ns, labelSelector: 'app.kubernetes.io/managed-by=pullsecret-operator' })).items.length;
          if (copies >= COPIES && (!webhook || (sa.imagePullSecrets ?? []).length >= COPIES)) break;
          await new Promise((r) => setTimeout(r, 200));
        }
        let patched = 0;
        const check = (p: boolean): void => void (p && patched++);
        const before = webhook ? await admissionTime(op.httpPort) : undefined;
        const idle = await timeCreates(ns, check);
        const measuring = timeCreates(ns, check);
        const arrived = await arrive(measuring);
        const load = await measuring;
        const after = webhook ? await admissionTime(op.httpPort) : undefined;
        await op.stop();
        if (webhook) {
          await admission.deleteMutatingWebhookConfiguration({ name: 'pullsecret-operator' });
          if (patched !== 2 * creates) throw new Error(`only ${patched} of ${2 * creates} ServiceAccounts were born with the copies: the webhook was not called for every create`);
        } else if (patched !== 0) throw new Error(`${patched} ServiceAccounts were born with copies without the webhook`);
        cells[webhook ? 'with' : 'without'] = { idle, load, arrived, ...(before && after ? { webhookSeconds: { sum: after.sum - before.sum, count: after.count - before.count } } : {}) };
        console.error(`webhook bench: round ${round}, ${webhook ? 'with' : 'without'} the webhook: idle p50 ${pct(idle, 50).toFixed(1)} ms p99 ${pct(idle, 99).toFixed(1)} ms; under load (${arrived} namespaces) p50 ${pct(load, 50).toFixed(1)} ms p99 ${pct(load, 99).toFixed(1)} ms`);
      }
      results.push({ round, without: cells.without as Cell, with: cells.with as Cell });
    }

    const ms = (x: number): string => `${x.toFixed(1)} ms`;
    const row = (round: number, what: string, without: number[], withW: number[], arrived: string): string =>
      `| ${round} | ${what}${arrived} | ${ms(pct(without, 50))} | ${ms(pct(withW, 50))} | ${(pct(withW, 50) / pct(without, 50)).toFixed(2)}x | ${ms(pct(without, 99))} | ${ms(pct(withW, 99))} | ${(pct(withW, 99) / pct(without, 99)).toFixed(2)}x |`;
    const lines = [
      `ServiceAccount create, from the call to the API server's answer, ${creates} creates per cell, one after the other (local control plane, ${new Date().toISOString().slice(0, 10)}):`,
      '',
      '| round | when | p50 without the webhook (floor) | p50 with | ratio | p99 without (floor) | p99 with | ratio |',
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ];
    for (const r of results) {
      lines.push(row(r.round, 'idle', r.without.idle, r.with.idle, ''));
      lines.push(row(r.round, 'under load', r.without.load, r.with.load, ` (${r.without.arrived} / ${r.with.arrived} namespaces arrived)`));
    }
    lines.push('');
    for (const r of results) {
      const w = r.with.webhookSeconds;
      if (w && w.count > 0) lines.push(`Round ${r.round}: the webhook's own histogram counted ${w.count} admissions, ${((w.sum / w.count) * 1000).toFixed(2)} ms each on average (pullsecret_operator_webhook_admission_duration_seconds).`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await plane.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
