/**
 * `npm run cluster -- start --node | status | stop`: the CLI starts the plane with a real node
 * (detached, so that it outlives the command), describes it in node.json, and stop leaves no
 * process, container, mount or cgroup behind. Without --node it starts the plane alone.
 * Runs before node.test.ts (only one node fits on a machine: the kubelet's ports are fixed).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type ProcessRef, isRunning, repoRoot } from '../harness/control-plane.js';
import { type NodeInfo, nodeLeftovers } from '../harness/node.js';

const parent = mkdtempSync(join(tmpdir(), 'pso-cli-'));
const dir = join(parent, 'cluster');
const cli = (...args: string[]): { status: number | null; stdout: string; stderr: string } =>
  spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot(), 'test', 'harness', 'cli.ts'), ...args], {
    cwd: repoRoot(),
    encoding: 'utf8',
    env: { ...process.env, PSO_CLUSTER_DIR: dir },
    timeout: 600_000,
  });

interface State {
  kubeconfigPath: string;
  binDir: string;
  processes: ProcessRef[];
}
const state = (): State => JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as State;

after(() => {
  cli('stop');
  rmSync(parent, { recursive: true, force: true });
});

describe('npm run cluster', () => {
  it('start without --node starts the plane alone, as before', () => {
    const r = cli('start');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), join(dir, 'kubeconfig'));
    assert.deepEqual(state().processes.map((p) => p.name), ['etcd', 'kube-apiserver', 'kube-controller-manager']);
    assert.equal(existsSync(join(dir, 'node.json')), false);
  });

  let recorded: ProcessRef[] = [];
  let socket = '';
  it('start --node adds a Ready node and a registry with a private image, described in node.json', () => {
    const r = cli('start', '--node');
    assert.equal(r.status, 0, r.stderr);
    const kubeconfig = r.stdout.trim();
    const st = state();
    recorded = st.processes;
    assert.deepEqual(recorded.map((p) => p.name).sort(), ['containerd', 'etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'registry']);
    for (const p of recorded) {
      assert.ok(isRunning(p), `${p.name} runs`);
      assert.ok(Array.isArray(p.args) && p.args.length > 0, `${p.name}: its command line is recorded`);
    }
    const node = JSON.parse(readFileSync(join(dir, 'node.json'), 'utf8')) as NodeInfo;
    socket = node.containerdSocket;
    assert.match(node.registry, /^127\.0\.0\.1:\d+$/);
    assert.ok(node.username && node.password, 'credentials');
    assert.equal(node.privateImage, `${node.registry}/private/app:1`);
    const k = spawnSync(join(st.binDir, 'kubectl'), ['--kubeconfig', kubeconfig, 'get', 'node', node.nodeName, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'], { encoding: 'utf8' });
    assert.equal(k.stdout, 'True', k.stderr);
    const s = cli('status');
    assert.equal(s.status, 0);
    assert.match(s.stdout, /^running /);
  });

  it('stop leaves no process, container shim, mount or cgroup behind, and removes the folder', () => {
    const r = cli('stop');
    assert.equal(r.status, 0, r.stderr);
    for (const p of recorded) assert.equal(isRunning(p), false, `${p.name} (${p.pid}) stopped`);
    assert.deepEqual(nodeLeftovers(dir, socket), { shims: [], mounts: [], cgroups: [] });
    assert.equal(existsSync(dir), false);
    assert.equal(cli('status').status, 1);
  });
});
