#!/usr/bin/env node
/**
 * Wiring only: config -> logger -> kube client -> operator (informers, queue, reconciler) ->
 * http server. SIGTERM/SIGINT stop intake, drain the work in flight and exit 0.
 */
import os from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import { cleanup } from './cleanup.js';
import { type Config, USAGE, loadConfig } from './config.js';
import { Operator } from './controller/operator.js';
import { startHttpServer, type HttpServer } from './http/server.js';
import { createKube } from './kube/client.js';
import { createLogger, errorMessage, type Logger } from './log.js';
import { Metrics } from './metrics.js';
import { formatSummary, inSync } from './summary.js';
import { readVersion } from './version.js';

const SHUTDOWN_TIMEOUT_MS = 8000;

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  // --help and --version answer even when the environment holds an invalid value.
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (argv.includes('--version')) {
    process.stdout.write(`pullsecret-operator ${readVersion()}\n`);
    return 0;
  }
  let config: Readonly<Config>;
  try {
    config = loadConfig(argv, process.env, os.hostname());
  } catch (err) {
    console.error(`pullsecret-operator: ${errorMessage(err)}\n\n${USAGE}`);
    return 2;
  }
  if (config.command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (config.command === 'version') {
    process.stdout.write(`pullsecret-operator ${readVersion()}\n`);
    return 0;
  }
  const logger = createLogger(config.logLevel);
  const kc = new KubeConfig();
  if (config.kubeconfig) kc.loadFromFile(config.kubeconfig);
  else kc.loadFromCluster();
  const kube = await createKube(kc);
  try {
    if (config.command === 'cleanup') {
      const r = await cleanup(kube, logger, config.dryRun);
      process.stdout.write(`cleanup: ${r.serviceAccounts} ServiceAccounts cleaned, ${r.secrets} copies deleted${config.dryRun ? ' (dry run)' : ''}\n`);
      return 0;
    }
    return await run(config, logger, kube);
  } finally {
    kube.close();
  }
}

async function run(config: Readonly<Config>, logger: Logger, kube: Awaited<ReturnType<typeof createKube>>): Promise<number> {
  const clock = { now: () => Date.now() };
  const ref: { op?: Operator } = {};
  const metrics = new Metrics({
    defaultMetrics: true,
    depth: () => ref.op?.queue.length ?? 0,
    copies: () => ref.op?.caches.copies.size ?? 0,
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
  }));
  logger.info('starting', { version: readVersion(), sourceNamespace: config.policy.sourceNamespace, dryRun: config.dryRun, once: config.once });
  op.startInformers();

  if (config.once) {
    await op.waitForSync();
    op.startWorking();
    await op.queue.idle();
    await op.stop();
    const outcomes = [...op.reconciler.outcomes.values()];
    process.stdout.write(formatSummary(outcomes, config.dryRun));
    return inSync(outcomes, config.dryRun) ? 0 : 1;
  }

  let server: HttpServer | undefined;
  if (config.httpAddress) {
    server = await startHttpServer(
      config.httpAddress,
      {
        health: () => {
          const since = op.brokenSince;
          return since !== undefined && clock.now() - since > config.unhealthyAfterMs ? `a watch has been failing for ${Math.round((clock.now() - since) / 1000)}s` : null;
        },
        ready: () => (op.synced ? null : 'caches not synced'),
      },
      metrics.registry,
    );
    logger.info('http server listening', { address: config.httpAddress, port: server.port });
  }

  const stopped = new Promise<void>((resolve) => {
    const onSignal = (signal: string): void => {
      logger.info('shutting down', { signal });
      resolve();
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
  });
  const ready = op.waitForSync().then(() => {
    logger.info('caches synced; reconciling');
    op.startWorking();
  });
  await Promise.race([ready, stopped]);
  await stopped;
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), SHUTDOWN_TIMEOUT_MS).unref());
  const result = await Promise.race([op.stop().then(() => 'drained' as const), timeout]);
  await server?.close();
  logger.info('stopped', { result });
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
    // Open handles (keep-alive sockets, timers) must not keep a finished process alive.
    setTimeout(() => process.exit(code), 100).unref();
  },
  (err: unknown) => {
    console.error(`pullsecret-operator: ${errorMessage(err)}`);
    process.exit(1);
  },
);
