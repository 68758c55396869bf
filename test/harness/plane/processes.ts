/**
 * The plane's processes: started with their logs in the plane's folder and recorded (name, pid,
 * binary, command line) in processes.json, so that another process (cli.ts) can find and stop them,
 * and a test can kill one and start it again as it was. No module-level mutable state.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A started process, enough to find, stop and start it again from another process. */
export interface ProcessRef {
  /** A plane component, or a node one (containerd, registry, kubelet, kube-scheduler). */
  name: string;
  pid: number;
  /** Absolute path of the binary; used to check a pid still belongs to us before signalling it. */
  bin: string;
  /** Its command line, so that it can be started again as it was. */
  args: string[];
  logPath: string;
}

export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((res, rej) => {
          const s = createServer();
          s.once('error', rej);
          s.listen(0, '127.0.0.1', () => res(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((res) => s.close(() => res()))));
  return ports;
}

export function logTail(path: string, lines = 25): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** True if pid is a live (non-zombie) process running `bin` (when /proc can tell). */
export function isRunning(ref: Pick<ProcessRef, 'pid' | 'bin'>): boolean {
  try {
    process.kill(ref.pid, 0);
  } catch {
    return false; // ESRCH: gone; EPERM: not ours
  }
  try {
    const stat = readFileSync(`/proc/${ref.pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    const argv0 = readFileSync(`/proc/${ref.pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
    return argv0 === ref.bin;
  } catch {
    // No /proc (not Linux) or the process just went away.
    return process.platform !== 'linux';
  }
}

/** Sends SIGKILL to every still-running process, synchronously (safe in a process 'exit' handler). */
export function killProcessesSync(refs: readonly Pick<ProcessRef, 'pid' | 'bin'>[]): void {
  for (const r of refs) {
    if (!isRunning(r)) continue;
    try {
      process.kill(r.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * SIGTERM in reverse order, SIGKILL whatever is left after graceMs, then wait until every
 * process is gone. Works for processes started by another Node process (pids from a file).
 */
export async function stopProcesses(
  refs: readonly ProcessRef[],
  log: (msg: string) => void = () => {},
  graceMs = 5000,
): Promise<void> {
  const signal = (r: ProcessRef, sig: NodeJS.Signals): void => {
    if (!isRunning(r)) return;
    try {
      process.kill(r.pid, sig);
    } catch {
      // already gone
    }
  };
  const waitGone = async (rs: readonly ProcessRef[], ms: number): Promise<ProcessRef[]> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const alive = rs.filter((r) => isRunning(r));
      if (alive.length === 0 || Date.now() >= deadline) return alive;
      await sleep(50);
    }
  };
  // One at a time, newest first: etcd waits for its clients' watch streams before it exits.
  for (const r of [...refs].reverse()) {
    if (!isRunning(r)) continue;
    const t = Date.now();
    signal(r, 'SIGTERM');
    if ((await waitGone([r], graceMs)).length === 0) {
      log(`control-plane: ${r.name} exited in ${Date.now() - t} ms`);
      continue;
    }
    log(`control-plane: ${r.name} (${r.pid}) ignored SIGTERM for ${graceMs} ms; SIGKILL`);
    signal(r, 'SIGKILL');
    if ((await waitGone([r], 5000)).length > 0) throw new Error(`${r.name} (${r.pid}) did not exit after SIGKILL`);
  }
  // Processes started detached by another (now gone) process end up as zombies until init
  // reaps them, which some inits do lazily. Give it a moment so nothing shows in `ps` after stop.
  const deadline = Date.now() + 3000;
  while (refs.some((r) => isZombie(r.pid)) && Date.now() < deadline) await sleep(50);
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}

/**
 * The processes one plane (and its node) started: spawned detached or not, with their output in a
 * log file, recorded in <dir>/processes.json after every spawn (so a crash of the caller still
 * leaves the pids on disk), and watched for an early exit while the plane waits for one of them.
 */
export class ProcessGroup {
  readonly processes: ProcessRef[] = [];
  readonly #dir: string;
  readonly #detached: boolean;
  readonly #signal: AbortSignal | undefined;
  readonly #exited = new Map<number, string>();

  constructor(dir: string, opts: { detached?: boolean | undefined; signal?: AbortSignal | undefined } = {}) {
    this.#dir = dir;
    this.#detached = opts.detached === true;
    this.#signal = opts.signal;
  }

  /** Starts `bin` with `args`, its output appended to `logPath`, and records it. */
  async launch(name: string, bin: string, args: string[]): Promise<ProcessRef> {
    const logPath = join(this.#dir, `${name}.log`);
    const ref = { name, pid: await this.#spawn(name, bin, args, logPath), bin, args, logPath };
    await this.record(ref);
    return ref;
  }

  /** Records a process started elsewhere (the node's). */
  async record(ref: ProcessRef): Promise<void> {
    this.processes.push(ref);
    await this.#save();
  }

  /** Starts a recorded process again from its own command line; resolves with its new pid. */
  async restart(name: string): Promise<number> {
    const i = this.processes.findIndex((p) => p.name === name);
    const ref = this.processes[i];
    if (!ref) throw new Error(`no process ${name}`);
    if (isRunning(ref)) throw new Error(`${name} (${ref.pid}) is still running`);
    const pid = await this.#spawn(name, ref.bin, ref.args, ref.logPath);
    this.processes[i] = { ...ref, pid };
    await this.#save();
    return pid;
  }

  /** Signals a recorded process and waits until it is gone. */
  async kill(name: string, sig: NodeJS.Signals): Promise<number> {
    const ref = this.processes.find((p) => p.name === name);
    if (!ref) throw new Error(`no process ${name}`);
    if (isRunning(ref)) process.kill(ref.pid, sig);
    const deadline = Date.now() + 20_000;
    while (isRunning(ref)) {
      if (Date.now() > deadline) throw new Error(`${name} (${ref.pid}) did not exit after ${sig}`);
      await sleep(20);
    }
    return ref.pid;
  }

  pid(name: string): number {
    return this.processes.find((p) => p.name === name)?.pid ?? -1;
  }

  /** Polls `check` until it holds; fails at once if one of the processes exited, with its log's tail. */
  async waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.#signal?.throwIfAborted();
      for (const p of this.processes) {
        const why = this.#exited.get(p.pid);
        if (why !== undefined) throw new Error(`${why} while waiting for ${what}; ${p.logPath}:\n${logTail(p.logPath)}`);
      }
      if (await check()) return;
      if (Date.now() > deadline) {
        const last = this.processes.at(-1);
        const tail = last ? `\n${last.logPath}:\n${logTail(last.logPath)}` : '';
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${tail}`);
      }
      await sleep(100);
    }
  }

  async #save(): Promise<void> {
    await writeFile(join(this.#dir, 'processes.json'), JSON.stringify(this.processes, null, 2));
  }

  async #spawn(name: string, bin: string, args: string[], logPath: string): Promise<number> {
    const fd = openSync(logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(bin, args, { cwd: this.#dir, stdio: ['ignore', fd, fd], detached: this.#detached, env: { ...process.env, KUBECONFIG: '' } });
    } finally {
      closeSync(fd);
    }
    const pid = child.pid;
    if (pid === undefined) {
      const err = await new Promise<Error>((res) => child.once('error', res));
      throw new Error(`failed to start ${name}: ${err.message}`);
    }
    child.on('error', () => {});
    child.once('exit', (code, sig) => this.#exited.set(pid, `${name} exited (code ${String(code)}, signal ${String(sig)})`));
    if (this.#detached) child.unref();
    return pid;
  }
}
