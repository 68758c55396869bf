/**
 * The monitoring as an admin runs it, on real parts: a real Prometheus (built from Go modules by
 * test/monitoring/build.sh) scrapes the real operator on 127.0.0.1 (the manifests' identity,
 * leader election and the webhook on), with the alert rules the chart renders. The rules' `for:`
 * durations are shortened to FOR through the chart's value prometheusRule.forOverride; the shipped
 * durations are what test/integration/monitoring-rules.test.ts judges.
 *
 * Real conditions make the alerts fire, and fixing them clears them: a secret of the user's that
 * holds a copy's name keeps a namespace out of sync; a secret labelled for copying that is not a
 * pull secret is an invalid source; a stopped operator is down; credentials that the test registry
 * (distribution, on 127.0.0.1 with TLS) rejects. Meanwhile no other alert fires. Every query of every
 * panel of the dashboard returns data from that Prometheus, without errors: in the first scenario
 * all but the credential check's (off there: the IBM fixtures name real icr.io hosts, and no test
 * traffic leaves loopback), which the second scenario answers.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROWS } from '../../scripts/monitoring/dashboard.js';
import { JOB } from '../../scripts/monitoring/rules.js';
import { CHART_DIR, Helm, buildHelm } from '../harness/helm.js';
import { freePort } from '../harness/kube.js';
import { parseAllYaml } from '../harness/manifests.js';
import { type ActiveAlert, type PrometheusServer, buildPrometheus, startPrometheus } from '../harness/prometheus.js';
import { type TestRegistry, dockerConfig, makeRegistryPki, registryBinary, startRegistry } from '../harness/registry.js';
import { deleteWebhookConfiguration, installWebhookConfiguration } from '../harness/webhook.js';
import { MANAGED, Scenario, fixtureCopies, identityNamespace, mergePatch } from '../harness/scenario.js';
import { setTimeout as sleep } from 'node:timers/promises';

/** Every alert's `for:` in this test (the chart's prometheusRule.forOverride). */
const FOR = '10s';
/** What the dashboard's $__rate_interval stands for here (Prometheus scrapes every second). */
const RATE_INTERVAL = '1m';
/**
 * Metrics the dashboard reads that have no series in the first scenario, and why; the panels that
 * read only them are checked in the second. Any other metric the dashboard reads must be exported
 * and answer.
 */
const PENDING = new Map([['pullsecret_operator_source_credentials', 'the credential check is off in this scenario']]);


/** The metric names a PromQL expression reads (every selector is written `name{...}`). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b([a-z_:][a-z0-9_:]*)\{/g)].map((m) => m[1] ?? '');
}

/** The dashboard's variables as Grafana fills them in, for Prometheus itself. */
function expand(expr: string): string {
  return expr.replaceAll('$job', JOB).replaceAll('$instance', '.*').replaceAll('$__rate_interval', RATE_INTERVAL);
}

