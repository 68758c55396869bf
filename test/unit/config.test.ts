import assert from 'node:assert/strict';
import { test } from 'node:test';

import { type Config, DURATION_RANGES, FLAGS, infoRequest, loadConfig, parseDuration, parseSize } from '../../src/config.js';
import { parseSelector } from '../../src/domain/selector.js';
import { DEFAULT_REGISTRY_HOSTS } from '../../src/domain/sources.js';

// ---------------------------------------------------------------------------
// parseDuration
// ---------------------------------------------------------------------------

const durationCases: { name: string; text: string; want: number }[] = [
  { name: 'milliseconds', text: '500ms', want: 500 },
  { name: 'seconds', text: '30s', want: 30_000 },
  { name: 'minutes', text: '10m', want: 600_000 },
  { name: 'hours', text: '1h', want: 3_600_000 },
  { name: 'hours and minutes', text: '1h30m', want: 5_400_000 },
  { name: 'minutes and seconds', text: '1m30s', want: 90_000 },
  { name: 'every unit', text: '1h1m1s1ms', want: 3_661_001 },
  { name: 'fraction', text: '1.5h', want: 5_400_000 },
  { name: 'bare number is seconds', text: '45', want: 45_000 },
  { name: 'zero', text: '0s', want: 0 },
  { name: 'surrounding space', text: ' 2m ', want: 120_000 },
];

for (const c of durationCases) {
  test(`parseDuration: ${c.name}`, () => {
    assert.equal(parseDuration(c.text), c.want);
  });
}

const badDurations: { name: string; text: string }[] = [
  { name: 'empty', text: '' },
  { name: 'unit only', text: 'm' },
  { name: 'unknown unit', text: '1d' },
  { name: 'trailing garbage', text: '10mx' },
  { name: 'trailing number', text: '5m5' },
  { name: 'negative', text: '-1s' },
  { name: 'space inside', text: '1h 30m' },
  { name: 'word', text: 'soon' },
];

for (const c of badDurations) {
  test(`parseDuration throws: ${c.name}`, () => {
    assert.throws(() => parseDuration(c.text), { message: `invalid duration "${c.text}" (use e.g. 500ms, 30s, 10m, 1h)` });
  });
}

// ---------------------------------------------------------------------------
// loadConfig
// ---------------------------------------------------------------------------

const HOST = 'node-1';

test('every duration flag has a range that ends below the longest timer Node can set (2^31-1 ms)', () => {
  const durations = FLAGS.filter((f) => !f.boolean && f.def !== '' && /^\d+(ms|s|m|h)/.test(f.def)).map((f) => f.name);
  assert.ok(durations.length >= 9, durations.join(','));
  for (const name of durations) {
    const range = DURATION_RANGES[name];
    assert.ok(range, `--${name} has a range`);
    assert.ok(range[0] <= parseDuration(FLAGS.find((f) => f.name === name)?.def ?? '') && parseDuration(FLAGS.find((f) => f.name === name)?.def ?? '') <= range[1], `--${name}'s default is in its range`);
    // The certificate's lifetime is never a timer: the certificate loop runs every min(60s, validity/10).
    if (name !== 'webhook-cert-validity') assert.ok(range[1] < 2 ** 31 - 1, `--${name}'s maximum is a valid timer`);
  }
});

test('--orphan-grace 0 is accepted: copies go as soon as their source does', () => {
  assert.equal(loadConfig(['--orphan-grace', '0'], {}, HOST).policy.orphanGraceMs, 0);
  assert.equal(loadConfig(['--orphan-grace', '0s'], {}, HOST).policy.orphanGraceMs, 0);
});

test('parseSize: bytes, Ki and Mi; the default --max-source-size is 16 KiB', () => {
  assert.equal(parseSize('16384'), 16384);
  assert.equal(parseSize('16Ki'), 16384);
  assert.equal(parseSize('1Mi'), 1 << 20);
  assert.throws(() => parseSize('1.5Ki'), /invalid size/);
  assert.equal(loadConfig([], {}, HOST).policy.maxSourceBytes, 16384);
  assert.equal(loadConfig([], { PSO_MAX_SOURCE_SIZE: '64Ki' }, HOST).policy.maxSourceBytes, 65536);
});

