/**
 * The container image, checked without Docker: the Dockerfile's paths, user and entry point
 * against the real layout, the build context that .dockerignore leaves, and the runtime stage
 * reproduced in a temporary folder (npm run build, then the bundle alone) whose entry point must
 * run with no node_modules at all.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { uniqueName } from '../harness/kube.js';
import { REPO_ROOT } from '../harness/operator.js';

const run = promisify(execFile);

interface Pkg {
  name: string;
  version: string;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as Pkg;
const BIN = Object.values(pkg.bin)[0] ?? '';

// ---------------------------------------------------------------------------------------------
// A small Dockerfile reader: stages with their instructions, ARG defaults substituted.

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  image: string;
  name: string | undefined;
  steps: Instruction[];
}

function readDockerfile(): Stage[] {
  const text = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
  const lines = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of lines) {
    const [op = '', ...rest] = line.split(/\s+/);
    const argText = rest.join(' ').replace(/\$\{(\w+)\}|\$(\w+)/g, (m, a: string | undefined, b: string | undefined) => args.get(a ?? b ?? '') ?? m);
    const OP = op.toUpperCase();
    if (OP === 'ARG') {
      const [k = '', v = ''] = argText.split('=');
      if (v) args.set(k, v);
    } else if (OP === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(argText);
      stages.push({ image: m?.[1] ?? '', name: m?.[2], steps: [] });
    } else {
      stages[stages.length - 1]?.steps.push({ op: OP, args: argText });
    }
  }
  return stages;
}

/** Where each COPY of a stage comes from and goes to (absolute in the image). */
function copies(stage: Stage): { from: string | undefined; sources: string[]; dest: string }[] {
  let workdir = '/';
  const out: { from: string | undefined; sources: string[]; dest: string }[] = [];
  for (const s of stage.steps) {
    if (s.op === 'WORKDIR') workdir = posix.resolve(workdir, s.args);
    if (s.op !== 'COPY') continue;
    const words = s.args.split(/\s+/);
    const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
    const paths = words.filter((w) => !w.startsWith('--'));
    const dest = posix.resolve(workdir, paths[paths.length - 1] ?? '');
    out.push({ from, sources: paths.slice(0, -1), dest });
  }
  return out;
}

function workdirOf(stage: Stage): string {
  return stage.steps.filter((s) => s.op === 'WORKDIR').reduce((w, s) => posix.resolve(w, s.args), '/');
}

// ---------------------------------------------------------------------------------------------
// .dockerignore as Docker applies it: the last matching pattern wins; a pattern matching a
// parent directory matches everything below it.

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] ?? '';
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function dockerignore(): (path: string) => boolean {
  const patterns = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const p = posix.normalize((negate ? l.slice(1) : l).replace(/^\/+/, '')).replace(/\/+$/, '');
      return { negate, re: globToRegExp(p) };
    });
  /** Whether `path` (relative to the context) is left out of the build context. */
  return (path: string) => {
    const parts = posix.normalize(path).replace(/\/+$/, '').split('/');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const p of patterns) if (prefixes.some((x) => p.re.test(x))) excluded = !p.negate;
    return excluded;
  };
}

const stages = readDockerfile();
const build = stages[0] as Stage;
const runtime = stages[stages.length - 1] as Stage;

