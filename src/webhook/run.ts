/**
 * The webhook as a runnable of the manager (src/manager.ts): its certificate loop
 * (src/webhook/tls.ts) runs in the background from start(), and its HTTPS server
 * (src/webhook/server.ts, answering with ServiceAccountWebhook of src/webhook/mutate.ts) starts
 * once there is a certificate to serve. Nothing else waits for it: a certificate that cannot be
 * stored keeps the webhook from serving, reported by ready() (so /readyz), a Warning Event on the
 * Secret and the metrics, while the caches, leader election and reconciling go on. With
 * --webhook-url the configuration is registered once the caches have synced.
 */
import type { Clock } from '../clock.js';
import type { WebhookSettings } from '../config.js';
import type { Policy } from '../domain/desired.js';
import type { Caches } from '../controller/reconciler.js';
import type { EventRecorder } from '../controller/recorder.js';
import type { Kube } from '../kube/client.js';
import { errorMessage, type Logger } from '../log.js';
import type { Runnable } from '../manager.js';
import { type ServingMaterial, expiries } from './certs.js';
import { WEBHOOK_SECRET } from './configuration.js';
import { type WebhookMetrics, ServiceAccountWebhook } from './mutate.js';
import { type WebhookServer, startWebhookServer } from './server.js';
import { type TlsProblem, type TlsProblemReason, WebhookTls } from './tls.js';

/** What the webhook reports besides its admissions. */
export interface WebhookStatusMetrics extends WebhookMetrics {
  certificateError(reason: TlsProblemReason): void;
}

export interface WebhookDeps {
  settings: WebhookSettings;
  kube: Kube;
  caches: Caches;
  policy: Policy;
  logger: Logger;
  clock: Clock;
  dryRun: boolean;
  synced(): boolean;
  recorder: Pick<EventRecorder, 'warn'>;
  metrics?: WebhookStatusMetrics;
}

/** Event reasons on the certificate Secret. */
const EVENT_REASON: Record<TlsProblemReason, string> = { 'foreign-secret': 'WebhookCertificateBlocked', forbidden: 'WebhookCertificateFailed', error: 'WebhookCertificateFailed' };

export class WebhookRunnable implements Runnable {
  readonly name = 'webhook';
  #d: WebhookDeps;
  #tls: WebhookTls;
  #handler: ServiceAccountWebhook;
  #material: ServingMaterial | undefined;
  #server: WebhookServer | undefined;
  #listening = false;
  #problem: TlsProblem | undefined;
  #stopped = false;

  constructor(d: WebhookDeps) {
    this.#d = d;
    const { settings, logger } = d;
    this.#handler = new ServiceAccountWebhook({ caches: d.caches, kube: d.kube, policy: d.policy, logger, clock: d.clock, synced: d.synced, dryRun: d.dryRun, ...(d.metrics ? { metrics: d.metrics } : {}) });
    this.#tls = new WebhookTls({
      kube: d.kube,
      logger,
      clock: d.clock,
      namespace: settings.namespace,
      policy: { validityMs: settings.certValidityMs, hosts: settings.hosts },
      url: settings.url,
      ready: d.synced,
      onMaterial: (m) => {
        this.#material = m;
        if (this.#server) {
          this.#server.setMaterial(m);
          logger.info('webhook serving certificate loaded', expiries(m));
        }
        void this.#listen();
      },
      onProblem: (p) => this.#report(p),
      onOk: () => {
        if (this.#problem) logger.info('webhook certificate problem resolved', { secret: this.#secretRef });
        this.#problem = undefined;
        void this.#listen(); // a listen that failed is tried again
      },
    });
  }

  get #secretRef(): string {
    return `${this.#d.settings.namespace}/${WEBHOOK_SECRET}`;
  }

  /** True once it listens with a certificate. */
  get serving(): boolean {
    return this.#server !== undefined;
  }

  start(): void {
    this.#tls.start();
  }

  /** Call once the caches have synced: registers (or refreshes the caBundle of) the configuration at once. */
  synced(): void {
    void this.#tls.pass();
  }

  ready(): string | null {
    if (this.serving) return null;
    return `webhook not serving: ${this.#problem?.message ?? 'no certificate yet'}`;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#tls.stop();
    await this.#server?.close();
  }

  async #listen(): Promise<void> {
    const m = this.#material;
    if (!m || this.#server || this.#listening || this.#stopped) return;
    this.#listening = true;
    const { settings, logger } = this.#d;
    try {
      this.#server = await startWebhookServer(settings.address, m, (r) => this.#handler.review(r));
      if (this.#stopped) return void (await this.#server.close());
      logger.info('webhook listening', { address: settings.address, port: this.#server.port, hosts: settings.hosts, url: settings.url, ...expiries(m) });
    } catch (err) {
      this.#report({ reason: 'error', message: `cannot listen on ${settings.address}: ${errorMessage(err)}` });
    } finally {
      this.#listening = false;
    }
  }

  #report(p: TlsProblem): void {
    const { logger, metrics, recorder, settings } = this.#d;
    metrics?.certificateError(p.reason);
    if (this.#problem?.message !== p.message) logger.warn('webhook cannot serve; retrying', { reason: p.reason, problem: p.message, secret: this.#secretRef, serving: this.serving });
    this.#problem = p;
    recorder.warn({ kind: 'Secret', namespace: settings.namespace, name: WEBHOOK_SECRET }, EVENT_REASON[p.reason], p.message);
  }
}
