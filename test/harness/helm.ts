/**
 * helm for the chart tests: built from Go modules by test/helm/build.sh (cached like the control
 * plane's binaries), run with its config, cache and data in a folder of the test's own so that
 * nothing of the user's helm setup is read or written.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBuildScript } from './build-script.js';
import { REPO_ROOT } from './operator.js';

export const CHART_DIR = join(REPO_ROOT, 'charts', 'pullsecret-operator');

/** Runs test/helm/build.sh (a cold build takes minutes; progress on our stderr) and returns the helm binary. */
export async function buildHelm(): Promise<string> {
  return join(await runBuildScript(join(REPO_ROOT, 'test', 'helm', 'build.sh')), 'helm');
}

export interface HelmResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** A helm bound to one kubeconfig and a private home. */
export class Helm {
  readonly #env: NodeJS.ProcessEnv;
  readonly #home: string;

  constructor(
    readonly bin: string,
    kubeconfig: string,
  ) {
    const home = mkdtempSync(join(tmpdir(), 'pso-helm-'));
    this.#home = home;
    this.#env = {
      PATH: process.env.PATH ?? '',
      HOME: home,
      KUBECONFIG: kubeconfig,
      HELM_CONFIG_HOME: join(home, 'config'),
      HELM_CACHE_HOME: join(home, 'cache'),
      HELM_DATA_HOME: join(home, 'data'),
    };
  }

  /** Removes helm's private home. */
  dispose(): void {
    rmSync(this.#home, { recursive: true, force: true });
  }

  run(args: string[]): HelmResult {
    const r = spawnSync(this.bin, args, { env: this.#env, encoding: 'utf8', timeout: 120_000, maxBuffer: 16 << 20 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** Runs and fails with helm's stderr unless it exits 0; returns stdout. */
  ok(args: string[]): string {
    const r = this.run(args);
    if (r.status !== 0) throw new Error(`helm ${args.join(' ')} exited ${String(r.status)}:\n${r.stderr}\n${r.stdout}`);
    return r.stdout;
  }
}
