/**
 * Prometheus metrics through prom-client, on a registry of their own (no global state).
 * controller-runtime and workqueue names are used where they exist, so existing dashboards work.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { OperatorMetrics } from './controller/operator.js';
import type { InformerStatus } from './kube/informers.js';
import type { WorkQueueEvent } from './controller/workqueue.js';
import { NAMESPACE_STATES, type NamespaceStateName } from './domain/status.js';
import type { WebhookMetrics } from './webhook/mutate.js';
import { CHECK_RESULTS, type CheckResult } from './registry/check.js';

const CONTROLLER = 'pullsecret';

export class Metrics implements OperatorMetrics, WebhookMetrics {
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

  constructor(
    opts: {
      defaultMetrics?: boolean;
      depth?: () => number;
      copies?: () => number;
      namespaceStates?: () => Record<NamespaceStateName, number> | undefined;
      /** The credential check's current results (leader only; none elsewhere). */
      credentials?: () => readonly { source: string; host: string; result: CheckResult }[] | undefined;
    } = {},
  ) {
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    const { depth, copies, namespaceStates, credentials } = opts;
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
        const counts = namespaceStates?.();
        if (counts) for (const s of NAMESPACE_STATES) this.set({ state: s }, counts[s]);
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

  queueEvent(e: WorkQueueEvent, terminal: boolean): void {
    if (e.type === 'requeue') return;
    const result = e.type === 'done' ? 'success' : terminal ? 'success' : 'error';
    this.reconcileTotal.inc({ controller: CONTROLLER, result });
    this.reconcileTime.observe({ controller: CONTROLLER }, e.durationMs / 1000);
    if (result === 'error') {
      this.reconcileErrors.inc({ controller: CONTROLLER });
      this.queueRetries.inc({ name: CONTROLLER });
    }
  }

  informerStatus(informer: string, s: InformerStatus): void {
    if (s.type === 'error' || s.type === 'watch-silent') this.informerRestarts.inc({ informer });
    if (s.type === 'synced' || s.type === 'watching') this.informerLastEvent.set({ informer }, Date.now() / 1000);
  }

  informerEvent(informer: string): void {
    this.informerLastEvent.set({ informer }, Date.now() / 1000);
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

  admission(result: 'patched' | 'unchanged' | 'error', live: boolean, seconds: number): void {
    this.admissions.inc({ result });
    this.admissionTime.observe({ live_read: String(live) }, seconds);
  }
}
