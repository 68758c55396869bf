/**
 * The CLI: --help, --once, --dry-run, and the cleanup command.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT, startOperator } from '../harness/operator.js';
import { Scenario, fixtureCopies } from '../harness/scenario.js';

describe('command line', () => {
  const s = new Scenario('cli');
  let a = '';
  let b = '';

  before(async () => {
    await s.setUp();
    a = await s.namespace('a');
    b = await s.namespace('b');
    await s.core.createNamespacedServiceAccount({ namespace: b, body: { metadata: { name: 'ci' }, imagePullSecrets: [{ name: 'users-own' }] } });
    await s.waitFor('default ServiceAccounts', async () => (await s.serviceAccount(a)) && (await s.serviceAccount(b)));
  });

  after(() => s.tearDown());

  const run = (args: string[]): Promise<{ code: number | null; out: string; err: string }> =>
    startOperator({ kubeconfig: s.kubeconfigPath, args: s.args(args), waitSynced: false }).then(async (op) => {
      const { code } = await op.exited;
      return { code, out: op.stdout(), err: op.stderr() };
    });

  it('--help lists every flag with its environment variable and default', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src', 'main.ts'), '--help'], { cwd: REPO_ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0);
    for (const text of ['--source-namespace', 'PSO_SOURCE_NAMESPACE', '--orphan-grace', '(default: 10m)', '--resync-period', '--dry-run', '--once', '--log-level']) {
      assert.ok(r.stdout.includes(text), `--help mentions ${text}`);
    }
  });

  it('refuses a duration outside its range at start, with exit 2 and the range: a timer of Node would turn 1000h into 1 ms', () => {
    for (const [flag, value, range] of [
      ['--resync-period', '1000h', '1s to 24h'],
      ['--sync-timeout', '600h', '1s to 24h'],
      ['--orphan-grace', '8000h', '0s to 168h'],
    ] as const) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src', 'main.ts'), flag, value], { cwd: REPO_ROOT, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', KUBECONFIG: '/nonexistent' }, timeout: 30_000 });
      assert.equal(r.status, 2, `${flag} ${value}: ${r.stderr}`);
      assert.ok(r.stderr.includes(`${flag}: ${value} is out of range (${range})`), r.stderr);
    }
  });

  it('--dry-run --once logs the plan, writes nothing, and exits 1 because work is pending', async () => {
    // What the operator could write: ServiceAccounts and secrets of the scenario's namespaces, Events.
    // (The API server's global write counter would also count other tests' namespace deletions.)
    const state = async (): Promise<string[]> => {
      const out: string[] = [];
      for (const ns of [a, b, s.source]) {
        for (const sa of (await s.core.listNamespacedServiceAccount({ namespace: ns })).items) out.push(`sa ${ns}/${sa.metadata?.name}@${sa.metadata?.resourceVersion}`);
        for (const sec of (await s.core.listNamespacedSecret({ namespace: ns })).items) out.push(`secret ${ns}/${sec.metadata?.name}@${sec.metadata?.resourceVersion}`);
      }
      for (const e of (await s.core.listEventForAllNamespaces()).items) if (e.source?.component === 'pullsecret-operator') out.push(`event ${e.metadata?.namespace}/${e.metadata?.name}`);
      return out.sort();
    };
    const before = await state();
    const r = await run(['--once', '--dry-run']);
    assert.equal(r.code, 1, r.err.slice(-2000));
    assert.deepEqual(await state(), before, 'nothing written');
    assert.deepEqual(await s.copies(a), []);
    assert.ok(r.err.includes('dry run: would write secret'));
    assert.ok(r.out.includes(a) && r.out.includes('WRITES (PLANNED)'), r.out);
  });

  it('--once reconciles everything once, prints a summary table and exits 0', async () => {
    const r = await run(['--once']);
    assert.equal(r.code, 0, r.err.slice(-2000));
    assert.deepEqual(await s.copies(a), fixtureCopies(a));
    assert.equal((await s.pullSecretNames(b, 'ci'))[0], 'users-own');
    assert.match(r.out, /NAMESPACE\s+STATE\s+COPIES/);
    const row = r.out.split('\n').find((l) => l.startsWith(`${a} `)) ?? '';
    assert.match(row, /\btarget\b.*\b6\b.*\bdefault\b/, `row of ${a}: target, 5 copies + 1 ServiceAccount patch = 6 writes, default patched`);
    const again = await run(['--once', '--dry-run']);
    assert.equal(again.code, 0, 'in sync: a dry run finds nothing to do');
  });

  it('cleanup removes every copy and every entry the operator added, and nothing else', async () => {
    const r = await run(['cleanup']);
    assert.equal(r.code, 0, r.err.slice(-2000));
    for (const ns of [a, b]) {
      assert.deepEqual(await s.copies(ns), []);
      assert.deepEqual(await s.pullSecretNames(ns), []);
    }
    assert.deepEqual(await s.pullSecretNames(b, 'ci'), ['users-own'], "the user's own entry stays");
    assert.ok((await s.secret(s.source, 'all-icr-io')) !== undefined, 'sources stay');
    assert.equal((await s.serviceAccount(b, 'ci'))?.metadata?.annotations?.['pullsecret-operator.io/added-pull-secrets'], undefined);
  });
});
