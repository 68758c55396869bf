/**
 * reconcile(namespace), level-based (the key carries no event), as three steps:
 *
 * 1. Observe: the caches, plus the names this reconciler learnt are held by secrets not ours.
 * 2. Plan: planNamespace (src/domain/plan.ts, pure) returns every write the namespace needs, its
 *    copies' and its ServiceAccounts'.
 * 3. Apply: the writes, in the plan's order. The reads that apply needs are a step of it: the
 *    names the plan leaves alone as foreign are checked again (a GET each), and a create that
 *    finds the name taken reads who holds it. Either finding means the plan was made on stale
 *    knowledge: apply stops and asks for the namespace to be looked at again at once, so a fresh
 *    observation is planned. Nothing is planned twice inside one reconcile.
 */
import type { Clock } from '../clock.js';
import { collectSources, type Policy, type SourceSet } from '../domain/desired.js';
import { ORPHANED_SINCE_ANNOTATION } from '../domain/naming.js';
import { isManaged } from '../domain/ownership.js';
import { planNamespace, serviceAccountChange, type NamespaceObservation, type Plan, type Report, type SecretAction, type ServiceAccountAction } from '../domain/plan.js';
import type { NamespaceLike, SecretLike, ServiceAccountLike } from '../domain/types.js';
import { KubeError, type Kube } from '../kube/client.js';
import type { Informer } from '../kube/informers.js';
import { errorMessage, type Logger } from '../log.js';
import { Expectations } from './expectations.js';
import { foreignNames, liveOwner } from './ownership.js';
import { patchPullSecrets } from './pullsecrets.js';
import type { EventRecorder } from './recorder.js';
import type { ReconcileResult } from './workqueue.js';

/** The informers' caches, of the lean shapes made at ingest (kube/ingest.ts), indexed by namespace. */
export interface Caches {
  namespaces: Informer<NamespaceLike>;
  /** Every secret of the source namespace (data kept for pull secrets only). */
  sources: Informer<SecretLike>;
  /** Our copies, in every namespace (label-selected), with a hash of their data instead of the data. */
  copies: Informer<SecretLike>;
  serviceAccounts: Informer<ServiceAccountLike>;
}

export interface ReconcilerDeps {
  kube: Kube;
  caches: Caches;
  policy: Policy;
  dryRun: boolean;
  /** The wall clock plans grace periods; the monotonic clock times out expectations of our own writes. */
  clock: Pick<Clock, 'now' | 'monotonic'>;
  logger: Logger;
  recorder: EventRecorder;
  metrics?: ReconcileMetrics;
  /** Keep each namespace's NamespaceSummary (the --once summary reads them). */
  recordSummaries?: boolean;
}

export interface ReconcileMetrics {
  write(kind: 'create' | 'update' | 'recreate' | 'delete' | 'serviceaccount'): void;
  conflict(kind: 'secret' | 'serviceaccount'): void;
  foreign(): void;
}

/**
 * What the reconciles of a namespace did: a row of --once's summary. Writes and patched
 * ServiceAccounts add up over the process's reconciles of the namespace; the verdict ('target', or
 * why not: the reason of NamespaceVerdict), the copies and the problems are those of the latest.
 */
export interface NamespaceSummary {
  namespace: string;
  verdict: string;
  copies: string[];
  writes: number;
  serviceAccountsPatched: string[];
  problems: string[];
}

/** Look again at once: the plan was made on knowledge that apply found stale. */
const PLAN_AGAIN: ReconcileResult = { requeueAfterMs: 0 };

/** A write into a namespace that is being deleted: there is nothing left to do in it. */
function isNamespaceTerminating(err: unknown): boolean {
  return err instanceof KubeError && err.kind === 'NamespaceTerminating';
}

function countPatch(summary: NamespaceSummary, serviceAccount: string): void {
  summary.writes++;
  if (!summary.serviceAccountsPatched.includes(serviceAccount)) summary.serviceAccountsPatched.push(serviceAccount);
}

function actionName(a: SecretAction): string {
  return a.op === 'delete' ? a.name : a.secret.metadata.name;
}

/**
 * Runs independent writes at once (a namespace's copies, its ServiceAccounts), waits for all of
 * them, and then throws the first error, if any: no write is left running behind a failure.
 */
async function all<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = await Promise.allSettled(items.map(fn));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<R>).value);
}

export class Reconciler {
  #d: ReconcilerDeps;
  /** Namespace -> names there held by secrets that are not ours (learnt from AlreadyExists). */
  #foreign = new Map<string, Set<string>>();
  #summaries = new Map<string, NamespaceSummary>();
  #sourcesMemo: { key: string; set: SourceSet } | undefined;
  /** Our writes whose watch events have not arrived: the cache still shows what they replaced. */
  readonly expectations: Expectations;

