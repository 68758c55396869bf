/**
 * Running the operator: its runnables (src/manager.ts) wired from the config. On every replica:
 * the caches (informers), the HTTP server (/healthz, /readyz, /metrics) and, when switched on, the
 * admission webhook; on the leader only (every replica without --leader-elect): the reconciler.
 * SIGTERM/SIGINT drain the work in flight, release the Lease (when leader) and resolve 0; a lost
 * Lease, a missed first sync or a failed runnable resolve 1.
 * --once is not a long run: it syncs, reconciles everything once, prints a summary and resolves.
 */
import { type Clock, deadline, systemClock } from './clock.js';
import type { Config } from './config.js';
import { Operator } from './controller/operator.js';
import { EventRecorder } from './controller/recorder.js';
import { startHttpServer, type HttpServer } from './http/server.js';
import type { Kube } from './kube/client.js';
import { type LeaderCallbacks, LeaderElector } from './kube/leader.js';
import { errorMessage, type Logger } from './log.js';
import { Manager, type Runnable } from './manager.js';
import { Metrics } from './metrics.js';
import { formatSummary, inSync } from './summary.js';
import { sourceStatuses } from './domain/status.js';
import { instrumentKube } from './kube/instrumented.js';
import { namespaceStatesFromCaches } from './status.js';
import type { WebhookRunnable } from './webhook/run.js';
import { readVersion } from './version.js';
import { credentialCheck } from './registry/run.js';
import type { CredentialChecker } from './registry/checker.js';

const SHUTDOWN_TIMEOUT_MS = 8000;
const ONCE_MAX_ATTEMPTS = 8;

/** The clients of a run: the reconciler's, and the webhook's own (src/main.ts makes a second one). */
export interface Clients {
  kube: Kube;
  /** Never queued behind the reconciler's requests; the operator's client when not given. */
  webhookKube?: Kube;
}

/** What the metrics read of the run; filled in as its parts are made. */
interface RunRefs {
  op?: Operator;
  webhook?: WebhookRunnable;
  checker?: CredentialChecker;
}

/** Runs the operator until it is signalled; resolves its exit code. */
export async function runOperator(config: Readonly<Config>, logger: Logger, clients: Clients, clock: Clock = systemClock): Promise<number> {
  const ref: RunRefs = {};
  const metrics = newMetrics(config, ref, clock);
  // Every request to the API server counted by verb, resource and code (pullsecret_operator_api_requests_total).
  const kube = instrumentKube(clients.kube, metrics);
  const webhookKube = clients.webhookKube === undefined || clients.webhookKube === clients.kube ? kube : instrumentKube(clients.webhookKube, metrics);
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
    recordSummaries: config.once,
    // --once retries a transient error (409, 429, 5xx, a timeout) before it reports: 8 attempts,
    // about 13 s of backoff plus whatever Retry-After asks.
    ...(config.once ? { maxRetries: ONCE_MAX_ATTEMPTS } : {}),
  }));
  logStart(config, logger);
  const syncFailed = (): void =>
    void logger.error('caches did not sync in time; exiting', { syncTimeoutMs: config.syncTimeoutMs, informers: op.informerStats().filter((i) => !i.synced).map((i) => i.name) });

  if (config.once) return runOnce(config, op, syncFailed, clock);

  const manager = newManager(config, { kube, logger, clock, op, metrics, syncFailed });
  manager.add(cachesRunnable(op, config));
  if (config.httpAddress) manager.add(httpRunnable(config.httpAddress, manager, metrics, logger));
  if (config.webhook.enabled) {
    const webhook = (ref.webhook = await newWebhook(config, { kube: webhookKube, logger, clock, op, metrics }));
    manager.add(webhook);
    void op.waitForSync().then(() => webhook.synced());
  }
  manager.add(reconcilerRunnable(op, logger), { leaderOnly: true });
  // The credential check (src/registry/): on the leader only, once the caches have synced.
  if (config.credentials.enabled) {
    const checker = (ref.checker = credentialCheck({ settings: config.credentials, kube, sources: op.caches.sources, policy: config.policy, logger, clock, identity: config.identity, dryRun: config.dryRun, metrics }));
    manager.add(credentialCheckRunnable(op, checker), { leaderOnly: true });
  }
  return manager.run(signalled(logger));
}

function newMetrics(config: Readonly<Config>, ref: RunRefs, clock: Clock): Metrics {
  return new Metrics({
    defaultMetrics: true,
    clock,
    depth: () => ref.op?.queue.length ?? 0,
    copies: () => ref.op?.caches.copies.size ?? 0,
    namespaceStatuses: () => (ref.op?.synced ? namespaceStatesFromCaches(ref.op.caches, config.policy, clock.now(), (ns) => ref.op?.reconciler.foreignNames(ns) ?? new Set()) : undefined),
    sourceStatuses: () => (ref.op?.synced ? sourceStatuses(ref.op.caches.sources.list(config.policy.sourceNamespace), config.policy) : undefined),
    informers: () => ref.op?.informerStats().map((i) => ({ name: i.name, broken: i.brokenSince !== undefined })) ?? [],
    ...(config.webhook.enabled && !config.once ? { webhookServing: () => ref.webhook?.serving ?? false } : {}),
    credentials: () => ref.checker?.results(),
  });
}

function logStart(config: Readonly<Config>, logger: Logger): void {
  logger.info('starting', {
    version: readVersion(),
    sourceNamespace: config.policy.sourceNamespace,
    dryRun: config.dryRun,
    once: config.once,
    leaderElect: config.leaderElection.enabled && !config.once,
    identity: config.identity,
    orphanGraceMs: config.policy.orphanGraceMs,
    maxSourceBytes: config.policy.maxSourceBytes,
  });
  if (config.policy.orphanGraceMs === 0) logger.warn('orphan grace is 0: copies are deleted as soon as their source goes away', {});
}

