/**
 * Which Kubernetes version a local control plane runs (test/harness/kubernetes-version.ts): what
 * `--kubernetes-version` and PSO_KUBERNETES_VERSION accept, and that every committed version has
 * what test/control-plane/build.sh needs.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { availableKubernetesVersions, defaultKubernetesVersion, resolveKubernetesVersion, sortVersions } from '../harness/kubernetes-version.js';
import { repoRoot } from '../harness/control-plane.js';

const available = ['v1.34.3', 'v1.34.4', 'v1.35.4', 'v1.36.3', 'v1.37.2'];
const def = 'v1.36.3';

const cases: { name: string; asked: string | undefined; want: string }[] = [
  { name: 'nothing asked is the default', asked: undefined, want: 'v1.36.3' },
  { name: 'empty is the default', asked: '', want: 'v1.36.3' },
  { name: 'exact without v', asked: '1.34.4', want: 'v1.34.4' },
  { name: 'exact with v', asked: 'v1.37.2', want: 'v1.37.2' },
  { name: 'older patch when asked exactly', asked: '1.34.3', want: 'v1.34.3' },
  { name: 'minor is its newest patch', asked: '1.34', want: 'v1.34.4' },
  { name: 'minor with v', asked: 'v1.35', want: 'v1.35.4' },
  { name: 'spaces are ignored', asked: ' 1.37.2\n', want: 'v1.37.2' },
];
for (const c of cases) {
  test(`resolveKubernetesVersion: ${c.name}`, () => {
    assert.equal(resolveKubernetesVersion(c.asked, available, def), c.want);
  });
}

const refused: { name: string; asked: string; message: RegExp }[] = [
  { name: 'unknown patch', asked: '1.34.9', message: /^Kubernetes v1\.34\.9 has no Go module here; available: v1\.34\.3, .*gen-go-mod\.sh v1\.34\.9$/ },
  { name: 'unknown minor', asked: '1.33', message: /^no Kubernetes v1\.33\.x has a Go module here; available: / },
  { name: 'minor is not a prefix of another', asked: '1.3', message: /^no Kubernetes v1\.3\.x / },
  { name: 'not a version', asked: 'latest', message: /^not a Kubernetes version: "latest"/ },
  { name: 'major two', asked: '2.0.0', message: /^not a Kubernetes version/ },
];
for (const c of refused) {
  test(`resolveKubernetesVersion: ${c.name}`, () => {
    assert.throws(() => resolveKubernetesVersion(c.asked, available, def), { message: c.message });
  });
}

test('sortVersions: by number, not by text', () => {
  assert.deepEqual(sortVersions(['v1.10.0', 'v1.9.1', 'v1.9.10', 'v1.9.2']), ['v1.9.1', 'v1.9.2', 'v1.9.10', 'v1.10.0']);
});

test('every committed version has its go.mod and go.sum, for that k8s.io/kubernetes, and the default is one of them', () => {
  const dir = join(repoRoot(), 'test', 'control-plane', 'versions');
  const versions = availableKubernetesVersions();
  assert.ok(versions.includes(defaultKubernetesVersion()), `${defaultKubernetesVersion()} in ${versions.join(', ')}`);
  for (const v of versions) {
    const mod = readFileSync(join(dir, `${v}.mod`), 'utf8');
    assert.match(mod, new RegExp(`^\\s*k8s\\.io/kubernetes ${v.replaceAll('.', '\\.')}$`, 'm'), `${v}.mod requires k8s.io/kubernetes ${v}`);
    assert.match(mod, new RegExp(`^replace k8s\\.io/api => k8s\\.io/api v0\\.${v.slice('v1.'.length).replaceAll('.', '\\.')}$`, 'm'), `${v}.mod replaces the staging modules`);
    assert.ok(existsSync(join(dir, `${v}.sum`)), `${v}.sum`);
  }
});
