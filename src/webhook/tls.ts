/**
 * The webhook's TLS. Every replica runs this loop, in the background: nothing waits for it but
 * the webhook's own server, which starts once there is a certificate to serve.
 *
 * The Secret `pullsecret-operator-webhook-tls` of the operator's namespace decides the mode:
 * - absent, or the operator's own (type kubernetes.io/tls with WEBHOOK_SECRET_LABELS): the operator
 *   makes and renews a CA and a serving certificate there, shared by all replicas (the first to
 *   find none creates it; a create that finds one already there takes that one, so two replicas
 *   starting at once converge on one CA), and keeps the caBundle of the MutatingWebhookConfiguration
 *   `pullsecret-operator` equal to its CA bundle (with --webhook-url, the whole configuration);
 * - someone else's kubernetes.io/tls Secret with tls.crt and tls.key (cert-manager's Certificate
 *   writes one, with ca.crt): the operator serves it as it is and writes neither it nor the
 *   caBundle, which cert-manager's CA injector owns;
 * - anything else of that name: the webhook cannot serve. The Secret is never written; the problem
 *   is reported (onProblem: a Warning Event, a metric, /readyz) and looked at again every pass.
 * Renewals are resourceVersion-guarded updates (a 409 means another replica renewed first: its
 * material is read on the next pass). Where the operator's namespace does not exist (a local run),
 * the material lives in memory. Replicas that share the Secret must run with the same webhook flags
 * (the Deployment's replicas do): the serving certificate names the hosts of those flags, and a
 * replica that wants other hosts reissues it.
 */
import { X509Certificate } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import type { Clock, Timer } from '../clock.js';
import { KubeError, type Kube } from '../kube/client.js';
import { errorMessage, type Logger } from '../log.js';
import { type CertPolicy, type ServingMaterial, type TlsMaterial, caBundle, expiries, pemCertificates, renew, renewal, trusts } from './certs.js';
import { WEBHOOK_CONFIGURATION_NAME, WEBHOOK_SECRET, covers, desiredConfiguration } from './configuration.js';

/** The labels that make the Secret the operator's own (and that the admission policy checks). */
export const WEBHOOK_SECRET_LABELS: Readonly<Record<string, string>> = Object.freeze({ 'app.kubernetes.io/name': 'pullsecret-operator', 'app.kubernetes.io/component': 'webhook' });

/** Why the webhook cannot serve (or renew): the reason label of the metric. */
export type TlsProblemReason = 'foreign-secret' | 'forbidden' | 'error';

export interface TlsProblem {
  reason: TlsProblemReason;
  message: string;
}

export interface WebhookTlsDeps {
  kube: Kube;
  logger: Logger;
  /** The wall clock judges certificates; timers run the loop. */
  clock: Pick<Clock, 'now' | 'setTimeout' | 'clearTimeout'>;
  /** The operator's namespace: where the Secret lives. */
  namespace: string;
  policy: CertPolicy;
  /** With --webhook-url: the operator registers the webhook at this URL itself. Otherwise it only keeps the shipped configuration's caBundle current. */
  url: string | undefined;
  /** Called with the material to serve, whenever it changes. */
  onMaterial(m: ServingMaterial): void;
  /** Called after each pass that failed, with why; onOk after each pass that did not. */
  onProblem(p: TlsProblem): void;
  onOk(): void;
  /** False until the caches have synced: the webhook is registered (--webhook-url) only then. */
  ready(): boolean;
}

const KEYS = { caCerts: 'ca.crt', caKey: 'ca.key', cert: 'tls.crt', key: 'tls.key' } as const;
const TLS_TYPE = 'kubernetes.io/tls';

/** What the Secret of that name is to the operator. */
export type StoredSecret =
  | { kind: 'absent' }
  | { kind: 'ours'; resourceVersion: string | undefined; material: TlsMaterial | undefined }
  | { kind: 'external'; resourceVersion: string | undefined; serving: ServingMaterial; caCerts: string[] }
  | { kind: 'foreign'; resourceVersion: string | undefined; why: string };

function decoded(data: Record<string, string> | undefined, k: string): string {
  return Buffer.from(data?.[k] ?? '', 'base64').toString('utf8');
}

