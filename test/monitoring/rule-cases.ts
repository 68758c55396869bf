/**
 * Unit tests of every alert for `promtool test rules`: for each alert, series in which it fires on
 * the condition it names, and series of a rolling update and of a short API server restart in
 * which it stays silent, judged against the shipped `for:` durations. The series are sampled every
 * 30 s, as the ServiceMonitor scrapes, and the rules evaluated every 30 s.
 *
 * The expected annotations are the rules' own, expanded here, so that a test names only the
 * labels and the value: the annotations cannot drift from the rules.
 *
 * `npx tsx test/monitoring/rule-cases.ts RULES_FILE > rules.test.yaml` prints the promtool file;
 * test/integration/monitoring-rules.test.ts runs it.
 *
 * Replicas: a and b run first; c and d replace them in a rolling update (maxSurge 1,
 * maxUnavailable 0, as the Deployment). A series' samples: `v` repeated `n` times is rep(v, n);
 * `_` is no sample (the pod does not exist yet), `stale` the end of a series (the pod is gone, or a
 * scrape failed).
 */
import { fileURLToPath } from 'node:url';
import { ALERTS, JOB, runbookUrl } from '../../scripts/monitoring/rules.js';

export type CaseKind = 'fires' | 'rolling-update' | 'api-server-restart' | 'other';

export interface Expected {
  /** The alert's labels besides alertname and severity. */
  labels: Record<string, string>;
  /** $value, where the annotations print it. */
  value?: number;
}

export interface RuleCase {
  alert: string;
  kind: CaseKind;
  name: string;
  series: { series: string; values: string }[];
  /** At each time (minutes from the first sample): the alerts firing, none for []. */
  evals: { at: number; firing: Expected[] }[];
  /**
   * A silent case in which the alert's condition does hold at some of its evals: only the `for:`
   * keeps it silent (checked by running the case with every `for:` at 0s, where it must fail).
   */
  transient?: true;
}

const NS = 'pullsecret-operator';
const POD = { a: '10.0.0.1:8080', b: '10.0.0.2:8080', c: '10.0.0.3:8080', d: '10.0.0.4:8080' } as const;
type Pod = keyof typeof POD;

/** The labels Prometheus gives a series of replica `pod` (a ServiceMonitor's target labels). */
const target = (pod: Pod): Record<string, string> => ({ job: JOB, namespace: NS, instance: POD[pod], pod: `pso-${pod}` });
const GROUP = { job: JOB, namespace: NS };

function s(metric: string, pod: Pod | undefined, values: string, extra: Record<string, string> = {}): { series: string; values: string } {
  const labels = { ...(pod ? target(pod) : GROUP), ...extra };
  return { series: `${metric}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(', ')}}`, values };
}

/** `v` for `n` samples (promtool's `vxN` is N+1 samples, but its `_xN` is N). */
const rep = (v: string | number, n: number): string => (n === 1 ? String(v) : v === '_' ? `_x${n}` : `${v}x${n - 1}`);
const join = (...parts: string[]): string => parts.join(' ');
/** `pattern` (space-separated samples) repeated `times` times. */
const cycle = (pattern: string, times: number): string => Array.from({ length: times }, () => pattern).join(' ');
const silent = (...at: number[]): RuleCase['evals'] => at.map((t) => ({ at: t, firing: [] }));

/**
 * The rolling update of `kubectl rollout restart`: c surges at 3m, a goes at 4m (its last scrape
 * fails while it shuts down), d surges at 5m, b goes at 6m. `steady` is each pod's value while it
 * runs, `first` the value of a new pod's first scrape.
 */
function rollingUpdate(metric: string, steady: string | number, first: string | number = steady, extra: Record<string, string> = {}): RuleCase['series'] {
  return [
    s(metric, 'a', join(rep(steady, 8), 'stale'), extra),
    s(metric, 'b', join(rep(steady, 12), 'stale'), extra),
    s(metric, 'c', join(rep('_', 6), String(first), rep(steady, 50)), extra),
    s(metric, 'd', join(rep('_', 10), String(first), rep(steady, 50)), extra),
  ];
}

