/**
 * promtool and a real Prometheus for the monitoring tests: built from Go modules by
 * test/monitoring/build.sh (cached like helm), run headless on 127.0.0.1 with a data folder of the
 * test's own.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBuildScript } from './build-script.js';
import { freePort } from './kube.js';
import { REPO_ROOT } from './operator.js';

/** Runs test/monitoring/build.sh (a cold build takes minutes; progress on our stderr) and returns the binaries. */
export async function buildPrometheus(): Promise<{ promtool: string; prometheus: string }> {
  const dir = await runBuildScript(join(REPO_ROOT, 'test', 'monitoring', 'build.sh'));
  return { promtool: join(dir, 'promtool'), prometheus: join(dir, 'prometheus') };
}

export interface ToolResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function promtool(bin: string, args: string[]): ToolResult {
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** One query result of the HTTP API: a vector's samples (labels and value). */
export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface ActiveAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
}

export interface PrometheusServer {
  url: string;
  /** Instant query at the latest time; throws on an API error. */
  query(expr: string): Promise<{ result: Sample[]; warnings: string[] }>;
  alerts(): Promise<ActiveAlert[]>;
  /** The scrape targets' health (`up`, `down`, `unknown`) by scrape URL. */
  targets(): Promise<Map<string, string>>;
  /** Label values of `label` on series matching `match`. */
  labelValues(label: string, match: string): Promise<string[]>;
  /** Everything the server wrote, for a failing test's message. */
  log(): string;
  stop(): Promise<void>;
}

interface ApiAnswer<T> {
  status: 'success' | 'error';
  data: T;
  error?: string;
  errorType?: string;
  warnings?: string[];
}

/**
 * Starts Prometheus with `config` (YAML text; rule files are paths it names) and waits until it is
 * ready. Data in a temporary folder, removed by stop().
 */
export async function startPrometheus(bin: string, config: string): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'pso-prometheus-'));
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    bin,
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn', '--storage.tsdb.retention.time=1h'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const api = async <T>(path: string, params: Record<string, string> = {}): Promise<ApiAnswer<T>> => {
    const res = await fetch(`${url}${path}`, { method: 'POST', body: new URLSearchParams(params) });
    const body = (await res.json()) as ApiAnswer<T>;
    if (body.status !== 'success') throw new Error(`${path} ${JSON.stringify(params)}: ${body.errorType ?? ''} ${body.error ?? ''}`);
    return body;
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}:\n${log}`);
    try {
      if ((await fetch(`${url}/-/ready`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`prometheus not ready within 30 s:\n${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    async query(expr) {
      const a = await api<{ resultType: string; result: Sample[] }>('/api/v1/query', { query: expr });
      return { result: a.data.result, warnings: a.warnings ?? [] };
    },
    async alerts() {
      const res = await fetch(`${url}/api/v1/alerts`);
      return ((await res.json()) as ApiAnswer<{ alerts: ActiveAlert[] }>).data.alerts;
    },
    async targets() {
      const res = await fetch(`${url}/api/v1/targets?state=active`);
      const body = (await res.json()) as ApiAnswer<{ activeTargets: { scrapeUrl: string; health: string }[] }>;
      return new Map(body.data.activeTargets.map((t) => [t.scrapeUrl, t.health]));
    },
    async labelValues(label, match) {
      const res = await fetch(`${url}/api/v1/label/${encodeURIComponent(label)}/values?${new URLSearchParams({ 'match[]': match }).toString()}`);
      return ((await res.json()) as ApiAnswer<string[]>).data;
    },
    log: () => log,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