export function materialOf(data: Record<string, string> | undefined): TlsMaterial | undefined {
  const m = { caCerts: pemCertificates(decoded(data, KEYS.caCerts)), caKey: decoded(data, KEYS.caKey), cert: decoded(data, KEYS.cert), key: decoded(data, KEYS.key) };
  return m.caCerts.length > 0 && m.caKey && m.cert && m.key ? m : undefined;
}

/** Pure: classifies the Secret named WEBHOOK_SECRET (see the module comment). */
export function classifySecret(s: V1Secret | undefined): StoredSecret {
  if (!s) return { kind: 'absent' };
  const resourceVersion = s.metadata?.resourceVersion;
  const labels = s.metadata?.labels ?? {};
  const ours = Object.entries(WEBHOOK_SECRET_LABELS).every(([k, v]) => labels[k] === v);
  const type = s.type ?? '';
  if (ours && type === TLS_TYPE) return { kind: 'ours', resourceVersion, material: materialOf(s.data) };
  if (ours) return { kind: 'foreign', resourceVersion, why: `it carries the operator's labels but its type is "${type}", not ${TLS_TYPE}` };
  if (type !== TLS_TYPE) return { kind: 'foreign', resourceVersion, why: `it is not the operator's and its type is "${type}", not ${TLS_TYPE}` };
  const cert = decoded(s.data, KEYS.cert);
  const key = decoded(s.data, KEYS.key);
  if (!cert || !key) return { kind: 'foreign', resourceVersion, why: 'it is not the operator\'s and holds no tls.crt and tls.key' };
  try {
    new X509Certificate(cert);
  } catch {
    return { kind: 'foreign', resourceVersion, why: 'it is not the operator\'s and its tls.crt does not parse' };
  }
  return { kind: 'external', resourceVersion, serving: { cert, key }, caCerts: pemCertificates(decoded(s.data, KEYS.caCerts)) };
}

function dataOf(m: TlsMaterial): Record<string, string> {
  const b = (s: string): string => Buffer.from(s).toString('base64');
  return { [KEYS.caCerts]: b(m.caCerts.join('')), [KEYS.caKey]: b(m.caKey), [KEYS.cert]: b(m.cert), [KEYS.key]: b(m.key) };
}

/** Retries of a pass that failed: 500 ms doubling, up to this (or the period, if shorter). */
const RETRY_MAX_MS = 30_000;

export class WebhookTls {
  #d: WebhookTlsDeps;
  /** The operator's own material, as last read or written (managed mode). */
  #material: TlsMaterial | undefined;
  #resourceVersion: string | undefined;
  #store: 'secret' | 'memory' | undefined;
  #served: ServingMaterial | undefined;
  #missingWarned = false;
  #untrustedWarned = false;
  #timer: Timer | undefined;
  #stopped = false;
  #running: Promise<void> = Promise.resolve();

  constructor(deps: WebhookTlsDeps) {
    this.#d = deps;
  }

