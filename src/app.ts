/**
 * Running the operator: informers, queue and reconciler, the HTTP server, signals, and leader
 * election when enabled. SIGTERM/SIGINT stop intake, drain the work in flight, release the Lease
 * (when leader) and resolve 0; a lost leadership resolves 1.
 */
import type { Config } from './config.js';
import { Operator } from './controller/operator.js';
import { startHttpServer, type HttpServer } from './http/server.js';
import type { Kube } from './kube/client.js';
import { LeaderElector, systemElectorClock, type StoppedLeading } from './kube/leader.js';
import { errorMessage, type Logger } from './log.js';
import { Metrics } from './metrics.js';
import { formatSummary, inSync } from './summary.js';
import { countByState } from './domain/status.js';
import { namespaceStatesFromCaches } from './status.js';
import type { Webhook } from './webhook/run.js';
import { readVersion } from './version.js';
import { credentialCheck } from './registry/run.js';
import type { CredentialChecker } from './registry/checker.js';

const SHUTDOWN_TIMEOUT_MS = 8000;
const ONCE_MAX_ATTEMPTS = 8;

/**
 * Resolves true once every cache has synced, false when `ms` pass first. Later relists never end
 * the process; a first sync that cannot finish does, so that Kubernetes restarts it rather than
 * letting a leader hold the Lease without reconciling.
 */
function syncWithin(op: Operator, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([op.waitForSync().then(() => true), timeout]).finally(() => clearTimeout(timer));
}

/**
 * `webhookKube`: the admission webhook's own client (src/main.ts makes a second one), so that its
 * live reads never queue behind the reconciler's requests; the operator's client when not given.
 */
export async function runOperator(config: Readonly<Config>, logger: Logger, kube: Kube, webhookKube: Kube = kube): Promise<number> {
  const clock = { now: () => Date.now() };
  const ref: { op?: Operator; checker?: CredentialChecker } = {};
  const metrics = new Metrics({
    defaultMetrics: true,
    depth: () => ref.op?.queue.length ?? 0,
    copies: () => ref.op?.caches.copies.size ?? 0,
    namespaceStates: () => (ref.op?.synced ? countByState(namespaceStatesFromCaches(ref.op.caches, config.policy, clock.now())) : undefined),
    credentials: () => ref.checker?.results(),
  });
  const op = (ref.op = new Operator({
    kube,
    policy: config.policy,
    logger,
    clock,
    dryRun: config.dryRun,
    workers: config.workers,
    resyncPeriodMs: config.resyncPeriodMs,
    identity: config.identity,
    metrics,
    recordOutcomes: config.once,
    // --once retries a transient error (409, 429, 5xx, a timeout) before it reports: 8 attempts,
    // about 13 s of backoff plus whatever Retry-After asks.
    ...(config.once ? { maxRetries: ONCE_MAX_ATTEMPTS } : {}),
  }));
  logger.info('starting', {
    version: readVersion(),
    sourceNamespace: config.policy.sourceNamespace,
    dryRun: config.dryRun,
    once: config.once,
    leaderElect: config.leaderElection.enabled && !config.once,
    identity: config.identity,
  });
  op.startInformers();
  // The credential check (src/registry/): on the leader only, started with the reconciling.
  const checker = (ref.checker = config.credentials.enabled && !config.once ? credentialCheck({ settings: config.credentials, kube, sources: op.caches.sources, policy: config.policy, logger, clock, identity: config.identity, dryRun: config.dryRun, metrics }) : undefined);

  const syncFailed = (): number => {
    logger.error('caches did not sync in time; exiting', { syncTimeoutMs: config.syncTimeoutMs, informers: op.informerStats().filter((i) => !i.synced).map((i) => i.name) });
    return 1;
  };

  if (config.once) {
    if (!(await syncWithin(op, config.syncTimeoutMs))) return syncFailed();
    op.startWorking();
    await op.queue.settled();
    await op.stop();
    const outcomes = [...op.reconciler.outcomes.values()];
    process.stdout.write(formatSummary(outcomes, config.dryRun));
    return inSync(outcomes, config.dryRun) ? 0 : 1;
  }

  // Every replica serves the webhook, leader or not: it reads the caches, it writes nothing.
  let webhook: Webhook | undefined;
  let server: HttpServer | undefined;
  if (config.httpAddress) {
    server = await startHttpServer(
      config.httpAddress,
      {
        health: () => {
          const since = op.brokenSince;
          return since !== undefined && clock.now() - since > config.unhealthyAfterMs ? `a watch has been failing for ${Math.round((clock.now() - since) / 1000)}s` : null;
        },
        ready: () => (!op.synced ? 'caches not synced' : webhook && !webhook.serving ? 'webhook not serving yet' : null),
      },
      metrics.registry,
    );
    logger.info('http server listening', { address: config.httpAddress, port: server.port });
  }
  if (config.webhook.enabled) {
    // Loaded only when switched on: its certificate library (node-forge) costs some 5 MiB of RSS at
    // load, which an operator without the webhook should not pay (scale benchmark, README).
    const { startWebhook } = await import('./webhook/run.js');
    webhook = await startWebhook({ settings: config.webhook, kube: webhookKube, caches: op.caches, policy: config.policy, logger, clock, dryRun: config.dryRun, synced: () => op.synced, metrics });
    void op.waitForSync().then(() => webhook?.synced());
  }
  const closeServers = async (): Promise<void> => {
    await webhook?.close();
    await server?.close();
  };

  const signalled = new Promise<void>((resolve) => {
    let seen = false;
    // The first signal starts the shutdown; repeats (npm and tsx pass Ctrl-C on too) are ignored:
    // the shutdown is bounded by SHUTDOWN_TIMEOUT_MS anyway.
    const onSignal = (signal: string): void => {
      if (seen) return;
      seen = true;
      logger.info('shutting down', { signal });
      resolve();
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
  });
  const drain = (): Promise<'drained' | 'timeout'> => {
    void checker?.stop();
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), SHUTDOWN_TIMEOUT_MS).unref());
    return Promise.race([op.stop().then(() => 'drained' as const), timeout]);
  };

  // Only the first sync has a deadline: resolves when it was missed (never otherwise).
  const syncMissed = syncWithin(op, config.syncTimeoutMs).then((ok) => (ok ? new Promise<never>(() => undefined) : ('sync-timeout' as const)));

  if (!config.leaderElection.enabled) {
    metrics.leader.set(1);
    const ready = op.waitForSync().then(() => {
      logger.info('caches synced; reconciling');
      op.startWorking();
      checker?.start();
    });
    // Nothing was written yet, and the informers may hang in a LIST: no graceful drain, just exit.
    if ((await Promise.race([ready, signalled, syncMissed])) === 'sync-timeout') return syncFailed();
    await signalled;
    const result = await drain();
    await closeServers();
    logger.info('stopped', { result });
    return 0;
  }
  return runElected(config, logger, kube, op, metrics, signalled, drain, closeServers, syncMissed, syncFailed, checker);
}

