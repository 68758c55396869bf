/**
 * Prometheus metrics through prom-client, on a registry of their own (no global state).
 * controller-runtime and workqueue names are used where they exist, so existing dashboards work.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { type Clock, systemClock } from './clock.js';
import type { OperatorMetrics } from './controller/operator.js';
import type { InformerStatus } from './kube/informers.js';
import type { WorkQueueEvent } from './controller/workqueue.js';
import { NAMESPACE_STATES, SOURCE_STATES, type NamespaceStatus, type SourceStatus, countByState, countSources } from './domain/status.js';
import type { WebhookStatusMetrics } from './webhook/run.js';
import type { TlsProblemReason } from './webhook/tls.js';
import { CHECK_RESULTS, type CheckResult } from './registry/check.js';

const CONTROLLER = 'pullsecret';

/**
 * Out-of-sync namespaces listed by name in pullsecret_operator_namespace_problems: the first ones in
 * name order. A label per namespace is safe only because it is bounded: a series exists only while
 * its namespace is out of sync, and never for more than this many namespaces (times the few problem
 * kinds), however large the cluster or however broken. The total is pullsecret_operator_namespaces.
 */
export const LISTED_NAMESPACES = 50;

/** How long one computation of the namespaces' states serves the gauges built on it: one scrape. */
const SCRAPE_MEMO_MS = 1000;

/** `f`, computed at most once per SCRAPE_MEMO_MS: the gauges that read it are collected in one scrape. */
function perScrape<T>(clock: Pick<Clock, 'monotonic'>, f: (() => T) | undefined): () => T | undefined {
  let memo: { at: number; value: T } | undefined;
  return () => {
    if (!f) return undefined;
    const now = clock.monotonic();
    if (!memo || now - memo.at > SCRAPE_MEMO_MS) memo = { at: now, value: f() };
    return memo.value;
  };
}

