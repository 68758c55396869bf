/**
 * npm run test:matrix -- [--versions 1.34,1.37] [--parallel] [test files...]
 *
 * The integration suite on other Kubernetes versions than the default (whose run is `npm test`):
 * for each version, a control plane of that version (test/harness/with-cluster.ts with
 * PSO_KUBERNETES_VERSION) and node's test runner on MATRIX_FILES (or the files given). Each line of
 * a run's output is prefixed with its version. Exit code: 0 only if every version passed.
 *
 * The versions' binaries are built first, one version at a time (a cold build takes about 2 GB of
 * memory and both cores), then the suites run one after the other, or with --parallel two at once,
 * each on a plane of its own.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { repoRoot, runBuildScript } from './control-plane.js';
import { KUBERNETES_VERSION_ENV, kubernetesVersion } from './kubernetes-version.js';

/**
 * Left out of the matrix, with why; it runs on the default version in `npm test`.
 * faults.test.ts starts planes of its own, kills and restarts their processes, and waits out
 * timeouts: it is the longest file by far. What it proves is how the operator handles a failing
 * connection (resets, 429s, 500s, black holes, a restarted API server or etcd), which is the
 * operator's own code against the same HTTP behaviour on every version.
 * The chart test (helm.test.ts) stays in: it takes about 20 s, and the chart is what many admins
 * install, on whichever version their cluster runs.
 */
export const MATRIX_EXCLUDED = ['faults.test.ts'] as const;

/** The integration test files the matrix runs: all of test/integration but MATRIX_EXCLUDED. */
export function matrixFiles(): string[] {
  const dir = join(repoRoot(), 'test', 'integration');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.test.ts') && !(MATRIX_EXCLUDED as readonly string[]).includes(f))
    .sort()
    .map((f) => relative(repoRoot(), join(dir, f)));
}

interface RunResult {
  version: string;
  code: number;
  seconds: number;
  pass?: number;
  fail?: number;
}

/** One suite on one version; resolves once the run (plane included) is over. */
function runSuite(version: string, files: readonly string[]): Promise<RunResult> {
  const root = repoRoot();
  const t0 = Date.now();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(root, 'test', 'harness', 'with-cluster.ts'),
      process.execPath, '--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, [KUBERNETES_VERSION_ENV]: version } },
  );
  const counts: { pass?: number; fail?: number } = {};
  const prefix = `[${version}] `;
  for (const [stream, out] of [[child.stdout, process.stdout], [child.stderr, process.stderr]] as const) {
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
      const m = /^ℹ (pass|fail) (\d+)$/.exec(line);
      if (m) counts[m[1] as 'pass' | 'fail'] = Number(m[2]);
      out.write(`${prefix}${line}\n`);
    });
  }
  return new Promise((resolve) => {
    child.once('error', (err) => {
      console.error(`${prefix}cannot run the suite: ${err.message}`);
      resolve({ version, code: 127, seconds: 0 });
    });
    child.once('close', (code, sig) =>
      resolve({ version, code: code ?? (sig ? 128 : 1), seconds: Math.round((Date.now() - t0) / 1000), ...counts }),
    );
  });
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: { versions: { type: 'string', default: '1.34,1.37' }, parallel: { type: 'boolean', default: false } },
  });
  const versions = [...new Set(values.versions.split(',').map((v) => kubernetesVersion(v.trim())))];
  const files = positionals.length > 0 ? positionals : matrixFiles();
  console.log(`matrix: Kubernetes ${versions.join(', ')}${values.parallel ? ', in parallel' : ''}; ${files.length} files`);

  for (const v of versions) {
    const t = Date.now();
    const dir = await runBuildScript(join(repoRoot(), 'test', 'control-plane', 'build.sh'), [], undefined, v);
    console.log(`matrix: ${v} binaries ready in ${Math.round((Date.now() - t) / 1000)} s (${dir})`);
  }

  const results = values.parallel
    ? await Promise.all(versions.map((v) => runSuite(v, files)))
    : await versions.reduce<Promise<RunResult[]>>(async (acc, v) => [...(await acc), await runSuite(v, files)], Promise.resolve([]));

  for (const r of results) {
    const tests = r.pass !== undefined ? `, ${r.pass} passed, ${r.fail ?? 0} failed` : '';
    console.log(`matrix: Kubernetes ${r.version}: ${r.code === 0 ? 'ok' : `FAILED (exit code ${r.code})`} in ${r.seconds} s${tests}`);
  }
  return results.every((r) => r.code === 0) ? 0 : 1;
}

process.exit(await main());