test('loadConfig: defaults', () => {
  const c = loadConfig([], {}, HOST, 'abc123');
  const want: Config = {
    command: 'run',
    policy: {
      sourceNamespace: 'default',
      registryHosts: [...DEFAULT_REGISTRY_HOSTS],
      excludeNamespaces: [],
      namespaceSelector: [],
      serviceAccounts: 'all',
      orphanGraceMs: 600_000,
      maxSourceBytes: 16 * 1024,
    },
    kubeconfig: undefined,
    resyncPeriodMs: 600_000,
    workers: 32,
    dryRun: false,
    once: false,
    logLevel: 'info',
    httpAddress: ':8080',
    unhealthyAfterMs: 120_000,
    identity: `${HOST}-${process.pid}-abc123`,
    leaderElection: {
      enabled: false,
      namespace: 'pullsecret-operator',
      name: 'pullsecret-operator',
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
    },
    client: { qps: 2000, burst: 4000, requestTimeoutMs: 15_000, listTimeoutMs: 60_000, leaseTimeoutMs: 5_000 },
    syncTimeoutMs: 120_000,
    webhook: {
      enabled: false,
      address: ':9443',
      url: undefined,
      certValidityMs: 2160 * 3_600_000,
      namespace: 'pullsecret-operator',
      hosts: ['pullsecret-operator-webhook.pullsecret-operator.svc', 'pullsecret-operator-webhook.pullsecret-operator.svc.cluster.local'],
    },
    output: 'table',
    credentials: { enabled: true, intervalMs: 3_600_000, namespace: 'pullsecret-operator' },
  };
  assert.deepEqual(c, want);
  assert.ok(Object.isFrozen(c));
  assert.ok(Object.isFrozen(c.policy));
});