describe('alerts and dashboard on a real Prometheus scraping the operator', () => {
  const s = new Scenario('monitoring');
  const tmp = mkdtempSync(join(tmpdir(), 'pso-monitoring-test-'));
  let helm: Helm;
  let prom: PrometheusServer;
  let httpPort = 0;
  let webhookPort = 0;
  let blocked = '';
  const env = { POD_NAME: 'pso-monitoring-0', POD_NAMESPACE: identityNamespace() };

  const startOperator = async (): Promise<void> => {
    await s.startOperator(['--leader-elect', '--webhook-url', `https://127.0.0.1:${webhookPort}`], { ...env, PSO_HTTP_ADDRESS: `127.0.0.1:${httpPort}` });
  };
  const firing = async (): Promise<ActiveAlert[]> => (await prom.alerts()).filter((a) => a.state === 'firing');
  const firingNames = async (): Promise<string[]> => [...new Set((await firing()).map((a) => a.labels['alertname'] ?? ''))].sort();
  const waitForAlerts = (what: string, pred: (names: string[]) => boolean): Promise<string[]> =>
    s.waitFor(
      what,
      async () => {
        const names = await firingNames();
        return pred(names) && names;
      },
      60_000,
    );

  before(async () => {
    const [{ prometheus }, helmBin] = await Promise.all([buildPrometheus(), buildHelm()]);
    helm = new Helm(helmBin, s.kubeconfigPath);
    // The rules as the chart renders them, every for: shortened through its value.
    const rendered = helm.ok(['template', 'pso', CHART_DIR, '--set', 'prometheusRule.enabled=true', '--set', `prometheusRule.forOverride=${FOR}`, '--show-only', 'templates/prometheusrule.yaml']);
    const [rule] = parseAllYaml<{ spec: { groups: { rules: { for: string }[] }[] } }>(rendered);
    assert.ok(rule?.spec.groups[0]?.rules.every((r) => r.for === FOR), 'every for: shortened');
    writeFileSync(join(tmp, 'rules.yaml'), JSON.stringify(rule?.spec));

    await s.setUp();
    [httpPort, webhookPort] = [await freePort(), await freePort()];
    // The configuration as an admin installs it (the manifests do, with a Service); the operator,
    // which may change only its caBundle, writes that.
    await installWebhookConfiguration(s.kc, `https://127.0.0.1:${webhookPort}`);
    await startOperator();
    prom = await startPrometheus(
      prometheus,
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'rule_files:',
        `  - ${join(tmp, 'rules.yaml')}`,
        'scrape_configs:',
        `  - job_name: ${JOB}`,
        '    static_configs:',
        `      - targets: ['127.0.0.1:${httpPort}']`,
        '',
      ].join('\n'),
    );
    await s.waitFor('Prometheus to scrape the operator', async () => (await prom.targets()).get(`http://127.0.0.1:${httpPort}/metrics`) === 'up');
  });

  after(async () => {
    await s.tearDown();
    await prom?.stop();
    helm?.dispose();
    await deleteWebhookConfiguration(s.kc);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('fires nothing while the operator is healthy and every namespace is in sync', async () => {
    const ns = await s.namespace('fine');
    await s.waitFor(`copies in ${ns}`, async () => (await s.copies(ns)).join() === fixtureCopies(ns).join());
    await s.waitFor('the in-sync count in Prometheus', async () => (await prom.query(`pullsecret_operator_namespaces{state="in-sync"} > 0`)).result.length > 0);
    // Longer than FOR: anything pending would be firing by now.
    await sleep(12_000);
    assert.deepEqual(await firingNames(), []);
  });

  it('fires PullsecretOperatorNamespacesOutOfSync for a secret of the user holding a copy name, and PullsecretOperatorSourceInvalid for a source that cannot be copied; nothing else', async () => {
    blocked = await s.foreignNamespace('blocked', 'all-icr-io');
    await s.core.createNamespacedSecret({ namespace: s.source, body: { metadata: { name: 'not-a-pull-secret', labels: { 'pullsecret-operator.io/copy': 'true' } }, type: 'Opaque', data: { x: 'eA==' } } });
    const names = await waitForAlerts('both alerts firing', (n) => n.includes('PullsecretOperatorNamespacesOutOfSync') && n.includes('PullsecretOperatorSourceInvalid'));
    assert.deepEqual(names, ['PullsecretOperatorNamespacesOutOfSync', 'PullsecretOperatorSourceInvalid']);
    const outOfSync = (await firing()).find((a) => a.labels['alertname'] === 'PullsecretOperatorNamespacesOutOfSync');
    assert.equal(outOfSync?.labels['severity'], 'warning');
    assert.equal(outOfSync?.labels['job'], JOB);
    assert.equal(outOfSync?.annotations['summary'], '1 namespaces have stayed out of sync for 15 minutes.');
    assert.match(outOfSync?.annotations['runbook_url'] ?? '', /docs\/monitoring\.md#pullsecretoperatornamespacesoutofsync$/);
    // The dashboard's "why": the leader names the namespace and the kind of its problem.
    const why = await prom.query(`pullsecret_operator_namespace_problems and on (job, instance) (pullsecret_operator_leader == 1)`);
    assert.deepEqual(
      why.result.map((r) => [r.metric['target_namespace'], r.metric['problem'], r.value[1]]),
      [[blocked, 'foreign-secret', '1']],
    );
  });

  it('answers every query of every dashboard panel with data and no error (but those of metrics not exported yet)', async () => {
    // Traffic for the panels that show rates and latencies: new namespaces, ServiceAccount creates through the webhook.
    const busy = await s.namespace('busy');
    await s.waitFor(`the webhook called for ${busy}`, async () => {
      const sa = await s.core.createNamespacedServiceAccount({ namespace: busy, body: { metadata: { generateName: 'probe-' } } });
      return (sa.imagePullSecrets ?? []).length > 0;
    });
    for (let i = 0; i < 5; i++) await s.core.createNamespacedServiceAccount({ namespace: busy, body: { metadata: { name: `app-${i}` } } });

    // Which metrics does the operator export (HELP and TYPE lines, with or without samples)?
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const families = new Set([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => m[1] ?? ''));
    const exported = (name: string): boolean => name === 'up' || families.has(name) || families.has(name.replace(/_(bucket|sum|count)$/, ''));
    const targets = ROWS.flatMap((r) => r.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr }))));
    const missing = [...new Set(targets.flatMap((t) => metricNames(t.expr)).filter((n) => !exported(n)))].sort();
    assert.deepEqual(missing, [], 'every metric the dashboard reads is exported');

    const empty: string[] = [];
    for (const t of targets) {
      const pending = metricNames(t.expr).some((n) => PENDING.has(n));
      const expr = expand(t.expr);
      // Rates need two scrapes after the traffic above: poll a little.
      const answer = await s.waitFor(`${t.panel}: ${expr}`, async () => {
        const a = await prom.query(expr);
        return (a.result.length > 0 || pending) && a;
      }, 15_000).catch(() => prom.query(expr));
      assert.deepEqual(answer.warnings, [], `${t.panel}: ${expr}`);
      if (answer.result.length === 0 && !pending) empty.push(`${t.panel}: ${expr}`);
      if (pending && answer.result.length === 0) console.log(`# no data here (${metricNames(t.expr).map((n) => PENDING.get(n)).filter(Boolean).join(', ')}): ${t.panel}: ${t.expr}`);
    }
    assert.deepEqual(empty, []);
    // The variables' queries: label_values(pullsecret_operator_leader, job) and its instance.
    assert.deepEqual(await prom.labelValues('job', 'pullsecret_operator_leader'), [JOB]);
    assert.deepEqual(await prom.labelValues('instance', `pullsecret_operator_leader{job=~"${JOB}"}`), [`127.0.0.1:${httpPort}`]);
  });

  it('clears both alerts once the conditions are fixed', async () => {
    // The runbook's fixes: hand the user's secret over (the operator watches its label and takes it
    // at once), and remove the secret that is not a pull secret. Each alert clears on its own.
    await s.core.patchNamespacedSecret({ namespace: blocked, name: 'all-icr-io', body: { metadata: { labels: { [MANAGED]: 'pullsecret-operator' } } } }, mergePatch);
    await s.waitFor(`copies in ${blocked}`, async () => (await s.copies(blocked)).join() === fixtureCopies(blocked).join());
    assert.deepEqual(await waitForAlerts('PullsecretOperatorNamespacesOutOfSync cleared', (n) => !n.includes('PullsecretOperatorNamespacesOutOfSync')), ['PullsecretOperatorSourceInvalid']);
    await s.core.deleteNamespacedSecret({ namespace: s.source, name: 'not-a-pull-secret' });
    assert.deepEqual(await waitForAlerts('no alert firing', (n) => n.length === 0), []);
    assert.deepEqual((await prom.query('pullsecret_operator_namespace_problems')).result, []);
  });

  it('fires PullsecretOperatorDown when the operator stops, and clears it when it runs again', async () => {
    const stopped = await s.operator?.stop();
    assert.equal(stopped?.code, 0);
    s.operator = undefined;
    const names = await waitForAlerts('PullsecretOperatorDown firing', (n) => n.includes('PullsecretOperatorDown'));
    // A replica down for long enough is also PullsecretOperatorReplicaDown; nothing else may fire.
    assert.deepEqual(names.filter((n) => n !== 'PullsecretOperatorReplicaDown'), ['PullsecretOperatorDown']);
    const down = (await firing()).find((a) => a.labels['alertname'] === 'PullsecretOperatorDown');
    assert.equal(down?.labels['severity'], 'critical');
    assert.equal(down?.labels['job'], JOB);
    await startOperator();
    await waitForAlerts('PullsecretOperatorDown cleared', (n) => !n.includes('PullsecretOperatorDown'));
  });
});

