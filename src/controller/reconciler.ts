/**
 * reconcile(namespace): read the caches, compute the desired state with the pure functions of
 * domain/, and write only the difference. Level-based: the key carries no event.
 */
import type { Clock } from '../clock.js';
import { collectSources, isManaged, type Policy, type PullSecretsChange, type SourceSet } from '../domain/desired.js';
import { planNamespace, planServiceAccounts, serviceAccountChange, type Plan, type Report, type SecretAction } from '../domain/plan.js';
import type { NamespaceLike, SecretLike, ServiceAccountLike } from '../domain/types.js';
import { ORPHANED_SINCE_ANNOTATION } from '../domain/naming.js';
import { KubeError, type Kube } from '../kube/client.js';
import type { Informer } from '../kube/informers.js';
import { copyOf } from '../kube/ingest.js';
import { errorMessage, type Logger } from '../log.js';
import { Expectations } from './expectations.js';
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
  /** Keep each namespace's last Outcome (the --once summary reads them). */
  recordOutcomes?: boolean;
}

export interface ReconcileMetrics {
  write(kind: 'create' | 'update' | 'recreate' | 'delete' | 'serviceaccount'): void;
  conflict(kind: 'secret' | 'serviceaccount'): void;
  foreign(): void;
}

/** What the reconciles of a namespace did, for --once summaries and tests. */
export interface Outcome {
  namespace: string;
  verdict: string;
  copies: string[];
  writes: number;
  serviceAccountsPatched: string[];
  problems: string[];
}

/** Errors that retrying cannot fix: the queue forgets the key. */
export function isTerminal(err: unknown): boolean {
  return err instanceof KubeError && err.kind === 'NamespaceTerminating';
}

function actionName(a: SecretAction): string {
  return a.op === 'delete' ? a.name : a.secret.metadata.name;
}

/**
 * Runs independent writes at once (a namespace's copies, its ServiceAccounts), waits for all of
 * them, and then throws the first error, if any: no write is left running behind a failure.
 */
async function all<T>(items: readonly T[], fn: (item: T) => Promise<unknown>): Promise<unknown[]> {
  const results = await Promise.allSettled(items.map(fn));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value);
}

