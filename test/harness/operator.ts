/**
 * Runs the operator as a real process, as an admin would run the binary, and collects its JSON log
 * lines: src/main.ts through tsx, or the compiled bundle (npm run build) that the image ships.
 * The tests, `npm start` and the benchmarks launch it here.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface LogLine {
  level: string;
  message: string;
  [field: string]: unknown;
}

export interface OperatorProcess {
  child: ChildProcess;
  /** Parsed JSON log lines so far. */
  logs: LogLine[];
  /** Everything written to stderr and stdout, verbatim. */
  stderr(): string;
  stdout(): string;
  /** The port of /healthz, /readyz, /metrics (when started with an HTTP address). */
  httpPort: number | undefined;
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs?: number, what?: string): Promise<LogLine>;
  /** Sends a signal and resolves with the exit code and how long the exit took. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartOptions {
  kubeconfig: string;
  args?: string[];
  env?: Record<string, string>;
  /** Wait for the caches to sync (default true, unless --once is among the args). */
  waitSynced?: boolean;
  /** Node flags before the entry point (after --import tsx), e.g. another --import. */
  nodeArgs?: string[];
  /** Run the compiled bundle (package.json's bin; build it first with npm run build) instead of src/main.ts. */
  bundle?: boolean;
  /** Called with each log line as it arrives (before the waiters hear of it). */
  onLog?: (l: LogLine) => void;
}

/** The compiled bundle: package.json's bin. */
export function bundlePath(): string {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  return join(REPO_ROOT, Object.values(pkg.bin)[0] ?? '');
}

/**
 * How long start-up (load, HTTP port, first sync) may take before startOperator gives up. Usually
 * 1 to 3 s; 20 s was not enough on a machine at load average 20 to 25 (tsx compiles src/ at every
 * start). A deadline for a precondition only: no test asserts start-up time through it.
 */
const STARTUP_DEADLINE_MS = 60_000;

export async function startOperator(opts: StartOptions): Promise<OperatorProcess> {
  const args = opts.args ?? [];
  const entry = opts.bundle ? [...(opts.nodeArgs ?? []), bundlePath()] : ['--import', 'tsx', ...(opts.nodeArgs ?? []), join(REPO_ROOT, 'src', 'main.ts')];
  const child = spawn(process.execPath, [...entry, ...args], {
    cwd: REPO_ROOT,
    // The credential check is off unless a test turns it on (--verify-credentials, or this variable):
    // the fixtures name real icr.io hosts, and no test traffic may leave the loopback addresses.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KUBECONFIG: opts.kubeconfig, PSO_HTTP_ADDRESS: '127.0.0.1:0', PSO_VERIFY_CREDENTIALS: 'false', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  let out = '';
  let partial = '';
  const logs: LogLine[] = [];
  const waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => {
    const text = d.toString();
    err += text;
    partial += text;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      let parsed: LogLine;
      try {
        parsed = JSON.parse(line) as LogLine;
      } catch {
        continue;
      }
      logs.push(parsed);
      opts.onLog?.(parsed);
      for (const w of [...waiters]) {
        if (w.pred(parsed)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(parsed);
        }
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const proc: OperatorProcess = {
    child,
    logs,
    stderr: () => err,
    stdout: () => out,
    httpPort: undefined,
    waitForLog(pred, timeoutMs = 20000, what = 'a log line') {
      const found = logs.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve: (l: LogLine) => (clearTimeout(t), resolve(l)) };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`timed out waiting for ${what}; operator stderr tail:\n${err.slice(-3000)}`));
        }, timeoutMs);
        waiters.push(w);
        void exited.then(({ code, signal }) => {
          if (waiters.includes(w)) {
            clearTimeout(t);
            waiters.splice(waiters.indexOf(w), 1);
            reject(new Error(`operator exited (${code ?? signal}) while waiting for ${what}; stderr tail:\n${err.slice(-3000)}`));
          }
        });
      });
    },
    async stop(signal = 'SIGTERM') {
      const started = Date.now();
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const r = await exited;
      return { ...r, ms: Date.now() - started };
    },
    exited,
  };
  const once = args.includes('--once') || args.includes('cleanup') || args.includes('status');
  try {
    if (!once && args.some((a) => a.startsWith('--http-address')) === false) {
      const l = await proc.waitForLog((x) => x.message === 'http server listening', STARTUP_DEADLINE_MS, 'the http server');
      proc.httpPort = Number(l['port']);
    }
    if (opts.waitSynced ?? !once) await proc.waitForLog((x) => x.message === 'caches synced; reconciling', STARTUP_DEADLINE_MS, 'caches to sync');
  } catch (err) {
    // The caller never gets the process, so nobody else can stop it: a live child (and its pipes)
    // would keep the test file from ever finishing.
    await proc.stop('SIGKILL');
    throw err;
  }
  return proc;
}

/**
 * An operator process restarted whenever it exits, as the kubelet restarts a Deployment's container
 * (restartPolicy Always): the first restart at once, then after 10 s doubling up to 5 minutes
 * (CrashLoopBackOff). A leader that loses its Lease exits 1 by design; in a cluster the kubelet
 * starts it again as a standby, and so does this.
 */
export interface SupervisedOperator {
  /** The process running now (the last one started). */
  readonly current: OperatorProcess;
  /** Every exit so far and when; each was followed by a restart (unless stop() was called). */
  readonly exits: readonly { code: number | null; signal: NodeJS.Signals | null; at: number }[];
  /** The log lines of every run so far, in order. */
  readonly logs: LogLine[];
  stderr(): string;
  readonly httpPort: number | undefined;
  /** Waits for a line in any run, this one or a later one. */
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs?: number, what?: string): Promise<LogLine>;
  /** Stops supervising and stops the current process. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startSupervised(opts: StartOptions): Promise<SupervisedOperator> {
  const runs: OperatorProcess[] = [await startOperator(opts)];
  const exits: { code: number | null; signal: NodeJS.Signals | null; at: number }[] = [];
  const logs: LogLine[] = [];
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const watch = (p: OperatorProcess): void => {
    void p.exited.then(({ code, signal }) => {
      logs.push(...p.logs);
      exits.push({ code, signal, at: Date.now() });
      if (stopped) return;
      const delay = exits.length === 1 ? 0 : Math.min(300_000, 10_000 * 2 ** (exits.length - 2));
      timer = setTimeout(() => {
        if (stopped) return;
        void startOperator({ ...opts, waitSynced: false }).then((next) => {
          runs.push(next);
          watch(next);
        });
      }, delay);
    });
  };
  watch(runs[0] as OperatorProcess);
  const current = (): OperatorProcess => runs[runs.length - 1] as OperatorProcess;
  const all = (): LogLine[] => [...logs, ...(exits.length < runs.length ? current().logs : [])];
  return {
    get current() {
      return current();
    },
    exits,
    get logs() {
      return all();
    },
    stderr: () => runs.map((r) => r.stderr()).join(''),
    get httpPort() {
      return current().httpPort;
    },
    async waitForLog(pred, timeoutMs = 20000, what = 'a log line') {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = all().find(pred);
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stderr tail:\n${current().stderr().slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop(signal = 'SIGTERM') {
      stopped = true;
      if (timer) clearTimeout(timer);
      await current().stop(signal);
    },
  };
}