export class Metrics implements OperatorMetrics, WebhookStatusMetrics {
  readonly registry = new Registry();
  readonly reconcileTotal = new Counter({ name: 'controller_runtime_reconcile_total', help: 'Reconciles by result', labelNames: ['controller', 'result'], registers: [this.registry] });
  readonly reconcileErrors = new Counter({ name: 'controller_runtime_reconcile_errors_total', help: 'Reconciles that failed', labelNames: ['controller'], registers: [this.registry] });
  readonly reconcileTime = new Histogram({
    name: 'controller_runtime_reconcile_time_seconds',
    help: 'Reconcile durations',
    labelNames: ['controller'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly queueDepth: Gauge<'name'>;
  readonly queueRetries = new Counter({ name: 'workqueue_retries_total', help: 'Keys requeued with backoff', labelNames: ['name'], registers: [this.registry] });
  readonly managedCopies: Gauge;
  readonly secretWrites = new Counter({ name: 'pullsecret_operator_secret_writes_total', help: 'Writes of copies by operation', labelNames: ['op'], registers: [this.registry] });
  readonly saPatches = new Counter({ name: 'pullsecret_operator_serviceaccount_patches_total', help: 'ServiceAccount imagePullSecrets patches', registers: [this.registry] });
  readonly conflicts = new Counter({ name: 'pullsecret_operator_conflicts_total', help: '409 Conflicts on writes, by object kind', labelNames: ['kind'], registers: [this.registry] });
  readonly foreignSecrets = new Counter({ name: 'pullsecret_operator_foreign_secret_conflicts_total', help: 'Times a copy name was found held by a secret that is not ours', registers: [this.registry] });
  readonly informerRestarts = new Counter({ name: 'pullsecret_operator_informer_restarts_total', help: 'Informer list/watch restarts after errors, and silent watches reopened', labelNames: ['informer'], registers: [this.registry] });
  readonly informerLastEvent = new Gauge({ name: 'pullsecret_operator_informer_last_event_timestamp_seconds', help: 'Unix time of the last event, list, or first data or bookmark of a watch, of each informer', labelNames: ['informer'], registers: [this.registry] });
  readonly leader = new Gauge({ name: 'pullsecret_operator_leader', help: '1 when this replica is the leader', registers: [this.registry] });
  readonly events = new Counter({ name: 'pullsecret_operator_events_total', help: 'Warning Events recorded, by reason', labelNames: ['reason'], registers: [this.registry] });
  readonly namespaces: Gauge<'state'>;
  readonly namespaceProblems: Gauge<'target_namespace' | 'problem'>;
  readonly sources: Gauge<'state'>;
  readonly apiRequests = new Counter({
    name: 'pullsecret_operator_api_requests_total',
    help: 'Requests to the API server, by verb, resource and HTTP status code (<error>: no answer)',
    labelNames: ['verb', 'resource', 'code'],
    registers: [this.registry],
  });
  readonly sourceCredentials: Gauge<'source' | 'registry' | 'result'>;
  readonly admissions = new Counter({
    name: 'pullsecret_operator_webhook_admissions_total',
    help: 'ServiceAccount creations the webhook answered, by result (patched, unchanged, error: admitted unchanged)',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly admissionTime = new Histogram({
    name: 'pullsecret_operator_webhook_admission_duration_seconds',
    help: 'How long the webhook took to answer, by whether it read the API server live',
    labelNames: ['live_read'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly webhookCertificateErrors = new Counter({
    name: 'pullsecret_operator_webhook_certificate_errors_total',
    help: 'Passes of the webhook certificate loop that failed, by reason (foreign-secret: a Secret of that name is not the operator\'s and holds no usable certificate; forbidden; error)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly informerBroken: Gauge<'informer'>;
  readonly webhookServing: Gauge | undefined;
  readonly #clock: Pick<Clock, 'now' | 'monotonic'>;

  /**
   * `namespaceStatuses` and `sourceStatuses`: the states `pullsecret-operator status` reports, from
   * the caches; undefined until they have synced (the gauges then have no series).
   */
  // eslint-disable-next-line max-lines-per-function -- one declaration per metric read at scrape time: a table, not logic
  constructor(
    opts: {
      defaultMetrics?: boolean;
      /** The wall clock of the timestamp gauges, and the monotonic one of the per-scrape memo. Default: the system clock. */
      clock?: Pick<Clock, 'now' | 'monotonic'>;
      depth?: () => number;
      copies?: () => number;
      namespaceStatuses?: () => readonly NamespaceStatus[] | undefined;
      sourceStatuses?: () => readonly SourceStatus[] | undefined;
      /** Each informer and whether it counts as broken now (failing, or its watches silent again and again). */
      informers?: () => readonly { name: string; broken: boolean }[];
      /** With the webhook on: whether it serves. Without, the gauge is not exported. */
      webhookServing?: () => boolean;
      /** The credential check's current results (leader only; none elsewhere). */
      credentials?: () => readonly { source: string; host: string; result: CheckResult }[] | undefined;
    } = {},
  ) {
    this.#clock = opts.clock ?? systemClock;
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    // Every series that alerts and dashboards read starts at 0: a series born at 1 has no first
    // increment for rate() and increase() to see, and a query of an absent series returns nothing.
    for (const result of ['success', 'error']) this.reconcileTotal.inc({ controller: CONTROLLER, result }, 0);
    this.reconcileErrors.inc({ controller: CONTROLLER }, 0);
    this.queueRetries.inc({ name: CONTROLLER }, 0);
    for (const op of ['create', 'update', 'recreate', 'delete']) this.secretWrites.inc({ op }, 0);
    for (const kind of ['secret', 'serviceaccount']) this.conflicts.inc({ kind }, 0);
    const { depth, copies, sourceStatuses, informers, webhookServing, credentials } = opts;
    const namespaceStatuses = perScrape(this.#clock, opts.namespaceStatuses);
    this.informerBroken = new Gauge({
      name: 'pullsecret_operator_informer_broken',
      help: '1 while the informer counts as broken: its list or watch failing, or its watches hearing nothing, not even a bookmark, twice in a row (2 x 75 s)',
      labelNames: ['informer'],
      registers: [this.registry],
      collect() {
        for (const i of informers?.() ?? []) this.set({ informer: i.name }, i.broken ? 1 : 0);
      },
    });
    this.webhookServing = webhookServing
      ? new Gauge({
          name: 'pullsecret_operator_webhook_serving',
          help: '1 when the admission webhook (switched on) serves with a certificate, 0 when it cannot',
          registers: [this.registry],
          collect() {
            this.set(webhookServing() ? 1 : 0);
          },
        })
      : undefined;
    // The certificate errors' series exist from the start (at 0) when the webhook is on.
    if (webhookServing) for (const reason of ['foreign-secret', 'forbidden', 'error']) this.webhookCertificateErrors.inc({ reason }, 0);
    this.sourceCredentials = new Gauge({
      name: 'pullsecret_operator_source_credentials',
      help: "Result of the latest check of each source's credentials against each registry host it names, as a state set: 1 for the current result (valid, rejected, unreachable, unchecked), 0 for the others",
      labelNames: ['source', 'registry', 'result'],
      registers: [this.registry],
      collect() {
        // Rebuilt at each scrape: a source or host that went away leaves no series behind.
        this.reset();
        for (const r of credentials?.() ?? []) for (const s of CHECK_RESULTS) this.set({ source: r.source, registry: r.host, result: s }, r.result === s ? 1 : 0);
      },
    });
    this.namespaces = new Gauge({
      name: 'pullsecret_operator_namespaces',
      help: 'Namespaces by state, as `pullsecret-operator status` reports them (from the caches, once synced)',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const statuses = namespaceStatuses();
        if (!statuses) return;
        const counts = countByState(statuses);
        for (const s of NAMESPACE_STATES) this.set({ state: s }, counts[s]);
      },
    });
    this.namespaceProblems = new Gauge({
      name: 'pullsecret_operator_namespace_problems',
      help: `Problems of each out-of-sync namespace, by kind (the first ${LISTED_NAMESPACES} out-of-sync namespaces in name order; none while all are in sync)`,
      labelNames: ['target_namespace', 'problem'],
      registers: [this.registry],
      collect() {
        this.reset();
        const outOfSync = (namespaceStatuses() ?? []).filter((s) => s.state === 'out-of-sync').slice(0, LISTED_NAMESPACES);
        for (const s of outOfSync) for (const kind of s.kinds) this.inc({ target_namespace: s.namespace, problem: kind });
      },
    });
    this.sources = new Gauge({
      name: 'pullsecret_operator_sources',
      help: 'Secrets of the source namespace that are pull secrets or labelled, by state: copied, invalid (cannot be copied), ignored (not copied by design)',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const statuses = sourceStatuses?.();
        if (!statuses) return;
        const counts = countSources(statuses);
        for (const s of SOURCE_STATES) this.set({ state: s }, counts[s]);
      },
    });
    this.queueDepth = new Gauge({
      name: 'workqueue_depth',
      help: 'Keys waiting in the work queue',
      labelNames: ['name'],
      registers: [this.registry],
      collect() {
        if (depth) this.set({ name: CONTROLLER }, depth());
      },
    });
    this.managedCopies = new Gauge({
      name: 'pullsecret_operator_managed_copies',
      help: 'Copies managed by this operator (cache size)',
      registers: [this.registry],
      collect() {
        if (copies) this.set(copies());
      },
    });
  }

  queueEvent(e: WorkQueueEvent): void {
    if (e.type === 'requeue') return;
    this.reconcileTotal.inc({ controller: CONTROLLER, result: e.type === 'done' ? 'success' : 'error' });
    this.reconcileTime.observe({ controller: CONTROLLER }, e.durationMs / 1000);
    if (e.type === 'error') this.reconcileErrors.inc({ controller: CONTROLLER });
    // Retries only: not a key given up (--once), not a failure while shutting down.
    if (e.retryInMs !== undefined) this.queueRetries.inc({ name: CONTROLLER });
  }

  informerStatus(informer: string, s: InformerStatus): void {
    this.informerRestarts.inc({ informer }, 0);
    if (s.type === 'error' || s.type === 'watch-silent') this.informerRestarts.inc({ informer });
    if (s.type === 'synced' || s.type === 'watching') this.informerLastEvent.set({ informer }, this.#clock.now() / 1000);
  }

  informerEvent(informer: string): void {
    this.informerLastEvent.set({ informer }, this.#clock.now() / 1000);
  }

  write(kind: 'create' | 'update' | 'recreate' | 'delete' | 'serviceaccount'): void {
    if (kind === 'serviceaccount') this.saPatches.inc();
    else this.secretWrites.inc({ op: kind });
  }

  conflict(kind: 'secret' | 'serviceaccount'): void {
    this.conflicts.inc({ kind });
  }

  foreign(): void {
    this.foreignSecrets.inc();
  }

  event(reason: string): void {
    this.events.inc({ reason });
  }

  certificateError(reason: TlsProblemReason): void {
    this.webhookCertificateErrors.inc({ reason });
  }

  apiRequest(verb: string, resource: string, code: string): void {
    this.apiRequests.inc({ verb, resource, code });
  }

  admission(result: 'patched' | 'unchanged' | 'error', live: boolean, seconds: number): void {
    this.admissions.inc({ result });
    this.admissionTime.observe({ live_read: String(live) }, seconds);
  }
}
