/**
 * Runs one of the repository's build scripts (test/helm/build.sh, test/monitoring/build.sh): they
 * build from Go modules into a cache folder keyed by their inputs and print that folder last. A
 * cold build takes minutes; its progress goes to our stderr.
 */
import { spawn } from 'node:child_process';

export async function runBuildScript(script: string): Promise<string> {
  const child = spawn('bash', [script], { stdio: ['ignore', 'pipe', 'inherit'] });
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
