/**
 * The docs hold together: every relative link of the repository's Markdown (README.md,
 * CONTRIBUTING.md, CHANGELOG.md, SECURITY.md, docs/**) resolves to a file, and every `#anchor` to a
 * heading of that file as GitHub makes its anchors (scripts/docs/links.ts); the README stays short;
 * docs/benchmarks/README.md links the latest result of each benchmark (scripts/bench-record.ts).
 * No control plane needed.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { INDEX, asMarkdown, indexWithLatest, latestPages, nextPagePath, parsePage, resultFiles, takeOut } from '../../scripts/bench-record.js';
import { ROOT, anchors, brokenLinks, brokenReason, links, markdownFiles, slug } from '../../scripts/docs/links.js';

describe('the repository docs', () => {
  it('have no relative link that points at a missing file or a missing heading', () => {
    assert.deepEqual(brokenLinks(), [], 'run `npx tsx scripts/docs/links.ts` to list them');
  });

  it('include the README, CONTRIBUTING, CHANGELOG, SECURITY and every page under docs/ in that check', () => {
    const files = markdownFiles();
    for (const f of ['README.md', 'CONTRIBUTING.md', 'CHANGELOG.md', 'SECURITY.md', 'docs/configuration.md', 'docs/development/tests.md', 'docs/benchmarks/README.md']) {
      assert.ok(files.includes(f), `${f} is checked`);
    }
  });

  it('keep the README to about 200 lines: the rest lives in docs/', () => {
    const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n').length;
    assert.ok(lines <= 220, `README.md has ${lines} lines`);
  });

  it('link from the README every page an admin needs', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    for (const page of ['install', 'configuration', 'how-it-works', 'webhook', 'operating', 'security', 'sizing', 'faults', 'monitoring', 'credentials', 'kubernetes-versions']) {
      assert.ok(readme.includes(`](docs/${page}.md)`), `README links docs/${page}.md`);
    }
  });
});

describe("GitHub's heading anchors", () => {
  it('lower-case the text, drop punctuation, keep hyphens and underscores, and make each space a hyphen', () => {
    assert.equal(slug('RBAC: what the operator may do, and why'), 'rbac-what-the-operator-may-do-and-why');
    assert.equal(slug('Is a namespace covered? `pullsecret-operator status`'), 'is-a-namespace-covered-pullsecret-operator-status');
    assert.equal(slug('Why `--qps 2000 --burst 4000`'), 'why---qps-2000---burst-4000');
    assert.equal(slug("The webhook's own surface"), 'the-webhooks-own-surface');
    assert.equal(slug('20,000 namespaces'), '20000-namespaces');
    assert.equal(slug('A [linked](x.md) heading_name'), 'a-linked-heading_name');
  });

  it('number repeated headings -1, -2, ..., and ignore headings inside code fences', () => {
    const got = anchors('# Setup\n\n## Setup\n\n```sh\n# not a heading\n```\n\n### Setup\n');
    assert.deepEqual([...got], ['setup', 'setup-1', 'setup-2']);
  });
});

describe('the relative links of a page', () => {
  it('are inline links, images and reference definitions; not external links, not code', () => {
    const md = [
      'See [a](a.md), ![img](img/x.png "title") and [ext](https://example.com).',
      '`[not](code.md)` and [mail](mailto:x@example.com)',
      '```',
      '[fenced](fenced.md)',
      '```',
      '[ref]: ref.md',
      '[self](#top)',
    ].join('\n');
    assert.deepEqual(links('p.md', md).map((l) => `${l.line}:${l.target}`), ['1:a.md', '1:img/x.png', '6:ref.md', '7:#top']);
  });

  it('are broken when the file is missing, or the anchor names no heading of that file', () => {
    const root = mkdtempSync(join(tmpdir(), 'pso-links-'));
    try {
      mkdirSync(join(root, 'docs'));
      writeFileSync(join(root, 'docs', 'a.md'), '# Title\n\n## Second part\n');
      const at = (file: string, target: string): string | undefined => brokenReason({ file, line: 1, target }, root);
      assert.equal(at('README.md', 'docs/a.md'), undefined);
      assert.equal(at('README.md', 'docs/a.md#second-part'), undefined);
      assert.equal(at('docs/b.md', 'a.md#title'), undefined);
      assert.equal(at('docs/a.md', '#second-part'), undefined);
      assert.equal(at('README.md', 'docs/'), undefined);
      assert.equal(at('README.md', 'docs/missing.md'), 'no such file');
      assert.match(at('README.md', 'docs/a.md#third-part') ?? '', /no heading with the anchor #third-part in docs\/a\.md/);
      assert.match(at('docs/a.md', '#nope') ?? '', /no heading/);
      assert.equal(at('docs/a.md', '../../outside.md'), 'points outside the repository');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('benchmark result pages', () => {
  it('docs/benchmarks/README.md links the latest page of each benchmark (npm run bench rewrites it)', () => {
    const index = readFileSync(INDEX, 'utf8');
    assert.equal(index, indexWithLatest(index, resultFiles()), 'run a benchmark, or rewrite the list with indexWithLatest (scripts/bench-record.ts)');
  });

  it('are named by date, benchmark and run of the day, and the latest is the last date, then the last run', () => {
    assert.deepEqual(parsePage('2026-12-01-scale-2.md'), { file: '2026-12-01-scale-2.md', date: '2026-12-01', name: 'scale', run: 2 });
    assert.equal(parsePage('README.md'), undefined);
    const latest = latestPages(['2026-11-30-scale.md', '2026-12-01-scale.md', '2026-12-01-scale-2.md', '2026-12-01-race.md', '2026-11-01-race.md']);
    assert.deepEqual(latest.map((p) => p.file), ['2026-12-01-race.md', '2026-12-01-scale-2.md']);
  });

  it('do not overwrite a run of the same day: the next one gets -2, then -3', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pso-bench-pages-'));
    try {
      assert.equal(nextPagePath('scale', '2026-12-02', dir), join(dir, '2026-12-02-scale.md'));
      writeFileSync(join(dir, '2026-12-02-scale.md'), '');
      assert.equal(nextPagePath('scale', '2026-12-02', dir), join(dir, '2026-12-02-scale-2.md'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('render what the benchmark printed as Markdown: a blank line before each table', () => {
    assert.equal(asMarkdown('\ntitle line\n| a | b |\n| --- | --- |\n| 1 | 2 |\nafter\n'), 'title line\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\nafter');
  });

  it('take --out out of the arguments the benchmark itself parses', () => {
    assert.deepEqual(takeOut(['scale', '--out', '-', '--namespaces', '200']), { out: '-', rest: ['scale', '--namespaces', '200'] });
    assert.deepEqual(takeOut(['--out=/tmp/x.md']), { out: '/tmp/x.md', rest: [] });
    assert.deepEqual(takeOut(['race']), { out: undefined, rest: ['race'] });
  });
});
