/**
 * podman as these machines need it (docs/development/image-and-node.md, "The image test"): the runc runtime with ulimits below
 * the host's hard limits (crun fails here with `setrlimit RLIMIT_NOFILE: Operation not permitted`),
 * and host networking for builds and runs, so a container reaches the local control plane on
 * 127.0.0.1.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LogLine } from '../harness/operator.js';

const run = promisify(execFile);

/** A containers.conf for podman: runc, and ulimits the host allows. */
export function writeContainersConf(dir: string): string {
  const path = join(dir, 'containers.conf');
  writeFileSync(path, ['[containers]', 'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]', '[engine]', 'runtime = "runc"', ''].join('\n'));
  return path;
}

export class Podman {
  readonly #env: NodeJS.ProcessEnv;

  constructor(containersConf: string) {
    this.#env = { ...process.env, CONTAINERS_CONF: containersConf };
  }

  /** Runs `podman args...` and returns its stdout; throws with stderr on failure. */
  async run(args: string[], timeoutMs = 600_000): Promise<string> {
    try {
      const { stdout } = await run('podman', args, { env: this.#env, timeout: timeoutMs, maxBuffer: 64 << 20 });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`podman ${args.join(' ')}: ${e.message}\n${(e.stderr ?? '').slice(-4000)}`, { cause: err });
    }
  }

  /** Like run, but resolves with the exit code and both outputs instead of throwing. */
  async exec(args: string[], timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile('podman', args, { env: this.#env, timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr });
      });
    });
  }

  spawn(args: string[]): ChildProcess {
    return spawn('podman', args, { env: this.#env, stdio: ['ignore', 'pipe', 'pipe'] });
  }

  async imageSize(ref: string): Promise<number> {
    return Number((await this.run(['image', 'inspect', ref, '--format', '{{.Size}}'])).trim());
  }
}

/** A `podman run` in the foreground, its JSON log lines parsed as they arrive. */
export class Container {
  readonly logs: { at: number; line: LogLine }[] = [];
  readonly exited: Promise<{ code: number | null; at: number }>;
  readonly startedAt = Date.now();
  readonly child: ChildProcess;
  #stderr = '';
  #stdout = '';

  constructor(podman: Podman, args: string[]) {
    this.child = podman.spawn(args);
    let partial = '';
    this.child.stdout?.on('data', (d: Buffer) => (this.#stdout += d.toString()));
    this.child.stderr?.on('data', (d: Buffer) => {
      const text = d.toString();
      this.#stderr += text;
      partial += text;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) {
        try {
          this.logs.push({ at: Date.now(), line: JSON.parse(l) as LogLine });
        } catch {
          // not a log line (podman's own messages)
        }
      }
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve({ code, at: Date.now() })));
  }

  stderr(): string {
    return this.#stderr;
  }

  stdout(): string {
    return this.#stdout;
  }

  /** The first log line matching `pred`, with the time it arrived; fails if the container exits first. */
  async waitForLog(pred: (l: LogLine) => boolean, what: string, timeoutMs = 30_000): Promise<{ at: number; line: LogLine }> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    for (;;) {
      const found = this.logs.find((l) => pred(l.line));
      if (found) return found;
      if (exited) throw new Error(`container exited while waiting for ${what}; stderr tail:\n${this.#stderr.slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stderr tail:\n${this.#stderr.slice(-3000)}`);
      await sleep(20);
    }
  }
}