  constructor(deps: ReconcilerDeps) {
    this.#d = deps;
    this.expectations = new Expectations(deps.clock);
  }

  /** Forgets everything held about a namespace that is gone: no per-namespace state outlives it. */
  forgetNamespace(namespace: string): void {
    this.#foreign.delete(namespace);
    this.#summaries.delete(namespace);
    this.expectations.forgetNamespace(namespace);
  }

  /** Names in `namespace` known to be held by secrets that are not ours (why it is out of sync, for the metrics). */
  foreignNames(namespace: string): ReadonlySet<string> {
    return this.#foreign.get(namespace) ?? new Set();
  }

  /** The summary of each namespace reconciled (with recordSummaries). */
  get summaries(): ReadonlyMap<string, NamespaceSummary> {
    return this.#summaries;
  }

  async reconcile(namespace: string): Promise<ReconcileResult> {
    const sources = this.#sources();
    if (namespace === this.#d.policy.sourceNamespace) return this.#reportInvalidSources(sources);
    const summary = this.#summary(namespace);
    try {
      // 1. Observe.
      const observed = this.#observe(namespace, sources);
      // 2. Plan.
      const plan = planNamespace(observed, this.#d.policy);
      summary.verdict = plan.verdict.kind === 'target' ? 'target' : plan.verdict.reason;
      if (plan.verdict.kind === 'hands-off') {
        this.#d.logger.debug('namespace left alone', { namespace, reason: plan.verdict.reason });
        if (plan.verdict.reason === 'gone') this.forgetNamespace(namespace);
        return;
      }
      // 3. Apply, less the writes whose object has a write of ours on the way: the cache still shows
      //    what that write replaced. Judged now, with the observation, not while applying.
      return await this.#apply(namespace, observed.namespace, this.#withoutPending(namespace, plan), summary);
    } catch (err) {
      if (isNamespaceTerminating(err)) {
        this.#d.logger.info('namespace is terminating; nothing more to do', { namespace });
        summary.verdict = 'terminating';
        return;
      }
      summary.problems.push(errorMessage(err));
      throw err;
    }
  }

  #observe(namespace: string, sources: SourceSet): NamespaceObservation {
    const { caches, clock } = this.#d;
    const copies = caches.copies.list(namespace).filter(isManaged);
    return {
      namespace: caches.namespaces.get(undefined, namespace),
      sources,
      copies,
      serviceAccounts: caches.serviceAccounts.list(namespace),
      foreign: this.#knownForeign(namespace, copies),
      now: clock.now(),
    };
  }

  /** The names learnt to be foreign, less those that carry our label now (handed over: they are in the copies' cache). */
  #knownForeign(namespace: string, copies: readonly SecretLike[]): ReadonlySet<string> {
    const known = this.#foreign.get(namespace);
    if (!known) return new Set();
    for (const c of copies) known.delete(c.metadata.name);
    if (known.size === 0) this.#foreign.delete(namespace);
    return new Set(known);
  }

