#!/usr/bin/env node
/**
 * The pullsecret-operator command. Wiring only: argv and environment -> config -> logger ->
 * kube client -> the command (run, see app.ts; cleanup; or status).
 */
import os from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import { cleanup } from './cleanup.js';
import { type Config, USAGE, infoRequest, loadConfig } from './config.js';
import { runOperator } from './app.js';
import { systemClock } from './clock.js';
import { type Kube, createKube } from './kube/client.js';
import { type Logger, createLogger, errorMessage } from './log.js';
import { formatStatusJson, formatStatusTable, readStatus, statusExitCode } from './status.js';
import { readVersion } from './version.js';

/** Deadline of the webhook's live reads: well inside the 3 s the API server gives the webhook. */
const WEBHOOK_REQUEST_TIMEOUT_MS = 2000;

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const info = infoRequest(argv);
  if (info !== undefined) {
    process.stdout.write(info === 'help' ? USAGE : `pullsecret-operator ${readVersion()}\n`);
    return 0;
  }
  let config: Readonly<Config>;
  try {
    config = loadConfig(argv, process.env, os.hostname());
  } catch (err) {
    console.error(`pullsecret-operator: ${errorMessage(err)}\n\n${USAGE}`);
    return 2;
  }
  const logger = createLogger(config.logLevel);
  const kc = new KubeConfig();
  if (config.kubeconfig) kc.loadFromFile(config.kubeconfig);
  else kc.loadFromCluster();
  const kube = await createKube(kc, {
    // The API server's audit log records it: which replica wrote what.
    userAgent: `pullsecret-operator/${readVersion()} (${config.identity})`,
    qps: config.client.qps,
    burst: config.client.burst,
    requestTimeoutMs: config.client.requestTimeoutMs,
    listTimeoutMs: config.client.listTimeoutMs,
    leaseTimeoutMs: config.client.leaseTimeoutMs,
    clock: systemClock,
  });
  try {
    return await command(config, logger, kc, kube);
  } finally {
    kube.close();
  }
}

/** Runs the command of `config`; resolves its exit code. */
async function command(config: Readonly<Config>, logger: Logger, kc: KubeConfig, kube: Kube): Promise<number> {
  if (config.command === 'cleanup') {
    const r = await cleanup(kube, logger, config.dryRun);
    process.stdout.write(`cleanup: ${r.serviceAccounts} ServiceAccounts cleaned, ${r.secrets} copies deleted${config.dryRun ? ' (dry run)' : ''}\n`);
    return 0;
  }
  if (config.command === 'status') {
    const r = await readStatus(kube, config.policy, systemClock.now(), config.credentials.namespace);
    process.stdout.write(config.output === 'json' ? formatStatusJson(r) : formatStatusTable(r));
    return statusExitCode(r);
  }
  if (!config.webhook.enabled) return runOperator(config, logger, { kube }, systemClock);
  // The webhook's own client: not throttled by the token bucket and not queued behind the
  // reconciler's requests, with deadlines short enough for its 3 s admission timeout.
  const webhookKube = await createKube(kc, {
    userAgent: `pullsecret-operator/${readVersion()} (${config.identity}; webhook)`,
    qps: 0,
    requestTimeoutMs: WEBHOOK_REQUEST_TIMEOUT_MS,
    listTimeoutMs: config.client.listTimeoutMs,
    clock: systemClock,
  });
  try {
    return await runOperator(config, logger, { kube, webhookKube }, systemClock);
  } finally {
    webhookKube.close();
  }
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
