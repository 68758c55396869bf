/**
 * The controller: four supervised informers feed a keyed work queue of namespace names; workers
 * run the reconciler. Event handlers only enqueue keys. A periodic resync replays the caches
 * (every namespace is reconciled from them again) and makes no API call unless something differs;
 * full relists happen only when a watch expires (410 Gone).
 */
import type { Clock, Timer } from '../clock.js';
import type { Policy } from '../domain/desired.js';
import { MANAGED_SELECTOR } from '../domain/ownership.js';
import type { NamespaceLike, SecretLike, ServiceAccountLike } from '../domain/types.js';
import { KubeError, type Kube } from '../kube/client.js';
import { Informer, type InformerStatus, type Meta } from '../kube/informers.js';
import { Interner, copyOf, namespaceOf, serviceAccountOf, sourceOf } from '../kube/ingest.js';
import { errorMessage, type Logger } from '../log.js';
import { keysForSourceChange } from './events.js';
import { Reconciler, type Caches, type ReconcileMetrics } from './reconciler.js';
import { EventRecorder } from './recorder.js';
import { WorkQueue, type WorkQueueEvent } from './workqueue.js';

export interface OperatorMetrics extends ReconcileMetrics {
  queueEvent(e: WorkQueueEvent): void;
  informerStatus(informer: string, s: InformerStatus): void;
  informerEvent(informer: string): void;
  event(reason: string): void;
}

export interface InformerTuning {
  watchTimeoutSeconds?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  livenessMs?: number;
}

export interface OperatorDeps {
  kube: Kube;
  policy: Policy;
  logger: Logger;
  /**
   * Wall-clock time for what is written (orphan marks), planned against (grace periods) and for
   * Events; the monotonic clock and timers for every duration (watch liveness, backoff, resync,
   * expectations of our own writes).
   */
  clock: Clock;
  dryRun: boolean;
  workers: number;
  resyncPeriodMs: number;
  identity: string;
  metrics?: OperatorMetrics;
  /** Keep each namespace's NamespaceSummary (for --once's summary). */
  recordSummaries?: boolean;
  /** Informer tuning for tests; production uses the defaults. */
  informer?: InformerTuning;
  /** Per informer (by name), over `informer`: tests make one informer's liveness short. */
  informerByName?: Readonly<Record<string, InformerTuning>>;
  /** Consecutive failures after which a namespace is given up until its next event (--once). Default: never. */
  maxRetries?: number;
}

/**
 * Retry backoff per namespace: 100 ms doubling to 2 minutes. Not client-go's 5 ms: a namespace
 * that failed is retried at most 10 times a second, and a storm of failures draws from the queue's
 * overall bucket (10 retries a second, 100 at once) besides.
 */
export const RETRY_BASE_MS = 100;
export const RETRY_MAX_MS = 120_000;

/** What the operator's informers have in common: all the operator calls on them all. */
type AnyInformer = Pick<Informer<Meta>, 'name' | 'start' | 'stop' | 'synced' | 'waitForSync' | 'brokenSince' | 'restarts' | 'size' | 'on' | 'onStatus'>;

export class Operator {
  readonly caches: Caches;
  readonly queue: WorkQueue;
  readonly reconciler: Reconciler;
  #d: OperatorDeps;
  #resyncTimer: Timer | undefined;
  #working = false;

