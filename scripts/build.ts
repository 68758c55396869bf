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
import { build } from 'esbuild';

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
  logLevel: 'warning',
});
const bytes = Object.entries(result.metafile.outputs).find(([k]) => k.endsWith('.mjs'))?.[1].bytes ?? 0;
process.stdout.write(`build: ${outfile} (${(bytes / 1e6).toFixed(2)} MB)\n`);