export const CASES: readonly RuleCase[] = [
  // PullsecretOperatorDown
  {
    alert: 'PullsecretOperatorDown',
    kind: 'fires',
    name: 'both replicas stop answering at 10m',
    series: [s('up', 'a', join(rep(1, 20), rep(0, 40))), s('up', 'b', join(rep(1, 20), rep(0, 40)))],
    evals: [{ at: 14, firing: [] }, { at: 16, firing: [{ labels: GROUP }] }],
  },
  {
    alert: 'PullsecretOperatorDown',
    kind: 'other',
    name: 'Prometheus scrapes no target of the job at all (fires too)',
    series: [{ series: 'up{job="something-else", instance="10.0.0.9:9100"}', values: rep(1, 30) }],
    evals: [{ at: 4, firing: [] }, { at: 6, firing: [{ labels: { job: JOB } }] }],
  },
  { alert: 'PullsecretOperatorDown', kind: 'rolling-update', name: 'pods replaced one by one, a new pod fails its first scrape', series: rollingUpdate('up', 1, 0), evals: silent(3, 4.5, 6, 10, 20) },
  {
    alert: 'PullsecretOperatorDown',
    kind: 'api-server-restart',
    name: 'the leader cannot renew its Lease and restarts (two failed scrapes); the standby stays up',
    series: [s('up', 'a', join(rep(1, 10), rep(0, 2), rep(1, 40))), s('up', 'b', rep(1, 52))],
    evals: silent(6, 12),
  },

  // PullsecretOperatorReplicaDown
  {
    alert: 'PullsecretOperatorReplicaDown',
    kind: 'fires',
    name: 'replica b crash-loops (up one scrape in four); a is fine',
    series: [s('up', 'a', rep(1, 60)), s('up', 'b', cycle('1 0 0 0', 15))],
    evals: [{ at: 4, firing: [] }, { at: 10, firing: [{ labels: target('b') }] }],
  },
  {
    alert: 'PullsecretOperatorReplicaDown',
    kind: 'other',
    name: 'replica b hangs for good at 5m (fires once most of the 15m window is down)',
    series: [s('up', 'a', rep(1, 80)), s('up', 'b', join(rep(1, 10), rep(0, 70)))],
    evals: [{ at: 14, firing: [] }, { at: 18.5, firing: [{ labels: target('b') }] }],
  },
  { alert: 'PullsecretOperatorReplicaDown', kind: 'rolling-update', name: 'pods replaced one by one, a new pod fails its first scrape', series: rollingUpdate('up', 1, 0), evals: silent(3, 3.5, 6, 10, 20), transient: true },
  {
    alert: 'PullsecretOperatorReplicaDown',
    kind: 'api-server-restart',
    name: 'the leader restarts (two failed scrapes)',
    series: [s('up', 'a', join(rep(1, 10), rep(0, 2), rep(1, 40))), s('up', 'b', rep(1, 52))],
    evals: silent(6, 12, 20),
  },

  // PullsecretOperatorNoLeader
  {
    alert: 'PullsecretOperatorNoLeader',
    kind: 'fires',
    name: 'both replicas run, neither leads',
    series: [s('pullsecret_operator_leader', 'a', rep(0, 60)), s('pullsecret_operator_leader', 'b', rep(0, 60))],
    evals: [{ at: 9, firing: [] }, { at: 11, firing: [{ labels: GROUP }] }],
  },
  {
    alert: 'PullsecretOperatorNoLeader',
    kind: 'rolling-update',
    name: 'a releases the Lease on SIGTERM at 4m, b takes over, releases it at 6m, c takes over',
    series: [
      s('pullsecret_operator_leader', 'a', join(rep(1, 8), '0', 'stale')),
      s('pullsecret_operator_leader', 'b', join(rep(0, 9), rep(1, 3), '0', 'stale')),
      s('pullsecret_operator_leader', 'c', join(rep('_', 6), rep(0, 7), rep(1, 40))),
      s('pullsecret_operator_leader', 'd', join(rep('_', 10), rep(0, 45))),
    ],
    evals: silent(4, 6, 10, 20),
    transient: true,
  },
  {
    alert: 'PullsecretOperatorNoLeader',
    kind: 'api-server-restart',
    name: 'a 2-minute API server restart: the leader cannot renew and exits; b takes the Lease 15 s after the API server is back',
    series: [
      s('pullsecret_operator_leader', 'a', join(rep(1, 9), 'stale', rep('_', 3), rep(0, 40))),
      s('pullsecret_operator_leader', 'b', join(rep(0, 13), rep(1, 40))),
    ],
    evals: silent(5, 6, 10, 20),
    transient: true,
  },

  // PullsecretOperatorNamespacesOutOfSync
  {
    alert: 'PullsecretOperatorNamespacesOutOfSync',
    kind: 'fires',
    name: 'two namespaces stay out of sync from 2m (a foreign secret holds a copy name)',
    series: [s('pullsecret_operator_namespaces', 'a', join(rep(0, 4), rep(2, 60)), { state: 'out-of-sync' }), s('pullsecret_operator_namespaces', 'b', join(rep(0, 4), rep(2, 60)), { state: 'out-of-sync' })],
    evals: [{ at: 16, firing: [] }, { at: 18, firing: [{ labels: GROUP, value: 2 }] }],
  },
  {
    alert: 'PullsecretOperatorNamespacesOutOfSync',
    kind: 'rolling-update',
    name: 'new namespaces arrive during the update: one is seen out of sync for a scrape; new pods report once synced',
    series: rollingUpdate('pullsecret_operator_namespaces', 0, 1, { state: 'out-of-sync' }),
    evals: silent(3, 4, 10, 20),
    transient: true,
  },
  {
    alert: 'PullsecretOperatorNamespacesOutOfSync',
    kind: 'api-server-restart',
    name: 'namespaces created while the API server restarts stay out of sync for 5 minutes (writes fail, then back off up to 2 minutes)',
    series: [s('pullsecret_operator_namespaces', 'a', join(rep(0, 9), rep(3, 10), rep(0, 40)), { state: 'out-of-sync' }), s('pullsecret_operator_namespaces', 'b', join(rep(0, 9), rep(3, 10), rep(0, 40)), { state: 'out-of-sync' })],
    evals: silent(9, 15, 25),
    transient: true,
  },

  // PullsecretOperatorReconcileErrors
  {
    alert: 'PullsecretOperatorReconcileErrors',
    kind: 'fires',
    name: 'a reconcile fails every 30 s (a namespace whose writes are refused)',
    series: [s('controller_runtime_reconcile_errors_total', 'a', '0+1x60', { controller: 'pullsecret' }), s('controller_runtime_reconcile_errors_total', 'b', rep(0, 61), { controller: 'pullsecret' })],
    evals: [{ at: 14, firing: [] }, { at: 17, firing: [{ labels: GROUP }] }],
  },
  {
    alert: 'PullsecretOperatorReconcileErrors',
    kind: 'rolling-update',
    name: 'counters restart at 0 in the new pods',
    series: [
      s('controller_runtime_reconcile_errors_total', 'a', join(rep(3, 8), 'stale'), { controller: 'pullsecret' }),
      s('controller_runtime_reconcile_errors_total', 'b', join(rep(0, 12), 'stale'), { controller: 'pullsecret' }),
      s('controller_runtime_reconcile_errors_total', 'c', join(rep('_', 6), rep(0, 50)), { controller: 'pullsecret' }),
      s('controller_runtime_reconcile_errors_total', 'd', join(rep('_', 10), rep(0, 50)), { controller: 'pullsecret' }),
    ],
    evals: silent(5, 10, 20),
  },
  {
    alert: 'PullsecretOperatorReconcileErrors',
    kind: 'api-server-restart',
    name: 'reconciles fail for 3 minutes (the restart, then backoff), then succeed',
    series: [s('controller_runtime_reconcile_errors_total', 'a', join(rep(0, 10), '4+4x5', rep(24, 45)), { controller: 'pullsecret' })],
    evals: silent(7, 10, 14, 20, 25),
    transient: true,
  },

  // PullsecretOperatorWatchBroken
  {
    alert: 'PullsecretOperatorWatchBroken',
    kind: 'fires',
    name: "a's namespaces watch is broken from 2m; b's serviceaccounts watch flaps (broken, briefly healthy, broken)",
    series: [
      s('pullsecret_operator_informer_broken', 'a', join(rep(0, 4), rep(1, 60)), { informer: 'namespaces' }),
      s('pullsecret_operator_informer_broken', 'b', join(rep(0, 4), cycle('1 1 1 0', 15)), { informer: 'serviceaccounts' }),
    ],
    evals: [{ at: 11, firing: [] }, { at: 13, firing: [{ labels: { ...target('a'), informer: 'namespaces' } }, { labels: { ...target('b'), informer: 'serviceaccounts' } }] }],
  },
  {
    alert: 'PullsecretOperatorWatchBroken',
    kind: 'rolling-update',
    name: 'new pods report healthy watches once started',
    series: rollingUpdate('pullsecret_operator_informer_broken', 0, 0, { informer: 'namespaces' }),
    evals: silent(5, 10, 20),
  },
  {
    alert: 'PullsecretOperatorWatchBroken',
    kind: 'api-server-restart',
    name: 'every watch fails for the 2 minutes of the restart',
    series: [s('pullsecret_operator_informer_broken', 'a', join(rep(0, 9), rep(1, 4), rep(0, 40)), { informer: 'namespaces' }), s('pullsecret_operator_informer_broken', 'b', join(rep(0, 9), rep(1, 4), rep(0, 40)), { informer: 'namespaces' })],
    evals: silent(6, 10, 12, 20),
    transient: true,
  },

  // PullsecretOperatorSourceInvalid
  {
    alert: 'PullsecretOperatorSourceInvalid',
    kind: 'fires',
    name: 'a source is edited into unparseable data at 2m',
    series: [s('pullsecret_operator_sources', 'a', join(rep(0, 4), rep(1, 40)), { state: 'invalid' }), s('pullsecret_operator_sources', 'b', join(rep(0, 4), rep(1, 40)), { state: 'invalid' })],
    evals: [{ at: 11, firing: [] }, { at: 13, firing: [{ labels: GROUP, value: 1 }] }],
  },
  {
    alert: 'PullsecretOperatorSourceInvalid',
    kind: 'other',
    name: 'an edit that is fixed within 5 minutes',
    series: [s('pullsecret_operator_sources', 'a', join(rep(0, 4), rep(1, 10), rep(0, 30)), { state: 'invalid' })],
    evals: silent(4, 7, 12, 20),
    transient: true,
  },
  { alert: 'PullsecretOperatorSourceInvalid', kind: 'rolling-update', name: 'new pods report their sources once synced', series: rollingUpdate('pullsecret_operator_sources', 0, 0, { state: 'invalid' }), evals: silent(5, 10, 20) },
  {
    alert: 'PullsecretOperatorSourceInvalid',
    kind: 'api-server-restart',
    name: 'the caches keep their state; the restarted leader has no series until it has synced again',
    series: [s('pullsecret_operator_sources', 'a', join(rep(0, 9), 'stale', rep('_', 3), rep(0, 40)), { state: 'invalid' }), s('pullsecret_operator_sources', 'b', rep(0, 53), { state: 'invalid' })],
    evals: silent(6, 12, 20),
  },

  // PullsecretOperatorSourceCredentialsRejected
  {
    alert: 'PullsecretOperatorSourceCredentialsRejected',
    kind: 'fires',
    name: 'us.icr.io rejects the key of default/all-icr-io from 2m (the leader checks; the standby reports unchecked)',
    series: [
      s('pullsecret_operator_source_credentials', 'a', join(rep(0, 4), rep(1, 40)), { source: 'default/all-icr-io', registry: 'us.icr.io', result: 'rejected' }),
      s('pullsecret_operator_source_credentials', 'a', join(rep(1, 4), rep(0, 40)), { source: 'default/all-icr-io', registry: 'us.icr.io', result: 'valid' }),
      s('pullsecret_operator_source_credentials', 'a', rep(1, 44), { source: 'default/all-icr-io', registry: 'de.icr.io', result: 'valid' }),
      s('pullsecret_operator_source_credentials', 'b', rep(0, 44), { source: 'default/all-icr-io', registry: 'us.icr.io', result: 'rejected' }),
      s('pullsecret_operator_source_credentials', 'b', rep(1, 44), { source: 'default/all-icr-io', registry: 'us.icr.io', result: 'unchecked' }),
    ],
    evals: [{ at: 11, firing: [] }, { at: 13, firing: [{ labels: { ...GROUP, source: 'default/all-icr-io', registry: 'us.icr.io' } }] }],
  },
  {
    alert: 'PullsecretOperatorSourceCredentialsRejected',
    kind: 'other',
    name: 'a bad rotation put right within 5 minutes',
    series: [s('pullsecret_operator_source_credentials', 'a', join(rep(0, 4), rep(1, 10), rep(0, 30)), { source: 'default/all-icr-io', registry: 'us.icr.io', result: 'rejected' })],
    evals: silent(4, 7, 12, 20),
    transient: true,
  },
  {
    alert: 'PullsecretOperatorSourceCredentialsRejected',
    kind: 'rolling-update',
    name: 'each new leader starts unchecked and checks again',
    series: [...rollingUpdate('pullsecret_operator_source_credentials', 0, 0, { source: 'default/all-icr-io', registry: 'us.icr.io', result: 'rejected' }), ...rollingUpdate('pullsecret_operator_source_credentials', 1, 0, { source: 'default/all-icr-io', registry: 'us.icr.io', result: 'valid' })],
    evals: silent(5, 10, 20),
  },
  {
    alert: 'PullsecretOperatorSourceCredentialsRejected',
    kind: 'api-server-restart',
    name: 'the leader restarts; its results start over as unchecked',
    series: [
      s('pullsecret_operator_source_credentials', 'a', join(rep(0, 9), 'stale', rep('_', 3), rep(0, 40)), { source: 'default/all-icr-io', registry: 'us.icr.io', result: 'rejected' }),
      s('pullsecret_operator_source_credentials', 'a', join(rep(0, 9), 'stale', rep('_', 3), rep(1, 2), rep(0, 38)), { source: 'default/all-icr-io', registry: 'us.icr.io', result: 'unchecked' }),
    ],
    evals: silent(6, 12, 20),
  },

  // PullsecretOperatorWebhookNotServing
  {
    alert: 'PullsecretOperatorWebhookNotServing',
    kind: 'fires',
    name: "b's webhook stops serving at 2m (its certificate cannot be stored); a serves",
    series: [s('pullsecret_operator_webhook_serving', 'a', rep(1, 44)), s('pullsecret_operator_webhook_serving', 'b', join(rep(1, 4), rep(0, 40)))],
    evals: [{ at: 11, firing: [] }, { at: 13, firing: [{ labels: target('b') }] }],
  },
  { alert: 'PullsecretOperatorWebhookNotServing', kind: 'rolling-update', name: 'a new pod serves once its caches synced and its certificate loaded', series: rollingUpdate('pullsecret_operator_webhook_serving', 1, 0), evals: silent(3, 3.5, 5, 5.5, 10, 20), transient: true },
  {
    alert: 'PullsecretOperatorWebhookNotServing',
    kind: 'api-server-restart',
    name: 'the restarted leader serves again once synced',
    series: [s('pullsecret_operator_webhook_serving', 'a', join(rep(1, 9), 'stale', rep('_', 3), rep(0, 2), rep(1, 40))), s('pullsecret_operator_webhook_serving', 'b', rep(1, 56))],
    evals: silent(6, 7, 8, 20),
    transient: true,
  },
];