describe('the credentials alert and panel on a real Prometheus, against a real registry', () => {
  const s = new Scenario('monitoring-creds');
  const tmp = mkdtempSync(join(tmpdir(), 'pso-monitoring-creds-'));
  let prom: PrometheusServer;
  let registry: TestRegistry;
  let httpPort = 0;
  const GOOD = `good-${Math.random().toString(36).slice(2)}`;
  const putSource = async (password: string): Promise<void> => {
    const body = { metadata: { name: 'local-registry', labels: { 'pullsecret-operator.io/copy': 'true' } }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': dockerConfig(registry.host, 'pso', password) } };
    const existing = await s.secret(s.source, 'local-registry');
    if (existing) await s.core.replaceNamespacedSecret({ namespace: s.source, name: 'local-registry', body: { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion } } });
    else await s.core.createNamespacedSecret({ namespace: s.source, body });
  };
  const firingNames = async (): Promise<string[]> => [...new Set((await prom.alerts()).filter((a) => a.state === 'firing').map((a) => a.labels['alertname'] ?? ''))].sort();

  before(async () => {
    const [{ prometheus }, helmBin, bin, pki] = await Promise.all([buildPrometheus(), buildHelm(), registryBinary(), makeRegistryPki(join(tmp, 'pki'))]);
    const helm = new Helm(helmBin, s.kubeconfigPath);
    const [rule] = parseAllYaml<{ spec: unknown }>(helm.ok(['template', 'pso', CHART_DIR, '--set', 'prometheusRule.enabled=true', '--set', `prometheusRule.forOverride=${FOR}`, '--show-only', 'templates/prometheusrule.yaml']));
    helm.dispose();
    writeFileSync(join(tmp, 'rules.yaml'), JSON.stringify(rule?.spec));
    registry = await startRegistry({ bin, dir: tmp, pki, name: 'basic', auth: { htpasswd: { username: 'pso', password: GOOD } } });
    // Only the local registry's source: nothing outside loopback is ever contacted.
    await s.setUp({ fixtures: false });
    await putSource(GOOD);
    httpPort = await freePort();
    await s.startOperator(['--verify-credentials', '--operator-namespace', identityNamespace()], { NODE_EXTRA_CA_CERTS: pki.caCert, PSO_HTTP_ADDRESS: `127.0.0.1:${httpPort}` });
    prom = await startPrometheus(
      prometheus,
      ['global:', '  scrape_interval: 1s', '  evaluation_interval: 1s', 'rule_files:', `  - ${join(tmp, 'rules.yaml')}`, 'scrape_configs:', `  - job_name: ${JOB}`, '    static_configs:', `      - targets: ['127.0.0.1:${httpPort}']`, ''].join('\n'),
    );
    await s.waitFor('Prometheus to scrape the operator', async () => (await prom.targets()).get(`http://127.0.0.1:${httpPort}/metrics`) === 'up');
  });

  after(async () => {
    await s.tearDown();
    await prom?.stop();
    await registry?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("answers the dashboard's credential panels with the check's results", async () => {
    const targets = ROWS.flatMap((r) => r.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr })))).filter((t) => metricNames(t.expr).some((n) => PENDING.has(n)));
    assert.ok(targets.length > 0, 'the dashboard has a credentials panel');
    for (const t of targets) {
      const answer = await s.waitFor(`${t.panel}: ${expand(t.expr)}`, async () => {
        const a = await prom.query(expand(t.expr));
        return a.result.length > 0 && a;
      }, 30_000);
      assert.deepEqual(answer.warnings, [], t.panel);
    }
  });

  it('fires PullsecretOperatorSourceCredentialsRejected when the registry rejects a source, and clears it once the source is fixed; nothing else fires', async () => {
    await putSource('wrong');
    const names = await s.waitFor('the credentials alert firing', async () => {
      const n = await firingNames();
      return n.includes('PullsecretOperatorSourceCredentialsRejected') && n;
    }, 60_000);
    assert.deepEqual(names, ['PullsecretOperatorSourceCredentialsRejected']);
    const alert = (await prom.alerts()).find((a) => a.state === 'firing' && a.labels['alertname'] === 'PullsecretOperatorSourceCredentialsRejected');
    assert.equal(alert?.labels['source'], `${s.source}/local-registry`);
    assert.equal(alert?.labels['registry'], registry.host);
    assert.equal(alert?.labels['severity'], 'critical');
    assert.match(alert?.annotations['runbook_url'] ?? '', /docs\/monitoring\.md#pullsecretoperatorsourcecredentialsrejected$/);
    // The runbook's fix: a good key in the source; the check runs again at once on the change.
    await putSource(GOOD);
    await s.waitFor('the alert cleared', async () => (await firingNames()).length === 0, 60_000);
  });
});