describe('Dockerfile', () => {
  it('has a build stage and a runtime stage, both on a Node LTS image', () => {
    assert.ok(stages.length >= 2, 'multi-stage');
    for (const s of stages) {
      const m = /^(?:docker\.io\/library\/)?node:(\d+)[-.\w]*-slim(?:@sha256:[0-9a-f]{64})?$|^gcr\.io\/distroless\/nodejs(\d+)-debian\d+(?::[\w-]+)?(?:@sha256:[0-9a-f]{64})?$/.exec(s.image);
      assert.ok(m, `${s.image}: a node slim or distroless nodejs image`);
      const major = Number(m[1] ?? m[2]);
      assert.ok(major >= 22 && major % 2 === 0, `${s.image}: an LTS line (even major, 22 or later)`);
    }
  });

  it('builds with all dependencies: npm ci, then npm run build', () => {
    const runs = build.steps.filter((s) => s.op === 'RUN').map((s) => s.args);
    assert.ok(runs.some((r) => /\bnpm ci\b/.test(r) && !/--omit=dev/.test(r)), 'npm ci with devDependencies');
    assert.ok(runs.some((r) => /\bnpm run build\b/.test(r)), 'npm run build');
  });

  it('runs as a numeric non-root user, NODE_ENV=production, with no npm install: the package.json bin as entry point', () => {
    const user = runtime.steps.filter((s) => s.op === 'USER').pop()?.args ?? '';
    assert.match(user, /^\d+(:\d+)?$/, 'numeric USER (Kubernetes can then check runAsNonRoot)');
    assert.ok(user.split(':').every((x) => Number(x) > 0), 'not root');
    assert.ok(runtime.steps.some((s) => s.op === 'ENV' && /\bNODE_ENV=production\b/.test(s.args)));
    const runs = runtime.steps.filter((s) => s.op === 'RUN').map((s) => s.args);
    assert.deepEqual(runs, [], 'the runtime stage installs nothing: the bundle holds the dependencies');
    const entry = JSON.parse(runtime.steps.filter((s) => s.op === 'ENTRYPOINT').pop()?.args ?? 'null') as string[];
    assert.deepEqual(entry, ['node', BIN]);
    assert.equal(BIN, 'dist/pullsecret-operator.mjs');
  });

  it('copies into the runtime stage only the bundle (and its license notices) from the build stage, to where the entry point is', () => {
    const wd = workdirOf(runtime);
    const all = copies(runtime);
    assert.ok(all.length > 0);
    for (const c of all) {
      assert.equal(c.from, build.name, 'from the build stage, nothing from the context');
      for (const src of c.sources) assert.match(posix.relative(workdirOf(build), posix.resolve(workdirOf(build), src)), /^dist\/pullsecret-operator\.mjs(\.LEGAL\.txt)?$/, `${src}: only the bundle`);
    }
    const entry = posix.resolve(wd, BIN);
    assert.ok(all.some((c) => posix.resolve(c.dest, posix.basename(entry)) === entry), `${entry} comes from the build stage`);
  });

  it('copies from the context only files that exist and that .dockerignore lets in', () => {
    const ignored = dockerignore();
    for (const stage of stages) {
      for (const c of copies(stage).filter((x) => x.from === undefined)) {
        for (const src of c.sources) {
          assert.ok(existsSync(join(REPO_ROOT, src)), `${src} exists`);
          assert.equal(ignored(src), false, `${src} is in the build context`);
        }
      }
    }
  });
});

describe('.dockerignore', () => {
  it('keeps node_modules, dist, the test cluster, git, tests and local secrets out of the build context', () => {
    const ignored = dockerignore();
    for (const p of ['node_modules', 'node_modules/typescript/package.json', 'dist/pullsecret-operator.mjs', 'scripts/run.ts', '.cluster/pki/ca.key', '.git/config', 'test/integration/rbac.test.ts', 'manifests/deployment.yaml', 'kubeconfig', '.env', 'Dockerfile']) {
      assert.equal(ignored(p), true, p);
    }
    for (const p of ['package.json', 'package-lock.json', 'tsconfig.json', 'scripts/build.ts', 'src/main.ts', 'src/kube/client.ts']) assert.equal(ignored(p), false, p);
  });
});

describe('the runtime stage, reproduced without Docker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pso-image-'));
  const node = (args: string[], env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> =>
    run(process.execPath, [BIN, ...args], { cwd: dir, env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', ...env }, timeout: 60000 });

  before(async () => {
    // The build stage: npm run build; the runtime stage: the bundle alone in an empty folder.
    await run('npm', ['run', 'build'], { cwd: REPO_ROOT, timeout: 180000 });
    mkdirSync(join(dir, 'dist'));
    cpSync(join(REPO_ROOT, BIN), join(dir, BIN));
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('has nothing but the entry point: no node_modules, no package.json', () => {
    assert.deepEqual(readdirSync(dir, { recursive: true }).sort(), ['dist', BIN].sort());
  });

  it('prints the package.json version with --version (written into the bundle)', async () => {
    const { stdout } = await node(['--version']);
    assert.equal(stdout, `pullsecret-operator ${pkg.version}\n`);
  });

  it('prints the usage with --help', async () => {
    const { stdout } = await node(['--help']);
    assert.match(stdout, /^Usage: pullsecret-operator \[run\|cleanup\] \[flags\]/);
    assert.match(stdout, /--source-namespace/);
  });

  it('bundles no devDependency (typescript, eslint, ...)', () => {
    const text = readFileSync(join(dir, BIN), 'utf8');
    for (const d of ['typescript', 'eslint', 'typescript-eslint', 'esbuild']) assert.equal(text.includes(`node_modules/${d}/`), false, `${d} is not in the bundle`);
  });

  it('talks to a real API server from the bundle alone (--once --dry-run, writes nothing)', async () => {
    const kubeconfig = process.env.PSO_TEST_KUBECONFIG;
    assert.ok(kubeconfig, 'PSO_TEST_KUBECONFIG: run under test/harness/with-cluster.ts');
    const none = uniqueName('pso-image');
    const { stdout } = await node(['--once', '--dry-run', '--kubeconfig', kubeconfig, '--source-namespace', none, '--namespace-selector', `pso-image=${none}`, '--http-address', '']);
    assert.match(stdout, /\b0 writes planned \(dry run\), 0 with problems/);
  });
});