/** Prometheus's `{{ $labels.x }}` and `{{ $value }}`, the only template parts the rules use. */
export function expand(text: string, labels: Record<string, string>, value: number | undefined): string {
  return text.replace(/\{\{ \$labels\.([a-z_]+) \}\}/g, (_m, k: string) => labels[k] ?? '').replace(/\{\{ \$value \}\}/g, () => String(value ?? ''));
}

const minutes = (m: number): string => (Number.isInteger(m) ? `${m}m` : `${Math.round(m * 60)}s`);

/** The promtool unit test file for `rulesFile`. */
export function promtoolTests(rulesFile: string, cases: readonly RuleCase[] = CASES): Record<string, unknown> {
  const byName = new Map(ALERTS.map((a) => [a.alert, a]));
  return {
    rule_files: [rulesFile],
    evaluation_interval: '30s',
    tests: cases.map((c) => {
      const rule = byName.get(c.alert);
      if (!rule) throw new Error(`no alert ${c.alert}`);
      return {
        name: `${c.alert}: ${c.kind}: ${c.name}`,
        interval: '30s',
        input_series: c.series,
        alert_rule_test: c.evals.map((e) => ({
          eval_time: minutes(e.at),
          alertname: c.alert,
          exp_alerts: e.firing.map((f) => {
            const labels = { ...f.labels, severity: rule.severity };
            return { exp_labels: labels, exp_annotations: { summary: expand(rule.summary, labels, f.value), description: expand(rule.description, labels, f.value), runbook_url: runbookUrl(rule.alert) } };
          }),
        })),
      };
    }),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${JSON.stringify(promtoolTests(process.argv[2] ?? 'monitoring/pullsecret-operator.rules.yaml'), null, 2)}\n`);
}
