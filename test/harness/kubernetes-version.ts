/**
 * Which Kubernetes version a local control plane (and its node) runs.
 *
 * Every version that can run has its own Go module in test/control-plane/versions/<version>.mod
 * (written by gen-go-mod.sh); the default is test/control-plane/K8S_VERSION. A run asks for another
 * one with `npm run cluster -- start --kubernetes-version 1.34.4` or, for with-cluster.ts, the tests
 * and CI, with PSO_KUBERNETES_VERSION. Either takes `1.34.4`, `v1.34.4`, or a minor (`1.34`) for the
 * one patch release of it that has a module.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The environment variable that picks the version of every plane started in a process tree. */
export const KUBERNETES_VERSION_ENV = 'PSO_KUBERNETES_VERSION';

const CONTROL_PLANE_DIR = fileURLToPath(new URL('../control-plane/', import.meta.url));
const VERSION = /^v?(1)\.(\d+)\.(\d+)$/;
const MINOR = /^v?(1)\.(\d+)$/;

/** test/control-plane/K8S_VERSION, e.g. v1.36.3. */
export function defaultKubernetesVersion(): string {
  return readFileSync(join(CONTROL_PLANE_DIR, 'K8S_VERSION'), 'utf8').trim();
}

/** Every version with a Go module in test/control-plane/versions/, oldest first. */
export function availableKubernetesVersions(): string[] {
  const names = readdirSync(join(CONTROL_PLANE_DIR, 'versions'))
    .filter((f) => f.endsWith('.mod'))
    .map((f) => f.slice(0, -'.mod'.length))
    .filter((v) => VERSION.test(v));
  return sortVersions(names);
}

/** Oldest first, by number (v1.9.0 before v1.10.0). */
export function sortVersions(versions: readonly string[]): string[] {
  const parts = (v: string): number[] => v.replace(/^v/, '').split('.').map(Number);
  return [...versions].sort((a, b) => {
    const [pa, pb] = [parts(a), parts(b)];
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
      const d = (pa[i] ?? 0) - (pb[i] ?? 0);
      if (d !== 0) return d;
    }
    return 0;
  });
}

/**
 * The exact version (v1.MINOR.PATCH) that `asked` names among `available`; `def` when nothing is
 * asked. A minor (1.34) names the newest of its patches; an exact version must be available.
 * Throws with the list of available versions otherwise.
 */
export function resolveKubernetesVersion(asked: string | undefined, available: readonly string[], def: string): string {
  const want = asked?.trim() ?? '';
  if (want === '') return def;
  const have = (): string => `available: ${available.join(', ')} (test/control-plane/versions/)`;
  const exact = VERSION.exec(want);
  if (exact) {
    const v = `v${exact[1]}.${exact[2]}.${exact[3]}`;
    if (available.includes(v)) return v;
    throw new Error(`Kubernetes ${v} has no Go module here; ${have()}. To add it: test/control-plane/gen-go-mod.sh ${v}`);
  }
  const minor = MINOR.exec(want);
  if (minor) {
    const prefix = `v${minor[1]}.${minor[2]}.`;
    const v = sortVersions(available.filter((a) => a.startsWith(prefix))).at(-1);
    if (v !== undefined) return v;
    throw new Error(`no Kubernetes ${want.replace(/^v?/, 'v')}.x has a Go module here; ${have()}`);
  }
  throw new Error(`not a Kubernetes version: "${want}" (want 1.MINOR or 1.MINOR.PATCH); ${have()}`);
}

/** The version asked for by `asked`, else by $PSO_KUBERNETES_VERSION, else the default. */
export function kubernetesVersion(asked?: string): string {
  return resolveKubernetesVersion(asked ?? process.env[KUBERNETES_VERSION_ENV], availableKubernetesVersions(), defaultKubernetesVersion());
}