  async #apply(namespace: string, ns: NamespaceLike | undefined, plan: Plan, summary: NamespaceSummary): Promise<ReconcileResult> {
    // a. The names left alone as foreign: still held by secrets not ours? One that is not: plan again.
    if (!(await this.#stillForeign(namespace, plan.reports))) return PLAN_AGAIN;
    this.#report(namespace, ns, plan.reports, summary);
    // b. Creates and updates, at once: a namespace's copies are independent. One whose name turns
    //    out to be held by a secret not ours: plan again.
    const upserts = await all(plan.upserts, (a) => this.#applySecret(namespace, a, summary));
    if (upserts.includes('foreign')) return PLAN_AGAIN;
    // c. ServiceAccounts, at once: each is its own object.
    await all(plan.serviceAccounts, (a) => this.#patchServiceAccount(namespace, a, plan, summary));
    // d. Grace clocks that start now are written on their copies, so a restart keeps them.
    await all(plan.marks, (m) => this.#markOrphan(namespace, m.name, m.since));
    // e. Deletes last, once no ServiceAccount names them.
    await all(plan.deletes, (a) => this.#applySecret(namespace, a, summary));
    summary.copies = plan.wanted;
    return plan.requeueAfterMs === undefined ? undefined : { requeueAfterMs: plan.requeueAfterMs };
  }

  /** The plan less the writes to objects that have a write of ours on the way (Expectations). */
  #withoutPending(namespace: string, plan: Plan): Plan {
    const ready = (kind: 'Secret' | 'ServiceAccount', name: string): boolean => !this.expectations.pending(kind, namespace, name);
    return {
      ...plan,
      upserts: plan.upserts.filter((a) => ready('Secret', actionName(a))),
      serviceAccounts: plan.serviceAccounts.filter((a) => ready('ServiceAccount', a.name)),
      marks: plan.marks.filter((m) => ready('Secret', m.name)),
      deletes: plan.deletes.filter((a) => ready('Secret', actionName(a))),
    };
  }

  /** Reads again each name the plan leaves alone as foreign; false (and forgotten) when one is gone or ours now. */
  async #stillForeign(namespace: string, reports: readonly Report[]): Promise<boolean> {
    const names = reports.filter((r) => r.kind === 'foreign').map((r) => r.name);
    if (names.length === 0) return true;
    const still = await foreignNames(this.#d.kube, namespace, names);
    const known = this.#foreign.get(namespace);
    for (const n of names) if (!still.has(n)) known?.delete(n);
    return still.size === names.length;
  }

  #learnForeign(namespace: string, name: string): void {
    let set = this.#foreign.get(namespace);
    if (!set) this.#foreign.set(namespace, (set = new Set()));
    set.add(name);
  }

  #report(namespace: string, ns: NamespaceLike | undefined, reports: readonly Report[], summary: NamespaceSummary): void {
    const { logger, recorder } = this.#d;
    const involved = { kind: 'Namespace' as const, name: namespace, uid: ns?.metadata.uid };
    for (const r of reports) {
      if (r.kind === 'foreign') {
        logger.warn('secret with a copy name is not ours; left alone', { namespace, secret: r.name, source: r.source });
        recorder.warn(involved, 'ForeignSecret', `secret ${r.name} exists but is not managed by pullsecret-operator; it is left alone and not added to ServiceAccounts. Label it app.kubernetes.io/managed-by=pullsecret-operator to hand it over.`);
        this.#d.metrics?.foreign();
        summary.problems.push(`foreign secret ${r.name}`);
      } else if (r.kind === 'invalid-name') {
        logger.warn('copy name is not a valid secret name; skipped', { namespace, name: r.name, source: r.source });
        recorder.warn(involved, 'InvalidTargetName', `no copy of ${r.source}: ${r.reason}`);
        summary.problems.push(`invalid name ${r.name}`);
      } else {
        logger.warn('two sources map to one copy name; the first wins', { namespace, name: r.name, source: r.source, winner: r.winner });
        recorder.warn(involved, 'CopyNameCollision', `${r.source} and ${r.winner} both map to ${r.name}; ${r.winner} is copied`);
        summary.problems.push(`name collision ${r.name}`);
      }
    }
  }

  /** The source namespace's key: sources that cannot be copied are reported. */
  #reportInvalidSources(sources: SourceSet): void {
    const { policy, caches, logger, recorder } = this.#d;
    for (const bad of sources.invalid) {
      const secret = caches.sources.get(policy.sourceNamespace, bad.name);
      logger.warn('source secret skipped', { secret: bad.ref, reason: bad.reason });
      recorder.warn({ kind: 'Secret', namespace: policy.sourceNamespace, name: bad.name, uid: secret?.metadata.uid }, 'InvalidSource', `not copied: ${bad.reason}`);
    }
  }

  /** Applies one secret write. Returns 'foreign' when a create found a secret that is not ours. */
  async #applySecret(namespace: string, a: SecretAction, summary: NamespaceSummary): Promise<'ok' | 'foreign'> {
    const { logger, dryRun } = this.#d;
    const name = actionName(a);
    const fields = { namespace, secret: name, op: a.op, ...(a.op === 'delete' || a.op === 'recreate' ? { reason: a.reason } : { source: a.source }) };
    if (dryRun) {
      logger.info('dry run: would write secret', fields);
      summary.writes++; // planned
      return 'ok';
    }
    // Expected before the call: the watch event of the write can arrive before its response.
    this.expectations.expect('Secret', namespace, name);
    try {
      await this.#writeSecret(namespace, a);
    } catch (err) {
      this.expectations.observed('Secret', namespace, name); // nothing was written: no event to wait for
      return this.#secretWriteFailed(namespace, a, err);
    }
    summary.writes++;
    this.#d.metrics?.write(a.op);
    logger.info('secret written', fields);
    return 'ok';
  }

