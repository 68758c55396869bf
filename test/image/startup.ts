/**
 * Usage: npx tsx test/harness/with-cluster.ts npx tsx test/image/startup.ts [--runs N] IMAGE...
 *
 * Start-up of operator images, as the image test measures it: each image started N times (runs
 * interleaved, default 5) as the Deployment runs it, against the local control plane, with two
 * target namespaces and the IBM fixture secrets; prints the median time from `podman run` to the
 * first log line, to the Lease with synced caches, and to the end of the first reconcile. Used to
 * compare the bundled image with the earlier node_modules layout (docs/benchmarks/2026-12-01-image.md).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { Scenario } from '../harness/scenario.js';
import { Podman, writeContainersConf } from './podman.js';
import { ImageRunner, type StartUp } from './runner.js';

const argv = process.argv.slice(2);
const runsAt = argv.indexOf('--runs');
const runs = runsAt >= 0 ? Number(argv.splice(runsAt, 2)[1]) : 5;
const images = argv;
if (images.length === 0 || !(runs > 0)) {
  console.error('usage: startup.ts [--runs N] IMAGE...');
  process.exit(2);
}

const tmp = mkdtempSync(join(tmpdir(), 'pso-startup-'));
const podman = new Podman(writeContainersConf(tmp));
const s = new Scenario('startup');
const admin = new KubeConfig();
admin.loadFromFile(s.kubeconfigPath);
const runner = new ImageRunner(podman, s, admin, tmp);
const results = new Map<string, StartUp[]>(images.map((i) => [i, []]));
try {
  await runner.setUp();
  await s.setUp();
  await s.namespace('a');
  await s.namespace('b');
  for (let r = 0; r < runs; r++) {
    for (const image of images) {
      const name = `${s.id}-${r}`;
      const c = runner.start(image, name);
      try {
        results.get(image)?.push(await runner.startUp(c));
        const exit = await runner.stop(c, name);
        if (exit.code !== 0) throw new Error(`${image}: exit ${exit.code} on SIGTERM`);
      } finally {
        if (c.child.exitCode === null) c.child.kill('SIGKILL');
        await podman.exec(['rm', '--force', '--ignore', name]);
      }
    }
  }
} finally {
  await s.tearDown();
  await runner.tearDown();
  rmSync(tmp, { recursive: true, force: true });
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
console.log(`median of ${runs} runs, ms from podman run: first log line / Lease and synced caches / first reconcile`);
for (const [image, xs] of results) {
  console.log(`${image}: ${median(xs.map((x) => x.firstLogMs))} / ${median(xs.map((x) => x.syncedMs))} / ${median(xs.map((x) => x.reconciledMs))}`);
}
