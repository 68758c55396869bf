/**
 * The ServiceAccount CREATE webhook: a ServiceAccount is born with the names of the copies its
 * namespace has or is about to get, decided by admitServiceAccount (src/domain/plan.ts), the rule
 * the reconciler applies. It reads the caches; a namespace not in the cache yet (created a moment
 * before) is read live, as are the secrets that hold the names of copies still to be made (a
 * foreign secret keeps its name off the list, as it does for the reconciler). The live reads use
 * their own client, not the reconcile queue, and are bounded so that the answer comes well within
 * the API server's timeout. It never denies: on any trouble it admits the ServiceAccount unchanged,
 * and the reconciler patches it later.
 */
import type { V1ServiceAccount } from '@kubernetes/client-node';
import { type Clock, deadline } from '../clock.js';
import { jsonPatch } from '../domain/patches.js';
import { type Policy, collectSources } from '../domain/desired.js';
import { isManaged } from '../domain/ownership.js';
import { admitServiceAccount, planNamespace } from '../domain/plan.js';
import type { NamespaceLike } from '../domain/types.js';
import type { Kube } from '../kube/client.js';
import { namespaceOf, serviceAccountOf } from '../kube/ingest.js';
import { errorMessage, type Logger } from '../log.js';
import { foreignNames } from '../controller/ownership.js';
import type { Caches } from '../controller/reconciler.js';

/** The live reads of one review must finish within this; the API server gives up after 3 s. */
export const LIVE_READ_TIMEOUT_MS = 1500;

export interface AdmissionReview {
  apiVersion?: string;
  kind?: string;
  request?: { uid?: string; namespace?: string; operation?: string; kind?: { kind?: string }; object?: unknown; dryRun?: boolean };
}

export interface AdmissionReviewResponse {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: { uid: string; allowed: true; patchType?: 'JSONPatch'; patch?: string; warnings?: string[] };
}

export interface WebhookMetrics {
  admission(result: 'patched' | 'unchanged' | 'error', live: boolean, seconds: number): void;
}

export interface MutateDeps {
  caches: Caches;
  /** A client of the webhook's own: its reads never wait behind the reconciler's. */
  kube: Kube;
  policy: Policy;
  logger: Logger;
  /** The wall clock plans grace periods; the monotonic clock times answers; a timer bounds the live reads. */
  clock: Pick<Clock, 'now' | 'monotonic' | 'setTimeout' | 'clearTimeout'>;
  /** The caches have synced: until then the webhook admits unchanged. */
  synced(): boolean;
  dryRun: boolean;
  metrics?: WebhookMetrics;
  liveReadTimeoutMs?: number;
}

export class ServiceAccountWebhook {
  #d: MutateDeps;

  constructor(deps: MutateDeps) {
    this.#d = deps;
  }

  /** The answer to one AdmissionReview. Never throws. */
  async review(body: AdmissionReview): Promise<AdmissionReviewResponse> {
    const { logger, clock } = this.#d;
    const started = clock.monotonic();
    const req = body.request ?? {};
    const uid = req.uid ?? '';
    const allow = (patch?: unknown[]): AdmissionReviewResponse => ({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid, allowed: true, ...(patch && patch.length > 0 ? { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') } : {}) },
    });
    const namespace = req.namespace ?? '';
    const raw = (req.object ?? {}) as V1ServiceAccount;
    const name = raw.metadata?.name ?? raw.metadata?.generateName ?? '';
    if (req.operation !== 'CREATE' || req.kind?.kind !== 'ServiceAccount' || namespace === '') return allow();
    if (!this.#d.synced()) {
      logger.debug('webhook: caches not synced; admitted unchanged', { namespace, serviceAccount: name });
      return allow();
    }
    let live = false;
    try {
      // The object under admission does not name its namespace: the request does.
      const sa = serviceAccountOf({ ...raw, metadata: { ...raw.metadata, namespace } });
      const ms = this.#d.liveReadTimeoutMs ?? LIVE_READ_TIMEOUT_MS;
      const decided = await deadline(clock, this.#decide(namespace, sa, () => (live = true)), ms, () => new Error(`live reads took longer than ${ms} ms`));
      const seconds = (clock.monotonic() - started) / 1000;
      if (!decided) {
        this.#d.metrics?.admission('unchanged', live, seconds);
        return allow();
      }
      const ops = jsonPatch({ ...sa, metadata: { ...sa.metadata, annotations: raw.metadata?.annotations } }, decided);
      if (this.#d.dryRun) {
        logger.info('dry run: webhook would add pull secrets', { namespace, serviceAccount: name, imagePullSecrets: decided.imagePullSecrets.map((e) => e.name) });
        this.#d.metrics?.admission('unchanged', live, seconds);
        return allow();
      }
      logger.info('webhook: serviceaccount admitted with pull secrets', {
        namespace,
        serviceAccount: name,
        imagePullSecrets: decided.imagePullSecrets.map((e) => e.name),
        liveRead: live,
        durationMs: clock.monotonic() - started,
      });
      this.#d.metrics?.admission('patched', live, seconds);
      return allow(ops);
    } catch (err) {
      logger.warn('webhook: could not decide; admitted unchanged (the reconciler patches it later)', { namespace, serviceAccount: name, error: errorMessage(err) });
      this.#d.metrics?.admission('error', live, (clock.monotonic() - started) / 1000);
      return allow();
    }
  }

  async #decide(namespace: string, sa: ReturnType<typeof serviceAccountOf>, onLive: () => void): Promise<ReturnType<typeof admitServiceAccount>> {
    const { caches, kube, policy, clock } = this.#d;
    let ns: NamespaceLike | undefined = caches.namespaces.get(undefined, namespace);
    if (!ns) {
      onLive();
      const got = await kube.getNamespace(namespace);
      ns = got ? namespaceOf(got) : undefined;
    }
    const sources = collectSources(caches.sources.list(policy.sourceNamespace), policy);
    const copies = caches.copies.list(namespace).filter(isManaged);
    const now = clock.now();
    // Copies still to be made: is their name held by a secret that is not ours? (One that is ours
    // is a copy the cache has not caught up with.)
    const toMake = planNamespace({ namespace: ns, sources, copies, serviceAccounts: [], foreign: new Set(), now }, policy).upserts.flatMap((a) => (a.op === 'create' ? [a.secret.metadata.name] : []));
    if (toMake.length > 0) onLive();
    const foreign = await foreignNames(kube, namespace, toMake);
    return admitServiceAccount({ namespace: ns, sources, copies, foreign, now }, sa, policy);
  }

}