  async #writeSecret(namespace: string, a: SecretAction): Promise<void> {
    const { kube } = this.#d;
    if (a.op === 'create') return kube.createSecret(a.secret);
    if (a.op === 'update') return kube.replaceSecret(a.secret);
    await this.#ignoreNotFound(kube.deleteSecret(namespace, actionName(a), a.resourceVersion));
    if (a.op === 'recreate') await kube.createSecret(a.secret);
  }

  /** A failed secret write: a name held by someone else is learnt ('foreign'); anything else is thrown. */
  async #secretWriteFailed(namespace: string, a: SecretAction, err: unknown): Promise<'ok' | 'foreign'> {
    const name = actionName(a);
    if (err instanceof KubeError && err.kind === 'AlreadyExists' && a.op !== 'delete') {
      if ((await liveOwner(this.#d.kube, namespace, name)) !== 'foreign') return 'ok'; // ours: the cache has not caught up, its event brings us back
      this.#learnForeign(namespace, name);
      return 'foreign';
    }
    if (err instanceof KubeError && err.kind === 'Conflict') this.#d.metrics?.conflict('secret');
    if (err instanceof KubeError && err.kind === 'NotFound' && a.op !== 'delete' && !this.#d.caches.namespaces.get(undefined, namespace)) {
      throw new KubeError('NamespaceTerminating', 404, `namespace ${namespace} is gone`);
    }
    throw err;
  }

  /**
   * Writes the start of a copy's grace clock on it. The cache holds no data of copies, so this is
   * a read and a resourceVersion-guarded PUT of what was read; it happens once per copy whose
   * source goes away.
   */
  async #markOrphan(namespace: string, name: string, since: number): Promise<void> {
    const { kube, logger, dryRun } = this.#d;
    if (dryRun) return; // the plan already counts from now
    const live = await kube.getSecret(namespace, name);
    if (!live?.metadata || !isManaged(live) || live.metadata.annotations?.[ORPHANED_SINCE_ANNOTATION] !== undefined) return;
    const { managedFields: _mf, ...metadata } = live.metadata;
    this.expectations.expect('Secret', namespace, name);
    try {
      await kube.replaceSecret({
        ...(live as SecretLike),
        metadata: { ...(metadata as SecretLike['metadata']), annotations: { ...(metadata.annotations ?? {}), [ORPHANED_SINCE_ANNOTATION]: new Date(since).toISOString() } },
      });
    } catch (err) {
      this.expectations.observed('Secret', namespace, name);
      if (err instanceof KubeError && err.kind === 'NotFound') return;
      if (err instanceof KubeError && err.kind === 'Conflict') this.#d.metrics?.conflict('secret');
      throw err;
    }
    logger.info('source gone; grace period started', { namespace, secret: name, since: new Date(since).toISOString() });
  }

  async #ignoreNotFound(p: Promise<void>): Promise<void> {
    try {
      await p;
    } catch (err) {
      if (!(err instanceof KubeError && err.kind === 'NotFound')) throw err;
    }
  }

  /** Our copies on one ServiceAccount: see patchPullSecrets for the conflict protocol. */
  async #patchServiceAccount(namespace: string, action: ServiceAccountAction, plan: Plan, summary: NamespaceSummary): Promise<void> {
    const { kube, logger, dryRun, policy } = this.#d;
    const { name } = action;
    if (dryRun) {
      logger.info('dry run: would patch serviceaccount', { namespace, serviceAccount: name, imagePullSecrets: action.change.imagePullSecrets.map((e) => e.name) });
      countPatch(summary, name); // planned
      return;
    }
    const target = { namespace, name, resourceVersion: action.resourceVersion };
    const patched = await patchPullSecrets(kube, target, action.change, (fresh) => serviceAccountChange(plan.verdict, fresh, plan.wanted, policy), {
      // Expected before the call: the watch event of the write can arrive before its response.
      beforeWrite: () => this.expectations.expect('ServiceAccount', namespace, name),
      afterFailure: () => this.expectations.observed('ServiceAccount', namespace, name),
      onConflict: (attempt) => {
        this.#d.metrics?.conflict('serviceaccount');
        logger.debug('serviceaccount changed meanwhile; reading it again', { namespace, serviceAccount: name, attempt });
      },
    });
    if (!patched) return;
    countPatch(summary, name);
    this.#d.metrics?.write('serviceaccount');
    logger.info('serviceaccount patched', { namespace, serviceAccount: name, imagePullSecrets: patched.change.imagePullSecrets.map((e) => e.name), attempt: patched.attempts });
  }

  #summary(namespace: string): NamespaceSummary {
    const prev = this.#summaries.get(namespace);
    const summary: NamespaceSummary = { namespace, verdict: '', copies: [], writes: prev?.writes ?? 0, serviceAccountsPatched: prev?.serviceAccountsPatched ?? [], problems: [] };
    // Kept only for the --once summary: a long-running operator holds no record per namespace.
    if (this.#d.recordSummaries) this.#summaries.set(namespace, summary);
    return summary;
  }

  /**
   * The classified sources. A source change fans out to every namespace; the source secrets are
   * parsed once per change of the source namespace's secrets, not once per namespace.
   */
  #sources(): SourceSet {
    const secrets = this.#d.caches.sources.list(this.#d.policy.sourceNamespace);
    const key = secrets.map((s) => `${s.metadata.name}@${s.metadata.resourceVersion ?? ''}`).sort().join(',');
    if (this.#sourcesMemo?.key !== key) this.#sourcesMemo = { key, set: collectSources(secrets, this.#d.policy) };
    return this.#sourcesMemo.set;
  }
}
