/**
 * The Grafana dashboard: the one source of truth of monitoring/pullsecret-operator-dashboard.json,
 * the chart's copy (charts/pullsecret-operator/files/) and the ConfigMap of manifests/monitoring/.
 * generate.ts writes them; test/unit/monitoring.test.ts lints the dashboard and fails on drift, and
 * test/integration/monitoring.test.ts runs every query against a real Prometheus scraping the
 * operator. Each panel's description is what docs/monitoring.md says of it.
 */

/** A query of a panel: PromQL over the variables $job, $instance and $__rate_interval. */
export interface Target {
  expr: string;
  legendFormat?: string;
  /** Tables read the latest value only. */
  instant?: boolean;
}

export interface PanelSpec {
  title: string;
  description: string;
  type: 'stat' | 'timeseries' | 'table' | 'bargauge';
  unit: string;
  /** Grid width (of 24) and height. */
  w: number;
  h: number;
  targets: Target[];
  /** Stat panels: the value from which it turns red (green below). */
  redFrom?: number;
}

export interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

const J = 'job=~"$job"';
const JI = `${J}, instance=~"$instance"`;
const RI = '$__rate_interval';

export const ROWS: readonly RowSpec[] = [
  {
    title: 'Coverage: are all namespaces covered?',
    panels: [
      {
        title: 'Namespaces out of sync',
        description: 'Namespaces that should get the pull secrets and lack a copy or a ServiceAccount entry. 0 is healthy; a new namespace is out of sync for a moment only. The alert PullsecretOperatorNamespacesOutOfSync fires when this stays above 0 for 15 minutes.',
        type: 'stat',
        unit: 'none',
        w: 6,
        h: 5,
        redFrom: 1,
        targets: [{ expr: `max(pullsecret_operator_namespaces{${J}, state="out-of-sync"})` }],
      },
      {
        title: 'Namespaces in sync',
        description: 'Namespaces that have every copy, and whose selected ServiceAccounts list them all.',
        type: 'stat',
        unit: 'none',
        w: 6,
        h: 5,
        targets: [{ expr: `max(pullsecret_operator_namespaces{${J}, state="in-sync"})` }],
      },
      {
        title: 'Copies managed',
        description: 'Secrets the operator made and keeps in sync, in every namespace.',
        type: 'stat',
        unit: 'none',
        w: 6,
        h: 5,
        targets: [{ expr: `max(pullsecret_operator_managed_copies{${J}})` }],
      },
      {
        title: 'Namespaces by state',
        description: 'Every namespace by the state `pullsecret-operator status` gives it: in-sync, out-of-sync, excluded (the source namespace, kube-*, --exclude-namespaces, outside --namespace-selector), opted-out, terminating.',
        type: 'bargauge',
        unit: 'none',
        w: 6,
        h: 5,
        targets: [{ expr: `max by (state) (pullsecret_operator_namespaces{${J}})`, legendFormat: '{{state}}', instant: true }],
      },
      {
        title: 'Namespaces by state, over time',
        description: 'The same states over time: a step in out-of-sync that does not come back down is a namespace the operator cannot fix.',
        type: 'timeseries',
        unit: 'none',
        w: 24,
        h: 7,
        targets: [{ expr: `max by (state) (pullsecret_operator_namespaces{${J}})`, legendFormat: '{{state}}' }],
      },
    ],
  },
  {
    title: 'Which namespaces are not covered, and why?',
    panels: [
      {
        title: 'Out-of-sync namespaces and their problems',
        description:
          'From the leader: each out-of-sync namespace with the kinds of its problems and how many of each (copy-missing, copy-outdated, copy-recreate, copy-to-delete, foreign-secret, invalid-name, name-collision, serviceaccount-missing, serviceaccount-extra). At most 50 namespaces are listed, the first in name order; `pullsecret-operator status` lists them all, in sentences.',
        type: 'table',
        unit: 'none',
        w: 24,
        h: 8,
        targets: [{ expr: `max by (target_namespace, problem) (pullsecret_operator_namespace_problems{${J}} and on (job, instance) (pullsecret_operator_leader{${J}} == 1))`, instant: true }],
      },
    ],
  },
  {
    title: 'Sources and their credentials',
    panels: [
      {
        title: 'Sources copied',
        description: 'Pull secrets of the source namespace that are copied into every target namespace.',
        type: 'stat',
        unit: 'none',
        w: 6,
        h: 5,
        targets: [{ expr: `max(pullsecret_operator_sources{${J}, state="copied"})` }],
      },
      {
        title: 'Sources invalid',
        description: 'Pull secrets (or secrets labelled pullsecret-operator.io/copy=true) that cannot be copied: their data does not parse, or their type is not a pull secret type. The alert PullsecretOperatorSourceInvalid fires after 10 minutes.',
        type: 'stat',
        unit: 'none',
        w: 6,
        h: 5,
        redFrom: 1,
        targets: [{ expr: `max(pullsecret_operator_sources{${J}, state="invalid"})` }],
      },
      {
        title: 'Sources ignored',
        description: 'Pull secrets of the source namespace that are not copied by design: labelled pullsecret-operator.io/copy=false, or naming a registry outside --registry-hosts.',
        type: 'stat',
        unit: 'none',
        w: 6,
        h: 5,
        targets: [{ expr: `max(pullsecret_operator_sources{${J}, state="ignored"})` }],
      },
      {
        title: 'Credentials rejected',
        description: 'Registries that rejected (401 or 403) the credentials of a source at the last check. The alert PullsecretOperatorSourceCredentialsRejected fires after 10 minutes.',
        type: 'stat',
        unit: 'none',
        w: 6,
        h: 5,
        redFrom: 1,
        targets: [{ expr: `count(max by (source, registry) (pullsecret_operator_source_credentials{${J}, result="rejected"}) == 1) or vector(0)` }],
      },
      {
        title: 'Credentials by source and registry',
        description: 'The result of the last check of each source against each registry host it names: valid, rejected, unreachable (no verdict: DNS, TCP, TLS, a timeout or a 5xx) or unchecked. Only the leader checks.',
        type: 'table',
        unit: 'none',
        w: 24,
        h: 7,
        targets: [{ expr: `max by (source, registry, result) (pullsecret_operator_source_credentials{${J}}) == 1`, instant: true }],
      },
    ],
  },
  {
    title: 'Reaction speed',
    panels: [
      {
        title: 'Reconcile latency',
        description: 'How long a reconcile of one namespace takes, p50 and p99 (controller_runtime_reconcile_time_seconds, the leader only reconciles). A new namespace is covered in about that time after its watch event.',
        type: 'timeseries',
        unit: 's',
        w: 8,
        h: 8,
        targets: [
          { expr: `histogram_quantile(0.5, sum by (le) (rate(controller_runtime_reconcile_time_seconds_bucket{${JI}}[${RI}])))`, legendFormat: 'p50' },
          { expr: `histogram_quantile(0.99, sum by (le) (rate(controller_runtime_reconcile_time_seconds_bucket{${JI}}[${RI}])))`, legendFormat: 'p99' },
        ],
      },
      {
        title: 'Work queue depth',
        description: 'Namespaces waiting to be reconciled. It rises with a burst of new namespaces or a rotation (every namespace) and should drain in seconds.',
        type: 'timeseries',
        unit: 'none',
        w: 8,
        h: 8,
        targets: [{ expr: `max by (instance) (workqueue_depth{${JI}})`, legendFormat: '{{instance}}' }],
      },
      {
        title: 'Reconciles by result',
        description: 'Reconciles a second by result, and retries with backoff. Errors that do not stop are the alert PullsecretOperatorReconcileErrors.',
        type: 'timeseries',
        unit: 'ops',
        w: 8,
        h: 8,
        targets: [
          { expr: `sum by (result) (rate(controller_runtime_reconcile_total{${JI}}[${RI}]))`, legendFormat: '{{result}}' },
          { expr: `sum(rate(workqueue_retries_total{${JI}}[${RI}]))`, legendFormat: 'retries' },
        ],
      },
    ],
  },
  {
    title: 'What it costs the API server',
    panels: [
      {
        title: 'API requests by verb and code',
        description: 'Requests the operator makes to the API server, a second, by verb and HTTP status code (2xx: success; <error>: no answer). Watches are counted when they end. Idle, it makes none but its watches and the Lease.',
        type: 'timeseries',
        unit: 'reqps',
        w: 12,
        h: 8,
        targets: [{ expr: `sum by (verb, code) (rate(pullsecret_operator_api_requests_total{${JI}}[${RI}]))`, legendFormat: '{{verb}} {{code}}' }],
      },
      {
        title: 'API requests by resource',
        description: 'The same requests by resource: namespaces, secrets, serviceaccounts, events, leases, mutatingwebhookconfigurations.',
        type: 'timeseries',
        unit: 'reqps',
        w: 12,
        h: 8,
        targets: [{ expr: `sum by (resource) (rate(pullsecret_operator_api_requests_total{${JI}}[${RI}]))`, legendFormat: '{{resource}}' }],
      },
      {
        title: 'Writes and conflicts',
        description: 'Writes of copies by operation, ServiceAccount patches, and 409 Conflicts (retried at once after a fresh read).',
        type: 'timeseries',
        unit: 'ops',
        w: 12,
        h: 8,
        targets: [
          { expr: `sum by (op) (rate(pullsecret_operator_secret_writes_total{${JI}}[${RI}]))`, legendFormat: 'secret {{op}}' },
          { expr: `sum(rate(pullsecret_operator_serviceaccount_patches_total{${JI}}[${RI}]))`, legendFormat: 'serviceaccount patch' },
          { expr: `sum by (kind) (rate(pullsecret_operator_conflicts_total{${JI}}[${RI}]))`, legendFormat: 'conflict {{kind}}' },
        ],
      },
      {
        title: 'Watch restarts and broken watches',
        description: 'Watch restarts after errors and silent watches reopened, by informer; and watches that count as broken (1), which is the alert PullsecretOperatorWatchBroken.',
        type: 'timeseries',
        unit: 'none',
        w: 12,
        h: 8,
        targets: [
          { expr: `sum by (informer) (increase(pullsecret_operator_informer_restarts_total{${JI}}[${RI}]))`, legendFormat: 'restarts {{informer}}' },
          { expr: `max by (informer) (pullsecret_operator_informer_broken{${JI}})`, legendFormat: 'broken {{informer}}' },
        ],
      },
    ],
  },
  {
    title: 'Leader and webhook',
    panels: [
      {
        title: 'Replicas up, and the leader',
        description: 'Each replica: scraped (up) and whether it holds the Lease (leader). Exactly one replica leads; a handover shows as the leader moving from one replica to another.',
        type: 'timeseries',
        unit: 'none',
        w: 8,
        h: 8,
        targets: [
          { expr: `up{${JI}}`, legendFormat: '{{instance}} up' },
          { expr: `pullsecret_operator_leader{${JI}}`, legendFormat: '{{instance}} leader' },
        ],
      },
      {
        title: 'Webhook serving',
        description: 'Each replica whose webhook is switched on: 1 while it serves, 0 while it does not (the alert PullsecretOperatorWebhookNotServing). No series when the webhook is off.',
        type: 'timeseries',
        unit: 'none',
        w: 8,
        h: 8,
        targets: [{ expr: `pullsecret_operator_webhook_serving{${JI}}`, legendFormat: '{{instance}}' }],
      },
      {
        title: 'Webhook admissions by result',
        description: 'ServiceAccount creations the webhook answered, a second: patched (born with the pull secrets), unchanged (nothing to add), error (admitted unchanged; the reconciler patches it).',
        type: 'timeseries',
        unit: 'ops',
        w: 8,
        h: 8,
        targets: [{ expr: `sum by (result) (rate(pullsecret_operator_webhook_admissions_total{${JI}}[${RI}]))`, legendFormat: '{{result}}' }],
      },
      {
        title: 'Webhook admission latency',
        description: "How long the webhook takes to answer the API server, p50 and p99, from the operator's own histogram, and p99 by whether it read the API server live (a namespace created a moment before). This is what the webhook adds to each ServiceAccount create; docs/monitoring.md has the measured figures (npm run bench -- webhook).",
        type: 'timeseries',
        unit: 's',
        w: 12,
        h: 8,
        targets: [
          { expr: `histogram_quantile(0.5, sum by (le) (rate(pullsecret_operator_webhook_admission_duration_seconds_bucket{${JI}}[${RI}])))`, legendFormat: 'p50' },
          { expr: `histogram_quantile(0.99, sum by (le) (rate(pullsecret_operator_webhook_admission_duration_seconds_bucket{${JI}}[${RI}])))`, legendFormat: 'p99' },
          { expr: `histogram_quantile(0.99, sum by (le, live_read) (rate(pullsecret_operator_webhook_admission_duration_seconds_bucket{${JI}}[${RI}])))`, legendFormat: 'p99, live read {{live_read}}' },
        ],
      },
      {
        title: 'Webhook certificate errors',
        description: 'Failures to store, renew or publish the webhook certificate, by reason. Sustained errors end in a webhook that does not serve.',
        type: 'timeseries',
        unit: 'none',
        w: 12,
        h: 8,
        targets: [{ expr: `sum by (reason) (increase(pullsecret_operator_webhook_certificate_errors_total{${JI}}[${RI}]))`, legendFormat: '{{reason}}' }],
      },
    ],
  },
  {
    title: 'Memory and CPU',
    panels: [
      {
        title: 'Memory',
        description: 'Resident memory of each replica, and the V8 heap in use. The manifests limit memory to 192Mi (sized for 5,000 namespaces; see docs/sizing.md).',
        type: 'timeseries',
        unit: 'bytes',
        w: 8,
        h: 8,
        targets: [
          { expr: `process_resident_memory_bytes{${JI}}`, legendFormat: '{{instance}} RSS' },
          { expr: `nodejs_heap_size_used_bytes{${JI}}`, legendFormat: '{{instance}} heap used' },
        ],
      },
      {
        title: 'CPU',
        description: 'CPU seconds a second of each replica. The leader works in bursts (new namespaces, a rotation, the resync every 10 minutes); a standby is near 0.',
        type: 'timeseries',
        unit: 'percentunit',
        w: 8,
        h: 8,
        targets: [{ expr: `rate(process_cpu_seconds_total{${JI}}[${RI}])`, legendFormat: '{{instance}}' }],
      },
      {
        title: 'Event loop lag',
        description: "p99 of Node's event loop lag: how long work waits for the one thread. Sustained lag above a few hundred milliseconds slows reconciles and the webhook alike.",
        type: 'timeseries',
        unit: 's',
        w: 8,
        h: 8,
        targets: [{ expr: `nodejs_eventloop_lag_p99_seconds{${JI}}`, legendFormat: '{{instance}}' }],
      },
    ],
  },
];