const valueCases: { name: string; argv: string[]; env: Record<string, string>; pick: (c: Readonly<Config>) => unknown; want: unknown }[] = [
  { name: 'env sets value', argv: [], env: { PSO_WORKERS: '8' }, pick: (c) => c.workers, want: 8 },
  { name: 'qps zero turns the bucket off', argv: ['--qps', '0', '--burst', '10'], env: {}, pick: (c) => [c.client.qps, c.client.burst], want: [0, 10] },
  { name: 'request timeout sets list and lease', argv: ['--request-timeout', '2s', '--renew-deadline', '10s'], env: {}, pick: (c) => [c.client.requestTimeoutMs, c.client.listTimeoutMs, c.client.leaseTimeoutMs], want: [2000, 8000, 2000] },
  { name: 'lease timeout is half the renew deadline', argv: ['--lease-duration', '4s', '--renew-deadline', '3s', '--retry-period', '1s'], env: {}, pick: (c) => c.client.leaseTimeoutMs, want: 1500 },
  { name: 'sync timeout env', argv: [], env: { PSO_SYNC_TIMEOUT: '90s' }, pick: (c) => c.syncTimeoutMs, want: 90_000 },
  { name: 'flag sets value', argv: ['--workers', '2'], env: {}, pick: (c) => c.workers, want: 2 },
  { name: 'flag wins over env', argv: ['--workers=2'], env: { PSO_WORKERS: '8' }, pick: (c) => c.workers, want: 2 },
  { name: 'source namespace flag wins over env', argv: ['--source-namespace', 'from-flag'], env: { PSO_SOURCE_NAMESPACE: 'from-env' }, pick: (c) => c.policy.sourceNamespace, want: 'from-flag' },
  { name: 'source namespace env', argv: [], env: { PSO_SOURCE_NAMESPACE: 'ibm-secrets' }, pick: (c) => c.policy.sourceNamespace, want: 'ibm-secrets' },
  { name: 'boolean flag wins over env', argv: ['--dry-run'], env: { PSO_DRY_RUN: 'false' }, pick: (c) => c.dryRun, want: true },
  { name: 'boolean env true', argv: [], env: { PSO_DRY_RUN: 'true', PSO_ONCE: '1' }, pick: (c) => [c.dryRun, c.once], want: [true, true] },
  { name: 'boolean env false', argv: [], env: { PSO_DRY_RUN: 'no', PSO_ONCE: '0' }, pick: (c) => [c.dryRun, c.once], want: [false, false] },
  { name: 'registry hosts list', argv: ['--registry-hosts', ' quay.io , *.corp.example ,'], env: {}, pick: (c) => c.policy.registryHosts, want: ['quay.io', '*.corp.example'] },
  { name: 'webhook on by address', argv: ['--webhook-address', ':9443'], env: { POD_NAMESPACE: 'ops' }, pick: (c) => [c.webhook.enabled, c.webhook.address, c.webhook.url, c.webhook.hosts], want: [true, ':9443', undefined, ['pullsecret-operator-webhook.ops.svc', 'pullsecret-operator-webhook.ops.svc.cluster.local']] },
  { name: 'webhook URL serves on its port', argv: ['--webhook-url', 'https://127.0.0.1:8443/'], env: {}, pick: (c) => [c.webhook.enabled, c.webhook.address, c.webhook.url, c.webhook.hosts], want: [true, ':8443', 'https://127.0.0.1:8443', ['127.0.0.1']] },
  { name: 'webhook URL and address', argv: ['--webhook-url', 'https://host.example:9443', '--webhook-address', '127.0.0.1:9000'], env: {}, pick: (c) => [c.webhook.address, c.webhook.hosts], want: ['127.0.0.1:9000', ['host.example']] },
  { name: 'status output short flag', argv: ['status', '-o', 'json'], env: {}, pick: (c) => [c.command, c.output], want: ['status', 'json'] },
  { name: 'exclude namespaces env', argv: [], env: { PSO_EXCLUDE_NAMESPACES: 'sandbox-*,ci' }, pick: (c) => c.policy.excludeNamespaces, want: ['sandbox-*', 'ci'] },
  { name: 'namespace selector', argv: ['--namespace-selector', 'env=prod,!legacy'], env: {}, pick: (c) => c.policy.namespaceSelector, want: parseSelector('env=prod,!legacy') },
  { name: 'ServiceAccounts list', argv: ['--service-accounts', 'default, deployer'], env: {}, pick: (c) => c.policy.serviceAccounts, want: ['default', 'deployer'] },
  { name: 'ServiceAccounts star is all', argv: [], env: { PSO_SERVICE_ACCOUNTS: '*' }, pick: (c) => c.policy.serviceAccounts, want: 'all' },
  { name: 'durations', argv: ['--orphan-grace', '0', '--resync-period', '1h', '--unhealthy-after=30s'], env: {}, pick: (c) => [c.policy.orphanGraceMs, c.resyncPeriodMs, c.unhealthyAfterMs], want: [0, 3_600_000, 30_000] },
  { name: 'orphan grace env', argv: [], env: { PSO_ORPHAN_GRACE: '90s' }, pick: (c) => c.policy.orphanGraceMs, want: 90_000 },
  { name: 'log level', argv: ['--log-level', 'debug'], env: { PSO_LOG_LEVEL: 'warn' }, pick: (c) => c.logLevel, want: 'debug' },
  { name: 'HTTP address empty disables', argv: ['--http-address', ''], env: {}, pick: (c) => c.httpAddress, want: '' },
  { name: 'kubeconfig env', argv: [], env: { KUBECONFIG: '/tmp/kc' }, pick: (c) => c.kubeconfig, want: '/tmp/kc' },
  { name: 'kubeconfig flag wins', argv: ['--kubeconfig', '/flag/kc'], env: { KUBECONFIG: '/tmp/kc' }, pick: (c) => c.kubeconfig, want: '/flag/kc' },
  { name: 'pod name is identity', argv: [], env: { POD_NAME: 'pso-abc' }, pick: (c) => c.identity, want: 'pso-abc' },
  { name: 'cleanup command', argv: ['cleanup'], env: {}, pick: (c) => c.command, want: 'cleanup' },
  { name: 'run command', argv: ['run', '--once'], env: {}, pick: (c) => [c.command, c.once], want: ['run', true] },
  { name: 'verify credentials off', argv: ['--verify-credentials=false'], env: {}, pick: (c) => c.credentials.enabled, want: false },
  { name: 'verify credentials env off flag on', argv: ['--verify-credentials'], env: { PSO_VERIFY_CREDENTIALS: 'false' }, pick: (c) => c.credentials.enabled, want: true },
  { name: 'verify interval env', argv: [], env: { PSO_VERIFY_INTERVAL: '15m' }, pick: (c) => c.credentials.intervalMs, want: 900_000 },
  { name: 'operator namespace from pod', argv: [], env: { POD_NAMESPACE: 'ops' }, pick: (c) => c.credentials.namespace, want: 'ops' },
  { name: 'operator namespace flag wins', argv: ['--operator-namespace', 'pso'], env: { POD_NAMESPACE: 'ops' }, pick: (c) => c.credentials.namespace, want: 'pso' },
];