/**
 * With --leader-elect: informers run at once (a synced standby is ready), but only the holder of
 * the Lease reconciles. Losing leadership stops intake and exits 1 at once, without draining (a
 * new leader may already be writing), as controller-runtime does. On SIGTERM the leader drains its
 * in-flight work while it keeps renewing, and only then releases the Lease, so that a standby
 * takes over at once and no namespace is ever written by two replicas.
 */
async function runElected(
  config: Readonly<Config>,
  logger: Logger,
  kube: Kube,
  op: Operator,
  metrics: Metrics,
  signalled: Promise<void>,
  drain: () => Promise<'drained' | 'timeout'>,
  closeServers: () => Promise<void>,
  syncMissed: Promise<'sync-timeout'>,
  syncFailed: () => number,
  checker: CredentialChecker | undefined,
): Promise<number> {
  const le = config.leaderElection;
  const identity = config.identity;
  const lease = `${le.namespace}/${le.name}`;
  let shuttingDown = false;
  let onLost: (e: StoppedLeading) => void = () => undefined;
  const lost = new Promise<StoppedLeading>((resolve) => (onLost = resolve));
  metrics.leader.set(0);
  const elector: LeaderElector = new LeaderElector({
    kube,
    clock: systemElectorClock,
    config: { namespace: le.namespace, name: le.name, identity, leaseDurationMs: le.leaseDurationMs, renewDeadlineMs: le.renewDeadlineMs, retryPeriodMs: le.retryPeriodMs },
    callbacks: {
      onStartedLeading: () => {
        metrics.leader.set(1);
        logger.info('became leader', { identity, lease });
        void op.waitForSync().then(() => {
          if (shuttingDown || !elector.isLeader) return;
          logger.info('caches synced; reconciling');
          op.startWorking();
          checker?.start();
        });
      },
      onStoppedLeading: (e) => {
        metrics.leader.set(0);
        if (e.reason === 'stopped') {
          const fields = { identity, lease, ...(e.error === undefined ? {} : { error: errorMessage(e.error) }) };
          if (e.released) logger.info('leadership released', fields);
          else logger.warn('stopped leading without releasing the lease', fields);
          return;
        }
        // Stop writing now: drop every waiting key; main exits before in-flight ones go further.
        op.queue.shutDown();
        logger.error('lost leadership', { identity, lease, reason: e.reason, ...(e.error === undefined ? {} : { error: errorMessage(e.error) }) });
        onLost(e);
      },
      onNewLeader: (leader) => logger.info('new leader observed', { leader, identity, self: leader === identity, lease }),
    },
  });
  logger.info('leader election', { identity, lease, leaseDurationMs: le.leaseDurationMs, renewDeadlineMs: le.renewDeadlineMs, retryPeriodMs: le.retryPeriodMs });
  const electing = elector.run();
  void op.waitForSync().then(() => {
    if (!elector.isLeader) logger.info('caches synced; standing by', { identity, lease });
  });

  const first = await Promise.race([signalled.then(() => 'signal' as const), lost.then(() => 'lost' as const), syncMissed]);
  if (first === 'lost') return 1;
  if (first === 'sync-timeout') {
    // Nothing was written: hand the Lease over at once rather than hold it idle.
    shuttingDown = true;
    op.queue.shutDown();
    await Promise.race([elector.stop({ release: true }).then(() => electing), new Promise<void>((r) => setTimeout(r, SHUTDOWN_TIMEOUT_MS).unref())]);
    await closeServers();
    return syncFailed();
  }
  shuttingDown = true;
  // Drain while the elector keeps renewing; a lost leadership meanwhile ends the process at once.
  const result = await Promise.race([drain(), lost.then(() => 'lost' as const)]);
  if (result === 'lost') return 1;
  // Release only when nothing is in flight any more; after a timed-out drain the Lease expires instead.
  const release = elector.stop({ release: result === 'drained' }).then(() => electing);
  await Promise.race([release, new Promise<void>((r) => setTimeout(r, SHUTDOWN_TIMEOUT_MS).unref())]);
  await closeServers();
  logger.info('stopped', { result });
  return 0;
}
