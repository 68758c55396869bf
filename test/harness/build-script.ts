/**
 * Runs one of the repository's build scripts (test/control-plane/build.sh, test/node/build.sh,
 * test/helm/build.sh, test/monitoring/build.sh): they build from Go modules into a cache folder
 * keyed by their inputs and print that folder last. A cold build takes minutes; its progress goes
 * to our stderr. `version` picks the Kubernetes version of test/control-plane/build.sh.
 */
import { spawn } from 'node:child_process';
import { KUBERNETES_VERSION_ENV } from './kubernetes-version.js';

export async function runBuildScript(script: string, args: string[] = [], signal?: AbortSignal, version?: string): Promise<string> {
  const env = version === undefined ? process.env : { ...process.env, [KUBERNETES_VERSION_ENV]: version };
  const child = spawn('bash', [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'], signal, env });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => (out += d));
  const code = await new Promise<number | null>((res, rej) => {
    child.on('error', rej);
    child.on('close', res);
  });
  if (code !== 0) throw new Error(`${script} failed with exit code ${String(code)}`);
  const dir = out.trim().split('\n').pop()?.trim() ?? '';
  if (!dir) throw new Error(`${script} printed no folder`);
  return dir;
}
