/**
 * npm run cluster -- start [--node] [--kubernetes-version V]|stop|status
 *
 * start:  starts a detached control plane in <repo>/.cluster, prints the kubeconfig path
 *         (the only stdout line). Prints the same path if one of that version is already running.
 *         --node also starts a real node (test/harness/node.ts) and writes .cluster/node.json.
 *         --kubernetes-version (1.34.4, v1.34.4 or 1.34; else $PSO_KUBERNETES_VERSION, else the
 *         default, test/control-plane/K8S_VERSION) picks the version of the plane and the node.
 * stop:   stops the processes recorded in .cluster/state.json, then removes what a node leaves
 *         (container shims, mounts, cgroups) and .cluster/.
 * status: prints "running <kubeconfig> (Kubernetes <version>)" (exit 0) or "stopped" (exit 1);
 *         the version is the one the API server reports at /version.
 */
import { existsSync, readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { COMPONENTS, isReady, isRunning, repoRoot, serverVersion, startControlPlane, stopProcesses } from './control-plane.js';
import type { ControlPlane, ProcessRef } from './control-plane.js';
import { kubernetesVersion } from './kubernetes-version.js';
import { cleanUpNode, readNodeInfo } from './node.js';

type State = Omit<ControlPlane, 'stop'> & { startedAt: string };

/** <repo>/.cluster, or PSO_CLUSTER_DIR (the tests of this CLI use a folder of their own). */
const clusterDir = process.env.PSO_CLUSTER_DIR ?? join(repoRoot(), '.cluster');
const statePath = join(clusterDir, 'state.json');
const log = (msg: string): void => console.error(msg);

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function isProcessRef(v: unknown): v is ProcessRef {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    typeof r.pid === 'number' &&
    typeof r.bin === 'string' &&
    typeof r.name === 'string'
  );
}

function readState(): State | undefined {
  const s = readJson(statePath);
  if (typeof s !== 'object' || s === null) return undefined;
  const st = s as Partial<State>;
  if (typeof st.kubeconfigPath !== 'string' || !Array.isArray(st.processes)) return undefined;
  return s as State;
}

/** Every process we may have started: state.json, plus processes.json (written during startup). */
function recordedProcesses(): ProcessRef[] {
  const during = readJson(join(clusterDir, 'processes.json'));
  const all: unknown[] = [...(readState()?.processes ?? []), ...(Array.isArray(during) ? (during as unknown[]) : [])];
  const byPid = new Map<number, ProcessRef>();
  for (const p of all) if (isProcessRef(p)) byPid.set(p.pid, p);
  // Start order: the plane's components first, then the node's, as they were recorded.
  const order = (n: string): number => ((COMPONENTS as readonly string[]).includes(n) ? (COMPONENTS as readonly string[]).indexOf(n) : COMPONENTS.length);
  return [...byPid.values()].sort((a, b) => order(a.name) - order(b.name));
}

async function stop(): Promise<void> {
  const procs = recordedProcesses().filter((p) => isRunning(p));
  await stopProcesses(procs, log);
  const node = readNodeInfo(clusterDir);
  if (node) await cleanUpNode(join(clusterDir, 'node'), node.containerdSocket);
  await rm(clusterDir, { recursive: true, force: true });
  log(`cluster: stopped ${procs.length} running process(es), removed ${clusterDir}`);
}

async function running(): Promise<State | undefined> {
  const st = readState();
  if (!st || !existsSync(st.kubeconfigPath)) return undefined;
  if (st.processes.length < COMPONENTS.length || !st.processes.every((p) => isRunning(p))) return undefined;
  return (await isReady(st)) ? st : undefined;
}

async function start(withNode: boolean, askedVersion: string | undefined): Promise<number> {
  let version: string;
  try {
    version = kubernetesVersion(askedVersion);
  } catch (err) {
    log(`cluster: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  const current = await running();
  if (current && (!withNode || current.node) && current.kubernetesVersion === version) {
    console.log(current.kubeconfigPath);
    return 0;
  }
  // Leftovers of a dead or half-started plane (or a plane without the node, or of another version).
  await stop();

  const abort = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => abort.abort(new Error(`interrupted by ${sig}`));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const { stop: _stop, ...plane } = await startControlPlane({
      dir: clusterDir,
      detached: true,
      log,
      signal: abort.signal,
      node: withNode,
      kubernetesVersion: version,
    });
    const state: State = { ...plane, startedAt: new Date().toISOString() };
    await writeFile(statePath, `${JSON.stringify(state, null, 2)}\n`);
    console.log(plane.kubeconfigPath);
    return 0;
  } catch (err) {
    log(`cluster: start failed: ${err instanceof Error ? err.message : String(err)}`);
    log(`cluster: logs in ${clusterDir}`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

const USAGE = 'usage: npm run cluster -- start [--node] [--kubernetes-version 1.MINOR[.PATCH]]|stop|status';

async function main(cmd: string | undefined): Promise<number> {
  switch (cmd) {
    case 'start': {
      let values: { node?: boolean; 'kubernetes-version'?: string };
      try {
        ({ values } = parseArgs({
          args: process.argv.slice(3),
          options: { node: { type: 'boolean' }, 'kubernetes-version': { type: 'string' } },
        }));
      } catch (err) {
        console.error(`cluster: ${err instanceof Error ? err.message : String(err)}`);
        console.error(USAGE);
        return 2;
      }
      return start(values.node === true, values['kubernetes-version']);
    }
    case 'stop':
      await stop();
      return 0;
    case 'status': {
      const st = await running();
      if (!st) {
        console.log('stopped');
        return 1;
      }
      console.log(`running ${st.kubeconfigPath} (Kubernetes ${(await serverVersion(st)) ?? `${st.kubernetesVersion}, /version unanswered`})`);
      return 0;
    }
    default:
      console.error(USAGE);
      return 2;
  }
}

process.exit(await main(process.argv[2]));