  constructor(deps: OperatorDeps) {
    this.#d = deps;
    const { kube, policy } = deps;
    const common = { kube, clock: deps.clock, ...deps.informer };
    // One interner per operator: the copies' label and annotation sets, shared (kube/ingest.ts).
    const interner = new Interner();
    const tuned = <T extends { name: string }>(o: T): T & InformerTuning => ({ ...o, ...deps.informerByName?.[o.name] });
    this.caches = {
      namespaces: new Informer<NamespaceLike>(tuned({ ...common, name: 'namespaces', path: '/api/v1/namespaces', list: (o) => kube.listNamespaces(o), transform: namespaceOf })),
      sources: new Informer<SecretLike>(tuned({
        ...common,
        name: 'source-secrets',
        path: `/api/v1/namespaces/${policy.sourceNamespace}/secrets`,
        list: (o) => kube.listSecrets(policy.sourceNamespace, o),
        transform: sourceOf,
      })),
      copies: new Informer<SecretLike>(tuned({
        ...common,
        name: 'managed-secrets',
        path: '/api/v1/secrets',
        labelSelector: MANAGED_SELECTOR,
        list: (o) => kube.listSecrets(undefined, o),
        transform: (raw: Parameters<typeof copyOf>[0]) => copyOf(raw, interner),
      })),
      serviceAccounts: new Informer<ServiceAccountLike>(tuned({
        ...common,
        name: 'serviceaccounts',
        path: '/api/v1/serviceaccounts',
        list: (o) => kube.listServiceAccounts(o),
        transform: serviceAccountOf,
      })),
    };
    const recorder = new EventRecorder({
      kube,
      clock: deps.clock,
      instance: deps.identity,
      enabled: !deps.dryRun,
      onError: (err) => deps.logger.warn('could not record event', { error: errorMessage(err) }),
      onRecorded: (reason) => deps.metrics?.event(reason),
    });
    this.reconciler = new Reconciler({ kube, caches: this.caches, policy, dryRun: deps.dryRun, clock: deps.clock, logger: deps.logger, recorder, metrics: deps.metrics, recordSummaries: deps.recordSummaries ?? false });
    this.queue = new WorkQueue((key) => this.reconciler.reconcile(key), {
      concurrency: deps.workers,
      clock: deps.clock,
      baseDelayMs: RETRY_BASE_MS,
      maxDelayMs: RETRY_MAX_MS,
      retryAfterMs: (err) => (err instanceof KubeError ? err.retryAfterMs : undefined),
      ...(deps.maxRetries === undefined ? {} : { maxRetries: deps.maxRetries }),
      onEvent: (e) => this.#onQueueEvent(e),
    });
    this.#wireHandlers();
  }

