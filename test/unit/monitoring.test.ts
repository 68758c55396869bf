/**
 * The monitoring files: one source of truth (scripts/monitoring/rules.ts and dashboard.ts), every
 * generated file equal to what it renders, every alert with its runbook section, and the dashboard
 * linted with the rules of grafana/dashboard-linter that apply to it (that linter itself cannot be
 * built here: no version of its Go module is served). The queries themselves run against a real
 * Prometheus in test/integration/monitoring.test.ts.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROWS, dashboard } from '../../scripts/monitoring/dashboard.js';
import { DASHBOARD_FILE, drift, generatedFiles } from '../../scripts/monitoring/generate.js';
import { ALERTS, RUNBOOK_BASE, ruleGroups } from '../../scripts/monitoring/rules.js';
import { Metrics } from '../../src/metrics.js';
import { parseAllYaml } from '../harness/manifests.js';
import { REPO_ROOT } from '../harness/operator.js';

interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  fieldConfig?: { defaults: { unit?: string } };
  targets?: { refId: string; expr: string; datasource?: { uid: string } }[];
}

const model = dashboard() as { uid: string; panels: Panel[]; templating: { list: { name: string; type: string; query: unknown }[] } };
const panels = model.panels.filter((p) => p.type !== 'row');
const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

test('generated files: no drift (run `npm run generate:monitoring` after editing scripts/monitoring/)', () => {
  assert.deepEqual(drift(), []);
});

test('generated files: one source of truth', () => {
  const files = generatedFiles();
  const plain = parseAllYaml(files.get('monitoring/pullsecret-operator.rules.yaml') ?? '')[0];
  const rule = parseAllYaml<{ spec: unknown }>(files.get('manifests/monitoring/prometheusrule.yaml') ?? '')[0];
  assert.deepEqual(plain, ruleGroups());
  assert.deepEqual(rule?.spec, ruleGroups(), 'the PrometheusRule has the same groups');
  const cm = parseAllYaml<{ metadata: { labels: Record<string, string> }; data: Record<string, string> }>(files.get('manifests/monitoring/grafana-dashboard.yaml') ?? '')[0];
  assert.equal(cm?.metadata.labels['grafana_dashboard'], '1');
  assert.deepEqual(JSON.parse(cm?.data[DASHBOARD_FILE] ?? ''), model);
  assert.equal(readFileSync(join(REPO_ROOT, 'charts', 'pullsecret-operator', 'files', DASHBOARD_FILE), 'utf8'), readFileSync(join(REPO_ROOT, 'monitoring', DASHBOARD_FILE), 'utf8'));
  // The chart's template: the same rules; only each for: comes from a value (helm.test.ts renders it).
  const template = files.get('charts/pullsecret-operator/templates/prometheusrule.yaml') ?? '';
  assert.equal((template.match(/for: \{\{ \.Values\.prometheusRule\.forOverride \| default "[0-9a-z]+" \}\}/g) ?? []).length, ALERTS.length);
});

test('alerts: each has summary description and runbook section', () => {
  const docs = readFileSync(join(REPO_ROOT, 'docs', 'monitoring.md'), 'utf8');
  const headings = new Set([...docs.matchAll(/^#{2,4} (.+)$/gm)].map((m) => (m[1] ?? '').trim()));
  const rules = ruleGroups().groups.flatMap((g) => g.rules);
  assert.deepEqual(rules.map((r) => r.alert), ALERTS.map((a) => a.alert));
  for (const r of rules) {
    assert.ok(r.annotations.summary.length > 10, `${r.alert} summary`);
    assert.ok(r.annotations.description.length > 80, `${r.alert} description says what to do`);
    assert.equal(r.annotations.runbook_url, `${RUNBOOK_BASE}#${r.alert.toLowerCase()}`);
    assert.ok(headings.has(r.alert), `docs/monitoring.md has a section "${r.alert}" (the runbook_url's anchor)`);
    assert.match(r.for, /^\d+m$/, `${r.alert} for:`);
    assert.match(r.expr, /job="pullsecret-operator-metrics"/, `${r.alert} selects the operator's job`);
  }
});

test('dashboard lint: datasource variable and panel datasources (template-datasource-rule, panel-datasource-rule)', () => {
  const ds = model.templating.list.find((v) => v.name === 'datasource');
  assert.equal(ds?.type, 'datasource');
  assert.equal(ds?.query, 'prometheus');
  for (const p of panels) {
    assert.equal(p.datasource?.uid, '${datasource}', p.title);
    for (const t of p.targets ?? []) assert.equal(t.datasource?.uid, '${datasource}', `${p.title} ${t.refId}`);
  }
});

test('dashboard lint: job and instance variables (template-job-rule, template-instance-rule, target-job-rule)', () => {
  const names = model.templating.list.map((v) => v.name);
  assert.deepEqual(names, ['datasource', 'job', 'instance']);
  for (const { panel, expr } of exprs) {
    const selectors = [...expr.matchAll(/\b([a-z_:][a-z0-9_:]*)\{([^}]*)\}/g)];
    assert.ok(selectors.length > 0, `${panel}: ${expr}`);
    for (const m of selectors) assert.match(m[2] ?? '', /job=~"\$job"/, `${panel}: ${m[0]}`);
  }
});

test('dashboard lint: rates use rate interval (target-rate-interval-rule)', () => {
  for (const { panel, expr } of exprs) {
    for (const m of expr.matchAll(/\b(rate|irate|increase)\([^[]*\[([^\]]+)\]/g)) assert.equal(m[2], '$__rate_interval', `${panel}: ${expr}`);
  }
});

test('dashboard lint: panels have title description unit and unique ids (panel-title-description-rule, panel-units-rule)', () => {
  const ids = model.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length);
  for (const p of panels) {
    assert.ok(p.title.length > 0);
    assert.ok((p.description ?? '').length > 20, `${p.title} description`);
    assert.ok(p.fieldConfig?.defaults.unit, `${p.title} unit`);
    assert.ok((p.targets ?? []).length > 0, `${p.title} targets`);
    assert.equal(new Set((p.targets ?? []).map((t) => t.refId)).size, p.targets?.length, `${p.title} refIds`);
  }
});

test('dashboard lint: layout fits and does not overlap', () => {
  const cells = new Set<string>();
  for (const p of model.panels) {
    const g = p.gridPos;
    assert.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24, `${p.title} within 24 columns`);
    for (let x = g.x; x < g.x + g.w; x++) {
      for (let y = g.y; y < g.y + g.h; y++) {
        assert.ok(!cells.has(`${x},${y}`), `${p.title} overlaps another panel at ${x},${y}`);
        cells.add(`${x},${y}`);
      }
    }
  }
});

test('dashboard: answers the admins questions', () => {
  // The questions, each answered by a row; and the webhook's latency from its own histogram.
  assert.deepEqual(
    ROWS.map((r) => r.title),
    ['Coverage: are all namespaces covered?', 'Which namespaces are not covered, and why?', 'Sources and their credentials', 'Reaction speed', 'What it costs the API server', 'Leader and webhook', 'Memory and CPU'],
  );
  assert.ok(exprs.some((e) => e.expr.includes('pullsecret_operator_webhook_admission_duration_seconds_bucket')));
  assert.ok(exprs.some((e) => e.expr.includes('pullsecret_operator_namespace_problems')));
});

test('docs: every metric and panel described', async () => {
  const docs = readFileSync(join(REPO_ROOT, 'docs', 'monitoring.md'), 'utf8');
  const names = (await new Metrics().registry.getMetricsAsJSON()).map((m) => m.name);
  assert.ok(names.length > 15);
  for (const n of names) assert.ok(docs.includes(`\`${n}\``), `docs/monitoring.md lists the metric ${n}`);
  for (const p of panels) assert.ok(docs.includes(`**${p.title}**`), `docs/monitoring.md describes the panel "${p.title}"`);
});