for (const c of valueCases) {
  test(`loadConfig: ${c.name}`, () => {
    assert.deepEqual(c.pick(loadConfig(c.argv, c.env, HOST)), c.want);
  });
}

const invalidCases: { name: string; argv: string[]; env: Record<string, string>; message: RegExp }[] = [
  { name: 'workers zero', argv: ['--workers', '0'], env: {}, message: /^--workers: "0"/ },
  { name: 'qps negative', argv: ['--qps=-1'], env: {}, message: /^--qps: "-1" is not a number >= 0/ },
  { name: 'burst zero', argv: [], env: { PSO_BURST: '0' }, message: /^--burst: "0" is not a number >= 1/ },
  { name: 'request timeout too short', argv: ['--request-timeout', '10ms'], env: {}, message: /^--request-timeout: 10ms is out of range \(100ms to 10m\)/ },
  { name: 'workers too many', argv: [], env: { PSO_WORKERS: '65' }, message: /^--workers: "65"/ },
  { name: 'workers not a number', argv: ['--workers', 'four'], env: {}, message: /^--workers: "four"/ },
  { name: 'workers fraction', argv: ['--workers', '1.5'], env: {}, message: /^--workers: "1.5"/ },
  { name: 'log level', argv: [], env: { PSO_LOG_LEVEL: 'trace' }, message: /^--log-level: "trace"/ },
  { name: 'source namespace', argv: ['--source-namespace', 'Not_A_Namespace'], env: {}, message: /^--source-namespace: "Not_A_Namespace"/ },
  { name: 'registry hosts empty', argv: ['--registry-hosts', ' , '], env: {}, message: /^--registry-hosts: / },
  { name: 'namespace selector', argv: ['--namespace-selector', 'team in (a'], env: {}, message: /^--namespace-selector: invalid label selector requirement/ },
  { name: 'namespace selector from env', argv: [], env: { PSO_NAMESPACE_SELECTOR: 'a b' }, message: /^--namespace-selector: / },
  { name: 'orphan grace', argv: ['--orphan-grace', '10 minutes'], env: {}, message: /^--orphan-grace: invalid duration "10 minutes"/ },
  { name: 'resync period unparsable', argv: [], env: { PSO_RESYNC_PERIOD: 'daily' }, message: /^--resync-period: invalid duration "daily"/ },
  { name: 'resync period too short', argv: ['--resync-period', '500ms'], env: {}, message: /^--resync-period: 500ms is out of range \(1s to 24h\)/ },
  { name: 'unhealthy after too short', argv: [], env: { PSO_UNHEALTHY_AFTER: '10ms' }, message: /^--unhealthy-after: 10ms is out of range \(1s to 24h\)/ },
  // Node fires a timer of more than 2^31-1 ms after 1 ms: a long duration must be refused, not turned into a tight loop.
  { name: 'resync period too long', argv: ['--resync-period', '1000h'], env: {}, message: /^--resync-period: 1000h is out of range \(1s to 24h\)/ },
  { name: 'sync timeout too long', argv: ['--sync-timeout', '600h'], env: {}, message: /^--sync-timeout: 600h is out of range \(1s to 24h\)/ },
  { name: 'orphan grace too long', argv: ['--orphan-grace', '8000h'], env: {}, message: /^--orphan-grace: 8000h is out of range \(0s to 168h\)/ },
  { name: 'cert validity too long', argv: ['--webhook-cert-validity', '10000h'], env: {}, message: /^--webhook-cert-validity: 10000h is out of range \(5s to 8760h\)/ },
  { name: 'request timeout too long', argv: ['--request-timeout', '1h'], env: {}, message: /^--request-timeout: 1h is out of range \(100ms to 10m\)/ },
  { name: 'unhealthy after too long', argv: ['--unhealthy-after', '25h'], env: {}, message: /^--unhealthy-after: 25h is out of range \(1s to 24h\)/ },
  { name: 'lease duration too long', argv: ['--lease-duration', '2h'], env: {}, message: /^--lease-duration: 2h is out of range \(1s to 1h\)/ },
  { name: 'max source size too large', argv: ['--max-source-size', '2Mi'], env: {}, message: /^--max-source-size: 2Mi is out of range \(1Ki to 1Mi\)/ },
  { name: 'max source size not a size', argv: ['--max-source-size', '16KB'], env: {}, message: /^--max-source-size: invalid size "16KB"/ },
  { name: 'dry run env not boolean', argv: [], env: { PSO_DRY_RUN: 'maybe' }, message: /^--dry-run: "maybe" is not a boolean/ },
  { name: 'once env not boolean', argv: [], env: { PSO_ONCE: 'perhaps' }, message: /^--once: "perhaps" is not a boolean/ },
  { name: 'unknown flag', argv: ['--bogus'], env: {}, message: /--bogus/ },
  { name: 'flag without value', argv: ['--workers'], env: {}, message: /--workers/ },
  { name: 'webhook URL not HTTPS', argv: ['--webhook-url', 'http://127.0.0.1:9443'], env: {}, message: /^--webhook-url: "http:\/\/127.0.0.1:9443" is not https:\/\/HOST:PORT/ },
  { name: 'webhook URL with path', argv: ['--webhook-url', 'https://127.0.0.1:9443/mutate'], env: {}, message: /is not https:\/\/HOST:PORT/ },
  { name: 'output unknown', argv: ['status', '-o', 'yaml'], env: {}, message: /^--output: "yaml" is not table or json/ },
  { name: 'unknown command', argv: ['start'], env: {}, message: /unknown command "start"/ },
  { name: 'extra arguments', argv: ['run', 'now'], env: {}, message: /unexpected arguments: now/ },
  { name: 'verify interval too short', argv: ['--verify-interval', '5s'], env: {}, message: /^--verify-interval: 5s is out of range \(10s to 24h\)/ },
  { name: 'verify interval too long', argv: [], env: { PSO_VERIFY_INTERVAL: '25h' }, message: /^--verify-interval: 25h is out of range \(10s to 24h\)/ },
  { name: 'verify credentials not boolean', argv: ['--verify-credentials=sometimes'], env: {}, message: /^--verify-credentials: "sometimes" is not a boolean/ },
];

