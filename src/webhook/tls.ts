/**
 * The webhook's TLS, without cert-manager. Every replica runs this loop:
 * 1. read the Secret `pullsecret-operator-webhook-tls` of the operator's namespace, which all replicas
 *    share (the first to find none creates it; a create that finds one already there takes that
 *    one, so two replicas starting at once converge on one CA);
 * 2. keep the caBundle of the MutatingWebhookConfiguration `pullsecret-operator` equal to the
 *    Secret's CA bundle (with --webhook-url, the whole configuration, created when absent);
 * 3. renew what renewal() says, with a resourceVersion-guarded update (a 409 means another replica
 *    renewed first: its material is read on the next pass);
 * 4. serve the material (onMaterial), so each replica picks up a renewal within one period.
 * Where the operator's namespace does not exist (a local run), the material lives in memory.
 * Replicas that share the Secret must run with the same webhook flags (the Deployment's replicas
 * do): the serving certificate names the hosts of those flags, and a replica that wants other hosts
 * reissues it.
 */
import { KubeError, type Kube } from '../kube/client.js';
import { errorMessage, type Logger } from '../log.js';
import { type CertPolicy, type TlsMaterial, caBundle, expiries, pemCertificates, renew, renewal, trusts } from './certs.js';
import { WEBHOOK_CONFIGURATION_NAME, WEBHOOK_SECRET, covers, desiredConfiguration } from './configuration.js';

export interface WebhookTlsDeps {
  kube: Kube;
  logger: Logger;
  clock: { now(): number };
  /** The operator's namespace: where the Secret lives. */
  namespace: string;
  policy: CertPolicy;
  /** With --webhook-url: the operator registers the webhook at this URL itself. Otherwise it only keeps the shipped configuration's caBundle current. */
  url: string | undefined;
  /** Called with the material to serve, whenever it changes. */
  onMaterial(m: TlsMaterial): void;
  /** False until the caches have synced: the webhook is registered (--webhook-url) only then. */
  ready(): boolean;
}

const KEYS = { caCerts: 'ca.crt', caKey: 'ca.key', cert: 'tls.crt', key: 'tls.key' } as const;

export function materialOf(data: Record<string, string> | undefined): TlsMaterial | undefined {
  const get = (k: string): string => Buffer.from(data?.[k] ?? '', 'base64').toString('utf8');
  const m = { caCerts: pemCertificates(get(KEYS.caCerts)), caKey: get(KEYS.caKey), cert: get(KEYS.cert), key: get(KEYS.key) };
  return m.caCerts.length > 0 && m.caKey && m.cert && m.key ? m : undefined;
}

function dataOf(m: TlsMaterial): Record<string, string> {
  const b = (s: string): string => Buffer.from(s).toString('base64');
  return { [KEYS.caCerts]: b(m.caCerts.join('')), [KEYS.caKey]: b(m.caKey), [KEYS.cert]: b(m.cert), [KEYS.key]: b(m.key) };
}

export class WebhookTls {
  #d: WebhookTlsDeps;
  #material: TlsMaterial | undefined;
  #resourceVersion: string | undefined;
  #store: 'secret' | 'memory' | undefined;
  #served: TlsMaterial | undefined;
  #missingWarned = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #running: Promise<void> = Promise.resolve();

  constructor(deps: WebhookTlsDeps) {
    this.#d = deps;
  }

  /** How often the loop runs: a tenth of a certificate's lifetime, from 1 s to 1 min. */
  get periodMs(): number {
    return Math.min(60_000, Math.max(1000, Math.floor(this.#d.policy.validityMs / 10)));
  }

  get material(): TlsMaterial | undefined {
    return this.#material;
  }

  /** One pass of the loop; resolves false when it failed (logged), never throws. Passes never overlap. */
  pass(): Promise<boolean> {
    const run = this.#running.then(() => this.#pass());
    this.#running = run.then(() => undefined);
    return run;
  }

  /** Runs passes until one has material to serve, then every period until stop(). */
  async start(): Promise<TlsMaterial> {
    for (let delay = 500; ; delay = Math.min(delay * 2, 10_000)) {
      await this.pass();
      if (this.#material || this.#stopped) break;
      await new Promise((r) => setTimeout(r, delay));
    }
    const loop = (): void => {
      if (this.#stopped) return;
      this.#timer = setTimeout(() => void this.pass().then(loop), this.periodMs);
      this.#timer.unref?.();
    };
    loop();
    if (!this.#material) throw new Error('stopped before the webhook had a certificate');
    return this.#material;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
  }

  async #pass(): Promise<boolean> {
    const { logger, clock, policy } = this.#d;
    try {
      await this.#load();
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
      if (this.#material && this.#material !== this.#served) {
        this.#served = this.#material;
        this.#d.onMaterial(this.#material);
      }
      return true;
    } catch (err) {
      logger.warn('webhook certificate check failed; retrying', { error: errorMessage(err), retryInMs: this.periodMs });
      return false;
    }
  }

  /** Reads the shared Secret, unless the material lives in memory. */
  async #load(): Promise<void> {
    if (this.#store === 'memory') return;
    const s = await this.#d.kube.getSecret(this.#d.namespace, WEBHOOK_SECRET);
    if (!s) {
      this.#resourceVersion = undefined; // the next write creates it
      return;
    }
    this.#store = 'secret';
    this.#resourceVersion = s.metadata?.resourceVersion;
    const m = materialOf(s.data);
    if (!m) return; // unreadable: renewal() makes new material, written over it
    const same = this.#material && dataEqual(this.#material, m);
    if (!same) this.#material = m;
  }

  /** Writes `next` where the material lives; false when another replica wrote first (read on the next pass). */
  async #save(next: TlsMaterial): Promise<boolean> {
    const { kube, namespace, logger } = this.#d;
    if (this.#store === 'memory') {
      this.#material = next;
      return true;
    }
    const secret = {
      metadata: { name: WEBHOOK_SECRET, namespace, labels: { 'app.kubernetes.io/name': 'pullsecret-operator', 'app.kubernetes.io/component': 'webhook' }, ...(this.#resourceVersion ? { resourceVersion: this.#resourceVersion } : {}) },
      type: 'kubernetes.io/tls',
      data: dataOf(next),
    };
    try {
      if (this.#resourceVersion === undefined) await kube.createSecret(secret);
      else await kube.replaceSecret(secret);
    } catch (err) {
      if (err instanceof KubeError && (err.kind === 'AlreadyExists' || err.kind === 'Conflict')) {
        logger.info('another replica wrote the webhook certificate first; using it', { secret: `${namespace}/${WEBHOOK_SECRET}` });
        await this.#load();
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
    await this.#load(); // the new resourceVersion
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
      const want = desiredConfiguration(url, caBundle(m, webhooks[0]?.clientConfig.caBundle, clock.now()));
      if (!have) {
        await kube.createMutatingWebhookConfiguration(want);
        logger.info('webhook registered', { configuration: WEBHOOK_CONFIGURATION_NAME, url });
        return false;
      }
      if (trusted && covers(have.webhooks, (want.webhooks ?? []).map((w) => ({ ...w, clientConfig: { url: w.clientConfig.url } })))) return true;
      await kube.replaceMutatingWebhookConfiguration({ ...have, metadata: { ...have.metadata, labels: { ...have.metadata?.labels, ...want.metadata?.labels } }, webhooks: want.webhooks });
      logger.info('webhook configuration updated', { configuration: WEBHOOK_CONFIGURATION_NAME, url });
      return false;
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