/** The parts of a run that its runnables are made of. */
interface RunParts {
  kube: Kube;
  logger: Logger;
  clock: Clock;
  op: Operator;
  metrics: Metrics;
}

/** The manager, with leader election when it is switched on. */
function newManager(config: Readonly<Config>, p: RunParts & { syncFailed(): void }): Manager {
  const { kube, logger, clock, op, metrics } = p;
  const le = config.leaderElection;
  const lease = `${le.namespace}/${le.name}`;
  const election = (callbacks: LeaderCallbacks): LeaderElector => {
    logger.info('leader election', { identity: config.identity, lease, leaseDurationMs: le.leaseDurationMs, renewDeadlineMs: le.renewDeadlineMs, retryPeriodMs: le.retryPeriodMs });
    const electorConfig = { namespace: le.namespace, name: le.name, identity: config.identity, leaseDurationMs: le.leaseDurationMs, renewDeadlineMs: le.renewDeadlineMs, retryPeriodMs: le.retryPeriodMs };
    return new LeaderElector({ kube, clock, config: electorConfig, callbacks });
  };
  return new Manager({
    logger,
    clock,
    shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS,
    firstSync: { wait: () => op.waitForSync(), timeoutMs: config.syncTimeoutMs, onMissed: p.syncFailed },
    onLeading: (leading) => metrics.leader.set(leading ? 1 : 0),
    electionFields: { identity: config.identity, lease },
    ...(le.enabled ? { election } : {}),
  });
}

/**
 * The webhook, on every replica, leader or not: it reads the caches, it writes nothing. Loaded
 * only when switched on: its certificate library (node-forge) costs some 5 MiB of RSS at load,
 * which an operator without the webhook should not pay (scale benchmark, docs/sizing.md).
 */
async function newWebhook(config: Readonly<Config>, p: RunParts): Promise<WebhookRunnable> {
  const { kube, logger, clock, op, metrics } = p;
  const { WebhookRunnable } = await import('./webhook/run.js');
  const recorder = new EventRecorder({
    kube,
    clock,
    instance: config.identity,
    enabled: !config.dryRun,
    onError: (err) => logger.warn('could not record event', { error: errorMessage(err) }),
    onRecorded: (reason) => metrics.event(reason),
  });
  return new WebhookRunnable({ settings: config.webhook, kube, caches: op.caches, policy: config.policy, logger, clock, dryRun: config.dryRun, synced: () => op.synced, recorder, metrics });
}

/** --once: sync, reconcile every namespace (retrying transient errors), print the summary. */
async function runOnce(config: Readonly<Config>, op: Operator, syncFailed: () => void, clock: Clock): Promise<number> {
  op.startInformers();
  const synced = await deadline(clock, op.waitForSync(), config.syncTimeoutMs, () => new Error('sync timeout')).then(() => true, () => false);
  if (!synced) {
    syncFailed();
    return 1;
  }
  op.startWorking();
  await op.queue.settled();
  await op.stop();
  const summaries = [...op.reconciler.summaries.values()];
  process.stdout.write(formatSummary(summaries, config.dryRun));
  return inSync(summaries, config.dryRun) ? 0 : 1;
}

/** The informers: on every replica, so that a standby is synced and ready to take over. */
export function cachesRunnable(op: Operator, config: Pick<Config, 'unhealthyAfterMs'>): Runnable {
  return {
    name: 'caches',
    start: () => op.startInformers(),
    stop: () => op.stopInformers(),
    ready: () => (op.synced ? null : 'caches not synced'),
    health: () => {
      const ms = op.brokenForMs;
      return ms !== undefined && ms > config.unhealthyAfterMs ? `a watch has been failing for ${Math.round(ms / 1000)}s` : null;
    },
  };
}

/** /healthz, /readyz (the manager's health and readiness) and /metrics. */
function httpRunnable(address: string, manager: Manager, metrics: Metrics, logger: Logger): Runnable {
  let server: HttpServer | undefined;
  return {
    name: 'http',
    start: async () => {
      server = await startHttpServer(address, { health: () => manager.health(), ready: () => manager.ready() }, metrics.registry);
      logger.info('http server listening', { address, port: server.port });
    },
    stop: () => server?.close(),
  };
}

/** The reconciler: on the leader only; it starts working once the caches have synced. */
function reconcilerRunnable(op: Operator, logger: Logger): Runnable {
  let stopped = false;
  return {
    name: 'reconciler',
    start: () => {
      void op.waitForSync().then(() => {
        if (stopped) return;
        logger.info('caches synced; reconciling');
        op.startWorking();
      });
    },
    stop: () => {
      stopped = true;
      return op.stopWorking();
    },
    abort: () => {
      stopped = true;
      op.queue.shutDown();
    },
  };
}

/** The credential check: on the leader only; its first round once the caches have synced. */
function credentialCheckRunnable(op: Operator, checker: CredentialChecker): Runnable {
  let stopped = false;
  return {
    name: 'credential-check',
    start: () => {
      void op.waitForSync().then(() => {
        if (!stopped) checker.start();
      });
    },
    stop: async () => {
      stopped = true;
      await checker.stop();
    },
    abort: () => {
      stopped = true;
      void checker.stop();
    },
  };
}

/** Resolves on the first SIGTERM or SIGINT; repeats (npm and tsx pass Ctrl-C on too) are ignored. */
function signalled(logger: Logger): Promise<void> {
  return new Promise<void>((resolve) => {
    let seen = false;
    const onSignal = (signal: string): void => {
      if (seen) return;
      seen = true;
      logger.info('shutting down', { signal });
      resolve();
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
  });
}
