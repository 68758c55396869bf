/**
 * `npm run build`: the operator as one ESM file, dist/pullsecret-operator.mjs, bundled by esbuild
 * with its production dependencies. The image then needs that file and Node, nothing else: no
 * node_modules, no package.json. The version is written into the bundle at build time.
 *
 * The type check is not done here (esbuild strips types); `npm test` runs `tsc --noEmit` first.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

/**
 * client-node's modules are pure declarations, but its package.json does not say so
 * (`sideEffects`), so esbuild would keep every generated API class and model that its index and
 * config.js import, though the operator uses KubeConfig alone at runtime (src/kube/client.ts makes
 * its own requests). Declaring them side-effect free lets the bundle drop what is not referenced:
 * the generated models alone are ~0.6 MB of code and tens of MB of RSS once loaded.
 */
const clientNodeIsPure: Plugin = {
  name: 'client-node-is-pure',
  setup(b) {
    b.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData === 'pure' || !(args.path.startsWith('@kubernetes/client-node') || args.importer.includes('/@kubernetes/client-node/'))) return undefined;
      const r = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: 'pure' });
      if (r.errors.length > 0 || !r.path.includes('/@kubernetes/client-node/')) return undefined;
      return { path: r.path, sideEffects: false };
    });
  },
};

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };
const outfile = join(root, Object.values(pkg.bin)[0] ?? 'dist/pullsecret-operator.mjs');

const result = await build({
  absWorkingDir: root,
  entryPoints: ['src/main.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // CommonJS dependencies (winston, prom-client, ...) call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __psoCreateRequire } from 'node:module';\nconst require = __psoCreateRequire(import.meta.url);" },
  define: { PSO_BUILD_VERSION: JSON.stringify(pkg.version) },
  legalComments: 'linked',
  sourcemap: 'linked',
  metafile: true,
  plugins: [clientNodeIsPure],
  logLevel: 'warning',
});
const bytes = Object.entries(result.metafile.outputs).find(([k]) => k.endsWith('.mjs'))?.[1].bytes ?? 0;
process.stdout.write(`build: ${outfile} (${(bytes / 1e6).toFixed(2)} MB)\n`);