const DS = { type: 'prometheus', uid: '${datasource}' };

/** Builds the dashboard JSON model (Grafana 10 and later). */
export function dashboard(): Record<string, unknown> {
  const panels: Record<string, unknown>[] = [];
  let id = 1;
  let y = 0;
  for (const row of ROWS) {
    panels.push({ type: 'row', id: id++, title: row.title, collapsed: false, gridPos: { x: 0, y, w: 24, h: 1 }, panels: [] });
    y += 1;
    let x = 0;
    let rowHeight = 0;
    for (const p of row.panels) {
      if (x + p.w > 24) {
        x = 0;
        y += rowHeight;
        rowHeight = 0;
      }
      panels.push(panel(p, id++, { x, y, w: p.w, h: p.h }));
      x += p.w;
      rowHeight = Math.max(rowHeight, p.h);
    }
    y += rowHeight;
  }
  return {
    uid: 'pullsecret-operator',
    title: 'pullsecret-operator',
    description: 'Are all namespaces covered with the icr.io pull secrets, and if not, why? Sources, credentials, reaction speed, API-server cost, leader, webhook, memory and CPU. See docs/monitoring.md.',
    tags: ['pullsecret-operator', 'kubernetes'],
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    timepicker: {},
    timezone: 'browser',
    annotations: { list: [] },
    links: [{ title: 'Runbooks', type: 'link', url: 'https://github.com/pullsecret-operator/pullsecret-operator/blob/main/docs/monitoring.md', targetBlank: true, icon: 'doc' }],
    templating: {
      list: [
        { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {}, hide: 0, refresh: 1, regex: '', options: [] },
        {
          name: 'job',
          label: 'Job',
          type: 'query',
          datasource: DS,
          query: { query: 'label_values(pullsecret_operator_leader, job)', refId: 'job' },
          definition: 'label_values(pullsecret_operator_leader, job)',
          current: {},
          hide: 0,
          refresh: 2,
          sort: 1,
          multi: false,
          includeAll: false,
          options: [],
        },
        {
          name: 'instance',
          label: 'Replica',
          type: 'query',
          datasource: DS,
          query: { query: 'label_values(pullsecret_operator_leader{job=~"$job"}, instance)', refId: 'instance' },
          definition: 'label_values(pullsecret_operator_leader{job=~"$job"}, instance)',
          current: {},
          hide: 0,
          refresh: 2,
          sort: 1,
          multi: true,
          includeAll: true,
          allValue: '.*',
          options: [],
        },
      ],
    },
    panels,
  };
}

