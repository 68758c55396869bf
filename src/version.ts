/**
 * The operator's version. `npm run build` writes it into the bundle (PSO_BUILD_VERSION, see
 * scripts/build.ts); run from source (tsx), it is read from package.json.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

declare const PSO_BUILD_VERSION: string | undefined;

export function readVersion(): string {
  if (typeof PSO_BUILD_VERSION === 'string') return PSO_BUILD_VERSION;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'pullsecret-operator') return pkg.version ?? 'unknown';
    }
    dir = dirname(dir);
  }
  return 'unknown';
}
