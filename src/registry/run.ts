/**
 * Wiring of the credential check (leader only): the checker fed by the source-secrets cache, its
 * HTTPS requests, its Warning Events, and the ConfigMap where it publishes what `status` reads.
 * app.ts makes one with credentialCheck(), calls start() when it starts reconciling and stop() on
 * shutdown; the metric reads results().
 */
import type { Clock } from '../clock.js';
import type { CredentialSettings } from '../config.js';
import type { Policy } from '../domain/desired.js';
import type { SecretLike } from '../domain/types.js';
import { EventRecorder } from '../controller/recorder.js';
import { KubeError, type Kube } from '../kube/client.js';
import type { Informer } from '../kube/informers.js';
import { errorMessage, type Logger } from '../log.js';
import { readVersion } from '../version.js';
import { checkCredentials } from './check.js';
import { CredentialChecker } from './checker.js';
import { REQUEST_DEFAULTS, httpsRequest } from './https.js';
import { CREDENTIALS_CONFIGMAP, RESULTS_KEY, type ResultsDocument } from './results.js';

export interface CredentialCheckDeps {
  settings: CredentialSettings;
  kube: Kube;
  /** The source-secrets cache: what is checked, and its events say when. */
  sources: Informer<SecretLike>;
  policy: Policy;
  logger: Logger;
  clock: Pick<Clock, 'now' | 'monotonic' | 'setTimeout' | 'clearTimeout'>;
  identity: string;
  /** No Events and no ConfigMap writes; the checks and the metric still run. */
  dryRun: boolean;
  metrics?: { event(reason: string): void };
}

/** The ConfigMap writer: one server-side apply per publication. A missing namespace (a local run) is said once and skipped. */
export function configMapPublisher(kube: Pick<Kube, 'applyConfigMap'>, namespace: string, logger: Logger): (doc: ResultsDocument) => Promise<void> {
  let saidMissing = false;
  return async (doc) => {
    try {
      await kube.applyConfigMap(namespace, CREDENTIALS_CONFIGMAP, { 'app.kubernetes.io/name': 'pullsecret-operator', 'app.kubernetes.io/part-of': 'pullsecret-operator' }, { [RESULTS_KEY]: `${JSON.stringify(doc, null, 1)}\n` });
      saidMissing = false;
    } catch (err) {
      if (!(err instanceof KubeError && err.kind === 'NotFound')) throw err;
      if (!saidMissing) logger.info('credential results not published: the namespace does not exist', { namespace, configMap: CREDENTIALS_CONFIGMAP, error: errorMessage(err) });
      saidMissing = true;
    }
  };
}

export function credentialCheck(d: CredentialCheckDeps): CredentialChecker {
  const recorder = new EventRecorder({
    kube: d.kube,
    clock: d.clock,
    instance: d.identity,
    enabled: !d.dryRun,
    onError: (err) => d.logger.warn('could not record event', { error: errorMessage(err) }),
    onRecorded: (reason) => d.metrics?.event(reason),
  });
  const request = httpsRequest({ ...REQUEST_DEFAULTS, userAgent: `pullsecret-operator/${readVersion()} (credential check)` });
  const checker = new CredentialChecker({
    secrets: () => d.sources.list(d.policy.sourceNamespace),
    policy: d.policy,
    check: (cred) => checkCredentials(cred, request),
    clock: d.clock,
    logger: d.logger,
    recorder,
    ...(d.dryRun ? {} : { publish: configMapPublisher(d.kube, d.settings.namespace, d.logger) }),
    identity: d.identity,
    intervalMs: d.settings.intervalMs,
  });
  d.sources.on(() => checker.sourcesChanged());
  return checker;
}