for (const c of invalidCases) {
  test(`loadConfig throws: ${c.name}`, () => {
    assert.throws(() => loadConfig(c.argv, c.env, HOST), { message: c.message });
  });
}

const boolCases: { name: string; argv: string[]; env: Record<string, string>; dryRun: boolean; leaderElect: boolean }[] = [
  { name: 'bare boolean flag is true', argv: ['--dry-run'], env: {}, dryRun: true, leaderElect: false },
  { name: 'boolean flag takes explicit true', argv: ['--leader-elect=true'], env: {}, dryRun: false, leaderElect: true },
  { name: 'explicit false flag wins over environment', argv: ['--dry-run=false'], env: { PSO_DRY_RUN: 'true' }, dryRun: false, leaderElect: false },
];
for (const c of boolCases) {
  test(`loadConfig: ${c.name}`, () => {
    const cfg = loadConfig(c.argv, c.env, HOST, 'abc123');
    assert.equal(cfg.dryRun, c.dryRun);
    assert.equal(cfg.leaderElection.enabled, c.leaderElect);
  });
}

test('loadConfig: boolean flag rejects a non boolean', () => {
  assert.throws(() => loadConfig(['--once=maybe'], {}, HOST, 'abc123'), /--once/);
});

const infoCases: { name: string; argv: string[]; want: 'help' | 'version' | undefined }[] = [
  { name: 'help', argv: ['--help'], want: 'help' },
  { name: 'short help', argv: ['status', '-h'], want: 'help' },
  { name: 'version', argv: ['cleanup', '--version'], want: 'version' },
  { name: 'neither', argv: ['run', '--once'], want: undefined },
];

for (const c of infoCases) {
  test(`infoRequest: ${c.name}`, () => {
    assert.equal(infoRequest(c.argv), c.want);
  });
}
