/**
 * The alert rules: the one source of truth of the plain rules file
 * (monitoring/pullsecret-operator.rules.yaml), the PrometheusRule of manifests/monitoring/ and
 * the chart's template (charts/pullsecret-operator/templates/prometheusrule.yaml). generate.ts
 * writes all three; test/unit/monitoring.test.ts fails when any of them differs from what this
 * module renders, and test/monitoring/rules.test.yaml judges every alert with `promtool test rules`.
 *
 * Why each threshold and `for:` does not page on a rolling update or on an API server restart is
 * written in docs/monitoring.md, next to each alert's runbook.
 */

/** The scrape job of the operator: the ServiceMonitor's (the metrics Service's name), and the plain scrape config's in the docs. */
export const JOB = 'pullsecret-operator-metrics';
const J = `job="${JOB}"`;

export const RUNBOOK_BASE = 'https://github.com/pullsecret-operator/pullsecret-operator/blob/main/docs/monitoring.md';

export interface AlertRule {
  alert: string;
  expr: string;
  /** The shipped duration; the chart's prometheusRule.forOverride replaces it (tests only). */
  for: string;
  severity: 'critical' | 'warning';
  summary: string;
  /** What it means and what to do. */
  description: string;
}

export const ALERTS: readonly AlertRule[] = [
  {
    alert: 'PullsecretOperatorDown',
    expr: `max by (job, namespace) (up{${J}}) < 1 or absent(up{${J}})`,
    for: '5m',
    severity: 'critical',
    summary: 'No replica of pullsecret-operator answers Prometheus.',
    description:
      'For 5 minutes no target of job {{ $labels.job }} was scraped successfully: every replica is down, or Prometheus does not scrape the operator at all. ' +
      'New namespaces get no pull secrets meanwhile, and rotated keys are not copied. Check `kubectl -n pullsecret-operator get pods` and the pods\' events and logs, ' +
      'and that the ServiceMonitor (or your scrape job) selects the Service pullsecret-operator-metrics.',
  },
  {
    alert: 'PullsecretOperatorReplicaDown',
    expr: `avg_over_time(up{${J}}[15m]) < 0.5`,
    for: '5m',
    severity: 'warning',
    summary: 'A pullsecret-operator replica fails most of its scrapes.',
    description:
      'Replica {{ $labels.instance }} answered fewer than half of its scrapes over 15 minutes: it crashes or hangs. Another replica still serves, so nothing is lost yet, ' +
      'but there is no warm standby. Look at `kubectl -n pullsecret-operator describe pod` (restarts, OOMKilled, probes) and its logs.',
  },
  {
    alert: 'PullsecretOperatorNoLeader',
    expr: `max by (job, namespace) (pullsecret_operator_leader{${J}}) < 1`,
    for: '10m',
    severity: 'critical',
    summary: 'No pullsecret-operator replica holds the Lease: nothing reconciles.',
    description:
      'The replicas run but none has led for 10 minutes, so no copy is made or updated. They cannot take or renew the Lease pullsecret-operator: ' +
      'check that the API server is reachable from the pods, the Role and RoleBinding for leases, and `kubectl -n pullsecret-operator get lease pullsecret-operator -o yaml`.',
  },
  {
    alert: 'PullsecretOperatorNamespacesOutOfSync',
    expr: `max by (job, namespace) (pullsecret_operator_namespaces{${J}, state="out-of-sync"}) > 0`,
    for: '15m',
    severity: 'warning',
    summary: '{{ $value }} namespaces have stayed out of sync for 15 minutes.',
    description:
      '{{ $value }} namespaces that should get the pull secrets lack a copy or a ServiceAccount entry, and the operator has not fixed it in 15 minutes: pods there may fail to pull. ' +
      'The dashboard\'s table, or `pullsecret-operator status`, names them and says why (a secret of yours holding a copy\'s name, a write refused, a name too long); ' +
      '`kubectl get events -n <namespace>` has the Warning.',
  },
  {
    alert: 'PullsecretOperatorReconcileErrors',
    expr: `sum by (job, namespace) (rate(controller_runtime_reconcile_errors_total{${J}}[5m])) > 0`,
    for: '15m',
    severity: 'warning',
    summary: 'pullsecret-operator has failed reconciles for 15 minutes.',
    description:
      'Reconciles keep failing, and are retried with backoff. The leader\'s log says why: ' +
      '`kubectl -n pullsecret-operator logs deploy/pullsecret-operator | grep "reconcile failed"` (RBAC, an admission webhook or a quota refusing writes, API server trouble).',
  },
  {
    alert: 'PullsecretOperatorWatchBroken',
    expr: `max_over_time(pullsecret_operator_informer_broken{${J}}[5m]) == 1`,
    for: '10m',
    severity: 'warning',
    summary: 'The {{ $labels.informer }} watch of a pullsecret-operator replica is broken.',
    description:
      'The {{ $labels.informer }} watch of {{ $labels.instance }} has failed, or gone silent again and again, for 10 minutes, so its cache is stale and changes are missed. ' +
      'Its `watch failed; restarting` and `watch silent; reconnecting` log lines say why: RBAC, the network between the pod and the API server (a proxy or load balancer dropping idle connections), or the API server itself.',
  },
  {
    alert: 'PullsecretOperatorSourceInvalid',
    expr: `max by (job, namespace) (pullsecret_operator_sources{${J}, state="invalid"}) > 0`,
    for: '10m',
    severity: 'warning',
    summary: 'Pull secrets of the source namespace are skipped as invalid: {{ $value }}.',
    description:
      'A pull secret of the source namespace (or a secret labelled pullsecret-operator.io/copy=true) does not parse, or is not of a pull secret type, so the operator skips it: ' +
      'no copy of it is made or updated. `pullsecret-operator status` names it and says why; so does its Warning Event InvalidSource. Fix or remove the secret.',
  },
  {
    alert: 'PullsecretOperatorSourceCredentialsRejected',
    expr: `max by (job, namespace, source, registry) (pullsecret_operator_source_credentials{${J}, result="rejected"}) == 1`,
    for: '10m',
    severity: 'critical',
    summary: 'Registry {{ $labels.registry }} rejects the credentials of {{ $labels.source }}.',
    description:
      '{{ $labels.registry }} answered 401 or 403 to the credentials of {{ $labels.source }} for 10 minutes: every pod that pulls from it with these copies will fail with 401 Unauthorized. ' +
      'The API key behind the secret was deleted, disabled or rotated badly. Renew it (for icr.io: a new API key, then the secret in the source namespace); the operator copies the new one at once. ' +
      'The Warning Event CredentialsRejected on the secret names the HTTP status.',
  },
  {
    alert: 'PullsecretOperatorWebhookNotServing',
    expr: `pullsecret_operator_webhook_serving{${J}} == 0`,
    for: '10m',
    severity: 'warning',
    summary: 'The admission webhook of {{ $labels.instance }} is switched on but not serving.',
    description:
      'The ServiceAccount webhook of {{ $labels.instance }} has not served for 10 minutes. It fails open, so nothing is refused, but pods created right after their ServiceAccount may miss the pull secrets again. ' +
      'The replica is not ready meanwhile. Its log and the metric pullsecret_operator_webhook_certificate_errors_total say why (usually the certificate Secret pullsecret-operator-webhook-tls).',
  },
];

/** The heading of an alert's runbook section in docs/monitoring.md, and so its anchor. */
export function runbookUrl(alert: string): string {
  return `${RUNBOOK_BASE}#${alert.toLowerCase()}`;
}

export interface RuleGroups {
  groups: {
    name: string;
    rules: { alert: string; expr: string; for: string; labels: { severity: string }; annotations: { summary: string; description: string; runbook_url: string } }[];
  }[];
}

/** The rules as a rules file's (and a PrometheusRule's spec's) `groups`; `forOf` chooses each `for:`. */
export function ruleGroups(forOf: (a: AlertRule) => string = (a) => a.for): RuleGroups {
  return {
    groups: [
      {
        name: 'pullsecret-operator',
        rules: ALERTS.map((a) => ({
          alert: a.alert,
          expr: a.expr,
          for: forOf(a),
          labels: { severity: a.severity },
          annotations: { summary: a.summary, description: a.description, runbook_url: runbookUrl(a.alert) },
        })),
      },
    ],
  };
}