function panel(p: PanelSpec, id: number, gridPos: { x: number; y: number; w: number; h: number }): Record<string, unknown> {
  const thresholds = {
    mode: 'absolute',
    steps: [{ color: 'green', value: null }, ...(p.redFrom === undefined ? [] : [{ color: 'red', value: p.redFrom }])],
  };
  const options: Record<string, unknown> =
    p.type === 'stat'
      ? { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'background', graphMode: 'area', textMode: 'auto', justifyMode: 'auto', orientation: 'auto' }
      : p.type === 'bargauge'
        ? { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, displayMode: 'basic', orientation: 'horizontal', showUnfilled: true }
        : p.type === 'table'
          ? { showHeader: true, cellHeight: 'sm', footer: { show: false, reducer: ['sum'], fields: '' } }
          : { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } };
  return {
    id,
    type: p.type,
    title: p.title,
    description: p.description,
    datasource: DS,
    gridPos,
    fieldConfig: { defaults: { unit: p.unit, thresholds, color: { mode: p.type === 'timeseries' ? 'palette-classic' : 'thresholds' } }, overrides: [] },
    options,
    ...(p.type === 'table' ? { transformations: [{ id: 'labelsToFields', options: { mode: 'columns' } }, { id: 'organize', options: { excludeByName: { Time: true } } }] } : {}),
    targets: p.targets.map((t, i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: DS,
      expr: t.expr,
      ...(t.legendFormat ? { legendFormat: t.legendFormat } : {}),
      ...(t.instant ? { instant: true, range: false, format: 'table' } : { range: true }),
    })),
  };
}