  /** Starts the informers (caches). Reads only: safe on a standby replica. */
  startInformers(): void {
    for (const inf of this.#informers()) inf.start();
  }

  /** Resolves once every cache has synced. */
  async waitForSync(): Promise<void> {
    await Promise.all(this.#informers().map((i) => i.waitForSync()));
  }

  get synced(): boolean {
    return this.#informers().every((i) => i.synced);
  }

  /** How long the informer broken the longest has been (failing, or its watches silent again and again), if any. */
  get brokenForMs(): number | undefined {
    const times = this.#informers().map((i) => i.brokenSince).filter((t): t is number => t !== undefined);
    return times.length ? this.#d.clock.monotonic() - Math.min(...times) : undefined;
  }

  informerStats(): { name: string; synced: boolean; restarts: number; size: number; brokenSince: number | undefined }[] {
    return this.#informers().map((i) => ({ name: i.name, synced: i.synced, restarts: i.restarts, size: i.size, brokenSince: i.brokenSince }));
  }

  /** Starts reconciling (leader only): every namespace now, then on events and every resync period. */
  startWorking(): void {
    if (this.#working) return;
    this.#working = true;
    this.enqueueAll();
    this.#scheduleResync();
  }

  #scheduleResync(): void {
    this.#resyncTimer = this.#d.clock.setTimeout(() => {
      this.resync();
      this.#scheduleResync();
    }, this.#d.resyncPeriodMs);
    this.#resyncTimer.unref();
  }

  /**
   * Replays the caches: every namespace is reconciled again from what the informers hold, which
   * writes only where something differs. No LIST: the watches keep the caches current, and a
   * watch that expires relists (client-go's resync does the same).
   */
  resync(): void {
    this.#d.logger.debug('periodic resync');
    this.enqueueAll();
  }

  enqueueAll(): void {
    this.queue.add(this.#d.policy.sourceNamespace);
    for (const ns of this.#namespaceNames()) this.queue.add(ns);
  }

  /** Stops intake and lets in-flight reconciles finish (a leader's drain). The caches go on. */
  async stopWorking(): Promise<void> {
    this.#d.clock.clearTimeout(this.#resyncTimer);
    this.#working = false;
    await this.queue.drain();
  }

  /** Stops the informers; the caches stay readable. */
  async stopInformers(): Promise<void> {
    await Promise.all(this.#informers().map((i) => i.stop()));
  }

  /** Stops intake, lets in-flight reconciles finish, stops the informers. */
  async stop(): Promise<void> {
    await this.stopWorking();
    await this.stopInformers();
  }

  #informers(): AnyInformer[] {
    return [this.caches.namespaces, this.caches.sources, this.caches.copies, this.caches.serviceAccounts];
  }

  #namespaceNames(): string[] {
    return this.caches.namespaces.list().map((n) => n.metadata.name).filter((n) => n !== '');
  }

  #enqueue(key: string | undefined): void {
    if (key && this.#working) this.queue.add(key);
  }

  #wireHandlers(): void {
    const { logger, policy } = this.#d;
    for (const inf of this.#informers()) {
      inf.onStatus((s) => {
        this.#d.metrics?.informerStatus(inf.name, s);
        if (s.type === 'error') logger.warn('watch failed; restarting', { informer: inf.name, error: errorMessage(s.error), failures: s.failures, retryInMs: s.retryInMs });
        else if (s.type === 'handler-error') logger.error('event handler failed', { informer: inf.name, error: errorMessage(s.error) });
        else if (s.type === 'watch-expired') logger.info('watch expired; relisting', { informer: inf.name });
        else if (s.type === 'watching') return;
        // No bookmark for that long: that watch's connection is dead (a black hole, a load balancer
        // that keeps it open); only it is closed. Pooled request sockets each have a deadline of their own.
        else if (s.type === 'watch-silent') logger.warn('watch silent; reconnecting', { informer: inf.name, silentMs: s.silentMs, silences: s.silences });
        else logger.debug('informer listed', { informer: inf.name, items: s.items, durationMs: s.durationMs });
      });
      inf.on(() => this.#d.metrics?.informerEvent(inf.name));
    }
    this.caches.namespaces.on((e) => this.#enqueue(e.obj.metadata.name));
    // Observations first, so that the reconcile this event enqueues plans from a cache past our writes.
    this.caches.copies.on((e) => this.reconciler.expectations.observed('Secret', e.obj.metadata.namespace, e.obj.metadata.name));
    this.caches.serviceAccounts.on((e) => this.reconciler.expectations.observed('ServiceAccount', e.obj.metadata.namespace, e.obj.metadata.name));
    this.caches.copies.on((e) => this.#enqueue(e.obj.metadata.namespace));
    this.caches.serviceAccounts.on((e) => this.#enqueue(e.obj.metadata.namespace));
    // A namespace that is gone: nothing of it may outlive it (expectations, foreign names, outcomes).
    this.caches.namespaces.on((e) => {
      if (e.type === 'delete') this.reconciler.forgetNamespace(e.obj.metadata.name);
    });
    this.caches.sources.on((e) => {
      if (!this.#working) return;
      const old = e.type === 'update' ? e.old : undefined;
      const keys = keysForSourceChange(e.obj, old, policy.sourceNamespace, () => this.#namespaceNames());
      for (const k of keys) this.queue.add(k);
    });
  }

  #onQueueEvent(e: WorkQueueEvent): void {
    this.#d.metrics?.queueEvent(e);
    if (e.type === 'error') {
      // A reconcile that fails is retried, or given up (--once): the reconciler itself ends a
      // namespace that is terminating, so no error reaches the queue that retrying cannot fix.
      const [level, message] = e.gaveUp ? ['error', 'reconcile failed; giving up'] : ['warn', 'reconcile failed; retrying with backoff'];
      this.#d.logger.log(level, message, {
        namespace: e.key,
        error: errorMessage(e.error),
        retries: this.queue.numRequeues(e.key),
        durationMs: e.durationMs,
      });
    } else {
      this.#d.logger.debug('reconciled', { namespace: e.key, durationMs: e.durationMs });
    }
  }
}