  /** How often the loop runs: a tenth of a certificate's lifetime, from 1 s to 1 min. */
  get periodMs(): number {
    return Math.min(60_000, Math.max(1000, Math.floor(this.#d.policy.validityMs / 10)));
  }

  /** One pass of the loop; resolves false when it failed (reported), never throws. Passes never overlap. */
  pass(): Promise<boolean> {
    const run = this.#running.then(() => this.#pass());
    this.#running = run.then(() => undefined);
    return run;
  }

  /** Runs passes in the background until stop(): every period, and sooner (with backoff) after a failure. */
  start(): void {
    let retry = 500;
    const loop = async (): Promise<void> => {
      if (this.#stopped) return;
      const ok = await this.pass();
      if (this.#stopped) return;
      const delay = ok ? this.periodMs : Math.min(retry, this.periodMs, RETRY_MAX_MS);
      retry = ok ? 500 : Math.min(retry * 2, RETRY_MAX_MS);
      this.#timer = this.#d.clock.setTimeout(() => void loop(), delay);
      this.#timer.unref();
    };
    void loop();
  }

  stop(): void {
    this.#stopped = true;
    this.#d.clock.clearTimeout(this.#timer);
  }

  async #pass(): Promise<boolean> {
    const { logger } = this.#d;
    try {
      const stored = this.#store === 'memory' ? undefined : classifySecret(await this.#d.kube.getSecret(this.#d.namespace, WEBHOOK_SECRET));
      if (stored?.kind === 'external') return this.#external(stored);
      if (stored?.kind === 'foreign') {
        this.#d.onProblem({
          reason: 'foreign-secret',
          message: `Secret ${this.#d.namespace}/${WEBHOOK_SECRET} exists and ${stored.why}; the operator does not write it. Delete it to let the operator make its own, or make it a ${TLS_TYPE} Secret with tls.crt and tls.key (cert-manager)`,
        });
        return false;
      }
      await this.#managed(stored);
      this.#d.onOk();
      return true;
    } catch (err) {
      const reason: TlsProblemReason = err instanceof KubeError && err.kind === 'Forbidden' ? 'forbidden' : 'error';
      logger.warn('webhook certificate check failed; retrying', { error: errorMessage(err), reason });
      this.#d.onProblem({ reason, message: errorMessage(err) });
      return false;
    }
  }

  /** Someone else's certificate (cert-manager): served as it is; the operator writes nothing. */
  async #external(stored: Extract<StoredSecret, { kind: 'external' }>): Promise<boolean> {
    this.#serve(stored.serving);
    if (this.#d.ready() && stored.caCerts.length > 0) {
      const have = await this.#d.kube.getMutatingWebhookConfiguration(WEBHOOK_CONFIGURATION_NAME);
      const bundles = (have?.webhooks ?? []).map((w) => pemCertificates(Buffer.from(w.clientConfig.caBundle ?? '', 'base64').toString('utf8')));
      const trusted = bundles.length > 0 && bundles.every((b) => stored.caCerts.some((c) => b.includes(c)));
      if (!trusted && !this.#untrustedWarned) {
        this.#d.logger.warn('webhook configuration does not trust the certificate of the Secret; its caBundle is not ours to write', { configuration: WEBHOOK_CONFIGURATION_NAME, secret: `${this.#d.namespace}/${WEBHOOK_SECRET}` });
      }
      this.#untrustedWarned = !trusted;
    }
    this.#d.onOk();
    return true;
  }

  /** The operator's own certificates: load, write back, renew, keep the caBundle current, serve. */
  async #managed(stored: Extract<StoredSecret, { kind: 'absent' } | { kind: 'ours' }> | undefined): Promise<void> {
    const { logger, clock, policy } = this.#d;
    this.#take(stored);
    // Material but no Secret (deleted by hand): write ours back, so that every replica keeps one CA.
    if (this.#material && this.#store === 'secret' && this.#resourceVersion === undefined) await this.#save(this.#material);
    let trusted = false;
    if (this.#material && this.#d.ready()) trusted = await this.#ensureTrust(this.#material);
    const r = renewal(this.#material, clock.now(), policy, trusted);
    if (r.kind !== 'none') {
      const next = await renew(this.#material, r, clock.now(), policy);
      if (await this.#save(next)) {
        logger.info('webhook certificate renewed', { renewed: r.kind, reason: r.reason, store: this.#store, secret: `${this.#d.namespace}/${WEBHOOK_SECRET}`, ...expiries(next) });
        if (this.#d.ready()) await this.#ensureTrust(next);
      }
    }
    if (this.#material) this.#serve(this.#material);
  }

  #serve(m: ServingMaterial): void {
    if (this.#served && this.#served.cert === m.cert && this.#served.key === m.key) return;
    this.#served = { cert: m.cert, key: m.key };
    this.#d.onMaterial(this.#served);
  }

  /** Takes what was read of the Secret: its resourceVersion, and its material when it differs. */
  #take(stored: Extract<StoredSecret, { kind: 'absent' } | { kind: 'ours' }> | undefined): void {
    if (stored === undefined) return; // in memory
    if (stored.kind === 'absent') {
      this.#resourceVersion = undefined; // the next write creates it
      return;
    }
    this.#store = 'secret';
    this.#resourceVersion = stored.resourceVersion;
    const m = stored.material;
    if (!m) return; // unreadable: renewal() makes new material, written over it
    if (!(this.#material && dataEqual(this.#material, m))) this.#material = m;
  }

  /** Re-reads the Secret after a write (its new resourceVersion) or a lost race. */
  async #reload(): Promise<void> {
    const stored = classifySecret(await this.#d.kube.getSecret(this.#d.namespace, WEBHOOK_SECRET));
    if (stored.kind === 'absent' || stored.kind === 'ours') this.#take(stored);
  }

  /** Writes `next` where the material lives; false when another replica wrote first (read on the next pass). */
  async #save(next: TlsMaterial): Promise<boolean> {
    const { kube, namespace, logger } = this.#d;
    if (this.#store === 'memory') {
      this.#material = next;
      return true;
    }
    const secret = {
      metadata: { name: WEBHOOK_SECRET, namespace, labels: { ...WEBHOOK_SECRET_LABELS }, ...(this.#resourceVersion ? { resourceVersion: this.#resourceVersion } : {}) },
      type: TLS_TYPE,
      data: dataOf(next),
    };
    try {
      if (this.#resourceVersion === undefined) await kube.createSecret(secret);
      else await kube.replaceSecret(secret);
    } catch (err) {
      if (err instanceof KubeError && (err.kind === 'AlreadyExists' || err.kind === 'Conflict')) {
        logger.info('another replica wrote the webhook certificate first; using it', { secret: `${namespace}/${WEBHOOK_SECRET}` });
        await this.#reload();
        return false;
      }
      if (err instanceof KubeError && (err.kind === 'NotFound' || err.kind === 'NamespaceTerminating') && this.#resourceVersion === undefined) {
        logger.info('operator namespace not found; keeping the webhook CA in memory', { namespace });
        this.#store = 'memory';
        this.#material = next;
        return true;
      }
      throw err;
    }
    this.#store = 'secret';
    this.#material = next;
    await this.#reload(); // the new resourceVersion
    return true;
  }

  /**
   * Makes the webhook configuration trust `m` (adding our CAs to those it holds; see caBundle).
   * True when it already trusted our signing CA before this call: a caBundle the API server may
   * not have seen yet does not count until the next pass.
   */
  async #ensureTrust(m: TlsMaterial): Promise<boolean> {
    const { kube, logger, url, clock } = this.#d;
    const have = await kube.getMutatingWebhookConfiguration(WEBHOOK_CONFIGURATION_NAME);
    const webhooks = have?.webhooks ?? [];
    const trusted = webhooks.length > 0 && webhooks.every((w) => trusts(w.clientConfig.caBundle, m));
    if (url !== undefined) {
      // Creating or reshaping the configuration takes an admin's credentials (an out-of-cluster
      // run): the admission policy lets the operator's own token change nothing but caBundles.
      // A configuration already of the right shape (installed beforehand) gets its caBundle below.
      const want = desiredConfiguration(url, caBundle(m, webhooks[0]?.clientConfig.caBundle, clock.now()));
      if (!have) {
        await kube.createMutatingWebhookConfiguration(want);
        logger.info('webhook registered', { configuration: WEBHOOK_CONFIGURATION_NAME, url });
        return false;
      }
      if (!covers(have.webhooks, (want.webhooks ?? []).map((w) => ({ ...w, clientConfig: { url: w.clientConfig.url } })))) {
        await kube.replaceMutatingWebhookConfiguration({ ...have, metadata: { ...have.metadata, labels: { ...have.metadata?.labels, ...want.metadata?.labels } }, webhooks: want.webhooks });
        logger.info('webhook configuration updated', { configuration: WEBHOOK_CONFIGURATION_NAME, url });
        return false;
      }
    }
    if (!have) {
      if (!this.#missingWarned) logger.warn('webhook configuration not found; nothing calls the webhook until it is installed', { configuration: WEBHOOK_CONFIGURATION_NAME });
      this.#missingWarned = true;
      return false;
    }
    this.#missingWarned = false;
    if (trusted) return true;
    const stale = webhooks.map((w, i) => ({ w, i })).filter(({ w }) => !trusts(w.clientConfig.caBundle, m));
    await kube.patchMutatingWebhookConfiguration(WEBHOOK_CONFIGURATION_NAME, [
      { op: 'test', path: '/metadata/resourceVersion', value: have.metadata?.resourceVersion },
      ...stale.map(({ w, i }) => ({ op: 'add' as const, path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundle(m, w.clientConfig.caBundle, clock.now()) })),
    ]);
    logger.info('webhook caBundle updated', { configuration: WEBHOOK_CONFIGURATION_NAME, webhooks: stale.map(({ w }) => w.name) });
    return false;
  }
}

function dataEqual(a: TlsMaterial, b: TlsMaterial): boolean {
  return a.cert === b.cert && a.key === b.key && a.caKey === b.caKey && a.caCerts.join('') === b.caCerts.join('');
}