export class Reconciler {
  #d: ReconcilerDeps;
  /** Namespace -> names there held by secrets that are not ours (learnt from AlreadyExists). */
  #foreign = new Map<string, Set<string>>();
  #outcomes = new Map<string, Outcome>();
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
    this.#outcomes.delete(namespace);
    this.expectations.forgetNamespace(namespace);
  }

  /** Names in `namespace` known to be held by secrets that are not ours (why it is out of sync, for the metrics). */
  foreignNames(namespace: string): ReadonlySet<string> {
    return this.#foreign.get(namespace) ?? new Set();
  }

  /** The last outcome of each namespace reconciled. */
  get outcomes(): ReadonlyMap<string, Outcome> {
    return this.#outcomes;
  }

  async reconcile(namespace: string): Promise<ReconcileResult> {
    const { policy, caches, logger } = this.#d;
    // 1. The source namespace key: report sources that cannot be copied.
    const sources = this.#sources();
    if (namespace === policy.sourceNamespace) {
      for (const bad of sources.invalid) {
        const secret = caches.sources.get(policy.sourceNamespace, bad.name);
        logger.warn('source secret skipped', { secret: bad.ref, reason: bad.reason });
        this.#d.recorder.warn({ kind: 'Secret', namespace: policy.sourceNamespace, name: bad.name, uid: secret?.metadata?.uid }, 'InvalidSource', `not copied: ${bad.reason}`);
      }
      return;
    }

    // Writes and patched ServiceAccounts add up over the process's reconciles of the namespace;
    // the verdict, copies and problems are those of the latest.
    const prev = this.#outcomes.get(namespace);
    const outcome: Outcome = { namespace, verdict: '', copies: [], writes: prev?.writes ?? 0, serviceAccountsPatched: prev?.serviceAccountsPatched ?? [], problems: [] };
    // Kept only for the --once summary: a long-running operator holds no record per namespace.
    if (this.#d.recordOutcomes) this.#outcomes.set(namespace, outcome);
    try {
      return await this.#reconcileNamespace(namespace, sources, outcome);
    } catch (err) {
      if (isTerminal(err)) {
        logger.info('namespace is terminating; nothing more to do', { namespace });
        outcome.verdict = 'terminating';
        return;
      }
      outcome.problems.push(errorMessage(err));
      throw err;
    }
  }

  async #reconcileNamespace(namespace: string, sources: SourceSet, outcome: Outcome): Promise<ReconcileResult> {
    const { caches, policy, logger } = this.#d;
    let plan: Plan | undefined;
    // 2. Plan and write the copies. A create that finds a foreign secret changes the plan: plan again.
    for (let pass = 0; pass < 3; pass++) {
      const ns = caches.namespaces.get(undefined, namespace);
      const copies = caches.copies.list(namespace).filter((s) => isManaged(s));
      const foreign = await this.#verifiedForeign(namespace, copies);
      plan = planNamespace(
        {
          namespace: ns,
          sources,
          copies,
          serviceAccounts: caches.serviceAccounts.list(namespace),
          foreign,
          now: this.#d.clock.now(),
        },
        policy,
      );
      outcome.verdict = plan.verdict.kind === 'target' ? 'target' : plan.verdict.reason;
      if (plan.verdict.kind === 'hands-off') {
        logger.debug('namespace left alone', { namespace, reason: plan.verdict.reason });
        if (plan.verdict.reason === 'gone') this.forgetNamespace(namespace);
        return;
      }
      this.#report(namespace, ns, plan.reports, outcome);
      // The copies of a namespace are independent: written at once.
      const upserts = plan.upserts.filter((a) => !this.expectations.pending('Secret', namespace, actionName(a))); // our last write's event is on the way
      const results = await all(upserts, (a) => this.#applySecret(namespace, a, outcome));
      if (!results.includes('foreign')) break;
    }
    if (!plan) return;

    // 3. ServiceAccounts: our copies on every selected ServiceAccount, guarded by resourceVersion.
    //    Each ServiceAccount is its own object: patched at once.
    const sas = caches.serviceAccounts.list(namespace).filter((sa) => !this.expectations.pending('ServiceAccount', namespace, sa.metadata.name));
    const byName = new Map(sas.map((sa) => [sa.metadata.name, sa]));
    const finalPlan = plan;
    await all(planServiceAccounts(plan.verdict, sas, plan.wanted, policy), async (action) => {
      const sa = byName.get(action.name);
      if (sa) await this.#patchServiceAccount({ ...sa, metadata: { ...sa.metadata, namespace } }, action.change, finalPlan, outcome);
    });

    // 4. Grace clocks that start now are written on their copies, so a restart keeps them.
    await all(
      plan.marks.filter((m) => !this.expectations.pending('Secret', namespace, m.name)),
      (m) => this.#markOrphan(namespace, m.name, m.since),
    );

    // 5. Deletes last, once no ServiceAccount names them.
    await all(
      plan.deletes.filter((a) => !this.expectations.pending('Secret', namespace, actionName(a))),
      (a) => this.#applySecret(namespace, a, outcome),
    );

    outcome.copies = plan.wanted;
    if (plan.requeueAfterMs !== undefined) return { requeueAfterMs: plan.requeueAfterMs };
    return;
  }

  /** Names known to be foreign, re-checked with a GET so that a removed foreign secret is noticed. */
  async #verifiedForeign(namespace: string, copies: readonly SecretLike[]): Promise<Set<string>> {
    const known = this.#foreign.get(namespace);
    if (!known || known.size === 0) return new Set();
    for (const name of [...known]) {
      if (copies.some((c) => c.metadata.name === name)) {
        known.delete(name); // handed over: it carries our label now
        continue;
      }
      const live = await this.#d.kube.getSecret(namespace, name);
      if (!live || isManaged(copyOf(live))) known.delete(name);
    }
    return known;
  }

  #report(namespace: string, ns: NamespaceLike | undefined, reports: readonly Report[], outcome: Outcome): void {
    const { logger, recorder } = this.#d;
    const involved = { kind: 'Namespace' as const, name: namespace, uid: ns?.metadata.uid };
    for (const r of reports) {
      if (r.kind === 'foreign') {
        logger.warn('secret with a copy name is not ours; left alone', { namespace, secret: r.name, source: r.source });
        recorder.warn(involved, 'ForeignSecret', `secret ${r.name} exists but is not managed by pullsecret-operator; it is left alone and not added to ServiceAccounts. Label it app.kubernetes.io/managed-by=pullsecret-operator to hand it over.`);
        this.#d.metrics?.foreign();
        outcome.problems.push(`foreign secret ${r.name}`);
      } else if (r.kind === 'invalid-name') {
        logger.warn('copy name is not a valid secret name; skipped', { namespace, name: r.name, source: r.source });
        recorder.warn(involved, 'InvalidTargetName', `no copy of ${r.source}: ${r.reason}`);
        outcome.problems.push(`invalid name ${r.name}`);
      } else {
        logger.warn('two sources map to one copy name; the first wins', { namespace, name: r.name, source: r.source, winner: r.winner });
        recorder.warn(involved, 'CopyNameCollision', `${r.source} and ${r.winner} both map to ${r.name}; ${r.winner} is copied`);
        outcome.problems.push(`name collision ${r.name}`);
      }
    }
  }

  /** Applies one secret write. Returns 'foreign' when a create found a secret that is not ours. */
  async #applySecret(namespace: string, a: SecretAction, outcome: Outcome): Promise<'ok' | 'foreign'> {
    const { kube, logger, dryRun } = this.#d;
    const name = actionName(a);
    const fields = { namespace, secret: name, op: a.op, ...(a.op === 'delete' || a.op === 'recreate' ? { reason: a.reason } : { source: a.source }) };
    if (dryRun) {
      logger.info('dry run: would write secret', fields);
      outcome.writes++; // planned
      return 'ok';
    }
    // Expected before the call: the watch event of the write can arrive before its response.
    this.expectations.expect('Secret', namespace, name);
    try {
      switch (a.op) {
        case 'create':
          await kube.createSecret(a.secret);
          break;
        case 'update':
          await kube.replaceSecret(a.secret);
          break;
        case 'recreate':
          await this.#ignoreNotFound(kube.deleteSecret(namespace, name, a.resourceVersion));
          await kube.createSecret(a.secret);
          break;
        case 'delete':
          await this.#ignoreNotFound(kube.deleteSecret(namespace, name, a.resourceVersion));
          break;
      }
    } catch (err) {
      this.expectations.observed('Secret', namespace, name); // nothing was written: no event to wait for
      if (err instanceof KubeError && err.kind === 'AlreadyExists' && a.op !== 'delete') {
        const live = await kube.getSecret(namespace, name);
        if (live && !isManaged(copyOf(live))) {
          let set = this.#foreign.get(namespace);
          if (!set) this.#foreign.set(namespace, (set = new Set()));
          set.add(name);
          return 'foreign';
        }
        // Ours, and the cache has not caught up yet: its watch event will bring us back.
        return 'ok';
      }
      if (err instanceof KubeError && err.kind === 'Conflict') this.#d.metrics?.conflict('secret');
      if (err instanceof KubeError && err.kind === 'NotFound' && a.op !== 'delete' && !this.#d.caches.namespaces.get(undefined, namespace)) {
        throw new KubeError('NamespaceTerminating', 404, `namespace ${namespace} is gone`);
      }
      throw err;
    }
    outcome.writes++;
    this.#d.metrics?.write(a.op);
    logger.info('secret written', fields);
    return 'ok';
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
    if (!live?.metadata || !isManaged(copyOf(live)) || live.metadata.annotations?.[ORPHANED_SINCE_ANNOTATION] !== undefined) return;
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
  async #patchServiceAccount(sa: ServiceAccountLike, change: PullSecretsChange, plan: Plan, outcome: Outcome): Promise<void> {
    const { kube, logger, dryRun, policy } = this.#d;
    const namespace = sa.metadata.namespace ?? '';
    const name = sa.metadata.name;
    if (dryRun) {
      logger.info('dry run: would patch serviceaccount', { namespace, serviceAccount: name, imagePullSecrets: change.imagePullSecrets.map((e) => e.name) });
      outcome.writes++; // planned
      if (!outcome.serviceAccountsPatched.includes(name)) outcome.serviceAccountsPatched.push(name);
      return;
    }
    const compute = (current: ServiceAccountLike): PullSecretsChange | null => serviceAccountChange(plan.verdict, current, plan.wanted, policy);
    const patched = await patchPullSecrets(kube, sa, compute, {
      // Expected before the call: the watch event of the write can arrive before its response.
      beforeWrite: () => this.expectations.expect('ServiceAccount', namespace, name),
      afterFailure: () => this.expectations.observed('ServiceAccount', namespace, name),
      onConflict: (attempt) => {
        this.#d.metrics?.conflict('serviceaccount');
        logger.debug('serviceaccount changed meanwhile; reading it again', { namespace, serviceAccount: name, attempt });
      },
    });
    if (!patched) return;
    outcome.writes++;
    if (!outcome.serviceAccountsPatched.includes(name)) outcome.serviceAccountsPatched.push(name);
    this.#d.metrics?.write('serviceaccount');
    logger.info('serviceaccount patched', { namespace, serviceAccount: name, imagePullSecrets: patched.change.imagePullSecrets.map((e) => e.name), attempt: patched.attempts });
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
