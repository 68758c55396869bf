/**
 * The alert rules with a real promtool (built from Go modules by test/monitoring/build.sh):
 * `promtool check rules` on the plain rules file and on the PrometheusRule's groups, and
 * `promtool test rules` on the cases of test/monitoring/rule-cases.ts, which judge the shipped
 * `for:` durations: every alert fires on its condition and stays silent through a rolling update
 * and a short API server restart.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ALERTS, ruleGroups } from '../../scripts/monitoring/rules.js';
import { parseAllYaml } from '../harness/manifests.js';
import { REPO_ROOT } from '../harness/operator.js';
import { buildPrometheus, promtool } from '../harness/prometheus.js';
import { CASES, type CaseKind, promtoolTests } from '../monitoring/rule-cases.js';

const RULES_FILE = join(REPO_ROOT, 'monitoring', 'pullsecret-operator.rules.yaml');
let bin = '';
const tmp = mkdtempSync(join(tmpdir(), 'pso-promtool-'));

before(async () => {
  bin = (await buildPrometheus()).promtool;
});

after(() => rmSync(tmp, { recursive: true, force: true }));

/** Writes `doc` (JSON is YAML) into the test's folder and returns its path. */
function write(name: string, doc: unknown): string {
  const path = join(tmp, name);
  writeFileSync(path, JSON.stringify(doc, null, 2));
  return path;
}

describe('alert rules, checked by promtool', () => {
  it('passes `promtool check rules` (the plain rules file), with every alert', () => {
    const r = promtool(bin, ['check', 'rules', RULES_FILE]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`SUCCESS: ${ALERTS.length} rules found`));
  });

  it("passes `promtool check rules` on the PrometheusRule's groups (manifests/monitoring/prometheusrule.yaml)", () => {
    const [rule] = parseAllYaml<{ kind: string; spec: unknown }>(readFileSync(join(REPO_ROOT, 'manifests', 'monitoring', 'prometheusrule.yaml'), 'utf8'));
    assert.equal(rule?.kind, 'PrometheusRule');
    const r = promtool(bin, ['check', 'rules', write('prometheusrule-groups.yaml', rule?.spec)]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`SUCCESS: ${ALERTS.length} rules found`));
  });

  it('has, for every alert, a case where it fires and cases of a rolling update and of an API server restart where it stays silent', () => {
    for (const a of ALERTS) {
      const kinds = new Set<CaseKind>(CASES.filter((c) => c.alert === a.alert).map((c) => c.kind));
      for (const k of ['fires', 'rolling-update', 'api-server-restart'] as const) assert.ok(kinds.has(k), `${a.alert}: a ${k} case`);
    }
    for (const c of CASES) {
      const fires = c.evals.some((e) => e.firing.length > 0);
      assert.equal(fires, c.kind === 'fires' || (c.kind === 'other' && fires), `${c.alert}: ${c.name}`);
      if (c.kind === 'fires') assert.ok(c.evals.some((e) => e.firing.length === 0), `${c.alert}: ${c.name}: silent before its for: is over`);
    }
    assert.deepEqual([...new Set(CASES.map((c) => c.alert))].sort(), ALERTS.map((a) => a.alert).sort());
  });

  it('passes `promtool test rules`: each alert fires on its condition and stays silent through a rolling update and an API server restart', () => {
    const r = promtool(bin, ['test', 'rules', write('rules.test.yaml', promtoolTests(RULES_FILE))]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SUCCESS/);
  });

  it('judges the `for:` durations: with every `for:` at 0s, each transient silent case fires', () => {
    const transient = CASES.filter((c) => c.transient);
    assert.ok(transient.length >= 8, 'the cases that exercise a for:');
    const noFor = write('no-for.rules.yaml', ruleGroups(() => '0s'));
    const r = promtool(bin, ['test', 'rules', write('no-for.test.yaml', promtoolTests(noFor, transient))]);
    assert.notEqual(r.status, 0, r.stdout);
    const failed = new Set([...(r.stdout + r.stderr).matchAll(/name: (.+),\n/g)].map((m) => m[1]));
    for (const c of transient) assert.ok(failed.has(`${c.alert}: ${c.kind}: ${c.name}`), `${c.alert}: ${c.name} fires without its for:`);
  });
});
