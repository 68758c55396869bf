/**
 * The webhook's wiring: certificates first (src/webhook/tls.ts), then the HTTPS server
 * (src/webhook/server.ts) answering with ServiceAccountWebhook (src/webhook/mutate.ts). With
 * --webhook-url the configuration is registered once the caches have synced.
 */
import type { WebhookSettings } from '../config.js';
import type { Policy } from '../domain/desired.js';
import type { Caches } from '../controller/reconciler.js';
import type { Kube } from '../kube/client.js';
import type { Logger } from '../log.js';
import { expiries } from './certs.js';
import { type WebhookMetrics, ServiceAccountWebhook } from './mutate.js';
import { type WebhookServer, startWebhookServer } from './server.js';
import { WebhookTls } from './tls.js';

export interface Webhook {
  /** True once it listens with a certificate. */
  readonly serving: boolean;
  /** Call once the caches have synced: registers (or refreshes the caBundle of) the configuration at once. */
  synced(): void;
  close(): Promise<void>;
}

export interface WebhookDeps {
  settings: WebhookSettings;
  kube: Kube;
  caches: Caches;
  policy: Policy;
  logger: Logger;
  clock: { now(): number };
  dryRun: boolean;
  synced(): boolean;
  metrics?: WebhookMetrics;
}

export async function startWebhook(d: WebhookDeps): Promise<Webhook> {
  const { settings, logger } = d;
  // Set once listening; the first material is served from the start, renewals through setMaterial.
  const holder: { server?: WebhookServer } = {};
  const tls = new WebhookTls({
    kube: d.kube,
    logger,
    clock: d.clock,
    namespace: settings.namespace,
    policy: { validityMs: settings.certValidityMs, hosts: settings.hosts },
    url: settings.url,
    ready: d.synced,
    onMaterial: (m) => {
      if (!holder.server) return;
      holder.server.setMaterial(m);
      logger.info('webhook serving certificate loaded', expiries(m));
    },
  });
  const material = await tls.start();
  const handler = new ServiceAccountWebhook({ caches: d.caches, kube: d.kube, policy: d.policy, logger, clock: d.clock, synced: d.synced, dryRun: d.dryRun, ...(d.metrics ? { metrics: d.metrics } : {}) });
  const s = (holder.server = await startWebhookServer(settings.address, material, (r) => handler.review(r)));
  logger.info('webhook listening', { address: settings.address, port: s.port, hosts: settings.hosts, url: settings.url, ...expiries(material) });
  return {
    serving: true,
    synced: () => void tls.pass(),
    close: async () => {
      tls.stop();
      await s.close();
    },
  };
}
