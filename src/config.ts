/**
 * Flags and environment, parsed and validated once into a frozen Config. The only module that
 * reads process.env or process.argv (main.ts passes them in).
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { type Policy } from './domain/desired.js';
import { parseSelector } from './domain/selector.js';
import { DEFAULT_REGISTRY_HOSTS } from './domain/sources.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type Command = 'run' | 'cleanup' | 'status';

export interface Config {
  command: Command;
  policy: Policy;
  /** Path of a kubeconfig file; undefined means in-cluster config, or the default loading rules. */
  kubeconfig: string | undefined;
  resyncPeriodMs: number;
  workers: number;
  dryRun: boolean;
  once: boolean;
  logLevel: LogLevel;
  /** host:port of the HTTP server (/healthz, /readyz, /metrics); empty disables it. */
  httpAddress: string;
  /** How long informers may stay broken before /healthz fails. */
  unhealthyAfterMs: number;
  /** This replica's identity in the Lease: POD_NAME, else hostname-pid-random. */
  identity: string;
  leaderElection: LeaderElectionSettings;
  /** The API client: deadlines and the client-side token bucket. */
  client: ClientSettings;
  /** The first sync of the caches must finish within this, or the process exits 1 (restarted by Kubernetes). */
  syncTimeoutMs: number;
  webhook: WebhookSettings;
  /** `status -o`: table or json. */
  output: 'table' | 'json';
  credentials: CredentialSettings;
}

/** The credential check (src/registry/): on the leader, every source's hosts against their registries. */
export interface CredentialSettings {
  enabled: boolean;
  intervalMs: number;
  /** The operator's namespace, where the leader publishes its results and `status` reads them. */
  namespace: string;
}

export interface ClientSettings {
  qps: number;
  burst: number;
  /** GETs and writes; LIST pages get four times as long, Lease requests half the renew deadline. */
  requestTimeoutMs: number;
  leaseTimeoutMs: number;
  listTimeoutMs: number;
}

/** The ServiceAccount admission webhook (src/webhook/). Off unless --webhook-address or --webhook-url is set. */
export interface WebhookSettings {
  enabled: boolean;
  /** host:port it serves on. */
  address: string;
  /** With --webhook-url: the operator registers the webhook at this URL itself (an out-of-cluster run). */
  url: string | undefined;
  /** Lifetime of the serving certificate (the CA lives 4 times as long). */
  certValidityMs: number;
  /** The operator's namespace ($POD_NAMESPACE, else pullsecret-operator): where the certificate Secret lives. */
  namespace: string;
  /** What the serving certificate names: the URL's host, or the Service's DNS names. */
  hosts: string[];
}

export interface LeaderElectionSettings {
  /** Only the holder of the Lease reconciles; without it this replica always does. */
  enabled: boolean;
  namespace: string;
  name: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

interface FlagSpec {
  name: string;
  env: string;
  def: string;
  help: string;
  boolean?: boolean;
  /** The default as --help shows it, when it is not simply `def`. */
  defHelp?: string;
}

/** Every flag, its environment variable and default. `--help` prints this table. */
export const FLAGS: readonly FlagSpec[] = [
  { name: 'source-namespace', env: 'PSO_SOURCE_NAMESPACE', def: 'default', help: 'namespace whose pull secrets are copied' },
  { name: 'registry-hosts', env: 'PSO_REGISTRY_HOSTS', def: DEFAULT_REGISTRY_HOSTS.join(','), help: 'registry host globs that make a pull secret a source' },
  { name: 'exclude-namespaces', env: 'PSO_EXCLUDE_NAMESPACES', def: '', help: 'namespace globs that get no copies, besides kube-system, kube-public, kube-node-lease' },
  { name: 'namespace-selector', env: 'PSO_NAMESPACE_SELECTOR', def: '', help: 'label selector: only matching namespaces get copies (empty: all)' },
  { name: 'service-accounts', env: 'PSO_SERVICE_ACCOUNTS', def: '*', help: 'ServiceAccounts that get the copies: * for all, or a comma-separated list of names' },
  { name: 'orphan-grace', env: 'PSO_ORPHAN_GRACE', def: '10m', help: 'how long copies outlive a deleted or no longer qualifying source (0: removed at once)' },
  { name: 'max-source-size', env: 'PSO_MAX_SOURCE_SIZE', def: '16Ki', help: 'a source whose data is larger (bytes; Ki and Mi suffixes) is skipped with a Warning Event' },
  { name: 'resync-period', env: 'PSO_RESYNC_PERIOD', def: '10m', help: 'reconcile of every namespace from the caches, as a safety net (API calls only where something differs)' },
  { name: 'workers', env: 'PSO_WORKERS', def: '32', help: 'namespaces reconciled in parallel' },
  { name: 'dry-run', env: 'PSO_DRY_RUN', def: 'false', help: 'log the plan, write nothing', boolean: true },
  { name: 'once', env: 'PSO_ONCE', def: 'false', help: 'reconcile everything once, print a summary, exit (0 when in sync)', boolean: true },
  { name: 'log-level', env: 'PSO_LOG_LEVEL', def: 'info', help: 'error, warn, info or debug' },
  { name: 'http-address', env: 'PSO_HTTP_ADDRESS', def: ':8080', help: 'address of /healthz, /readyz and /metrics (empty: off)' },
  { name: 'unhealthy-after', env: 'PSO_UNHEALTHY_AFTER', def: '2m', help: '/healthz fails when a watch stays broken this long' },
  { name: 'webhook-address', env: 'PSO_WEBHOOK_ADDRESS', def: '', defHelp: 'off; :9443 when --webhook-url is set', help: 'serve the ServiceAccount admission webhook (HTTPS) on this address' },
  { name: 'webhook-url', env: 'PSO_WEBHOOK_URL', def: '', help: 'https://HOST:PORT: serve the webhook and register it at this URL (out-of-cluster runs)' },
  { name: 'webhook-cert-validity', env: 'PSO_WEBHOOK_CERT_VALIDITY', def: '2160h', help: 'lifetime of the webhook serving certificate, renewed at 2/3 of it (the CA lives 4 times as long)' },
  { name: 'output', env: 'PSO_OUTPUT', def: 'table', help: 'status output: table or json (also -o)' },
  { name: 'leader-elect', env: 'PSO_LEADER_ELECT', def: 'false', help: 'only the holder of a Lease reconciles; run several replicas with this on', boolean: true },
  { name: 'lease-namespace', env: 'PSO_LEASE_NAMESPACE', def: 'pullsecret-operator', defHelp: '$POD_NAMESPACE if set, else pullsecret-operator', help: 'namespace of the leader-election Lease' },
  { name: 'lease-name', env: 'PSO_LEASE_NAME', def: 'pullsecret-operator', help: 'name of the leader-election Lease' },
  { name: 'lease-duration', env: 'PSO_LEASE_DURATION', def: '15s', help: 'how long standbys wait without seeing the Lease renewed before taking over (whole seconds)' },
  { name: 'renew-deadline', env: 'PSO_RENEW_DEADLINE', def: '10s', help: 'the leader stops (and exits) when it cannot renew the Lease this long' },
  { name: 'retry-period', env: 'PSO_RETRY_PERIOD', def: '2s', help: 'interval of attempts to acquire or renew the Lease' },
  { name: 'qps', env: 'PSO_QPS', def: '2000', help: 'client-side limit of requests a second to the API server, a guard against runaway loops (0: none)' },
  { name: 'burst', env: 'PSO_BURST', def: '4000', help: 'requests allowed at once above --qps' },
  { name: 'request-timeout', env: 'PSO_REQUEST_TIMEOUT', def: '15s', help: 'deadline of each GET and write (LIST pages: 4x; Lease requests: half of --renew-deadline)' },
  { name: 'sync-timeout', env: 'PSO_SYNC_TIMEOUT', def: '2m', help: 'exit 1 when the first sync of the caches takes longer (Kubernetes restarts the pod)' },
  { name: 'kubeconfig', env: 'KUBECONFIG', def: '', help: 'kubeconfig file (empty: in-cluster config)' },
  { name: 'verify-credentials', env: 'PSO_VERIFY_CREDENTIALS', def: 'true', help: "check each source's credentials against its registry hosts (leader only; --verify-credentials=false: off)", boolean: true },
  { name: 'verify-interval', env: 'PSO_VERIFY_INTERVAL', def: '1h', help: 'how often each source is checked again, with jitter (10s to 24h); a changed source is checked at once' },
  { name: 'operator-namespace', env: 'PSO_OPERATOR_NAMESPACE', def: 'pullsecret-operator', defHelp: '$POD_NAMESPACE if set, else pullsecret-operator', help: "the operator's namespace: where the leader publishes the credential results (ConfigMap pullsecret-operator-credentials) that status reads" },
];

export const USAGE = `Usage: pullsecret-operator [run|cleanup|status] [flags]

Copies IBM Cloud Container Registry pull secrets of the source namespace into every namespace
and adds them to every ServiceAccount's imagePullSecrets.

Commands:
  run       (default) run the operator
  cleanup   remove every copy and every imagePullSecrets entry the operator added, then exit
  status    read-only: each namespace's state and problems, each source and why it is copied;
            exit 0 when every namespace that should be covered is in sync, else 1 (-o table|json)

Flags (each has an environment variable; a flag wins over it):
${FLAGS.map((f) => `  --${f.name.padEnd(20)} ${f.env.padEnd(24)} ${f.help} (default: ${f.defHelp ?? (f.def === '' ? '""' : f.def)})`).join('\n')}
  --help                                        show this help
  --version                                     print the version
`;

/**
 * The range of each duration flag. Beyond 2^31-1 ms (24.8 days) Node fires a timer after 1 ms, so
 * no duration that becomes a timer may reach it; the upper bounds are far below, at what still
 * makes sense for the flag. A value outside its range is refused at start.
 */
export const DURATION_RANGES: Readonly<Record<string, readonly [min: number, max: number]>> = Object.freeze({
  'orphan-grace': [0, 7 * 24 * 3_600_000],
  'resync-period': [1000, 24 * 3_600_000],
  'unhealthy-after': [1000, 24 * 3_600_000],
  'webhook-cert-validity': [5000, 365 * 24 * 3_600_000],
  'lease-duration': [1000, 3_600_000],
  'renew-deadline': [1, 3_600_000],
  'retry-period': [1, 3_600_000],
  'request-timeout': [100, 600_000],
  'sync-timeout': [1000, 24 * 3_600_000],
  'verify-interval': [10_000, 24 * 3_600_000],
});

/** A duration for messages: 90000 -> "1m30s", 500 -> "500ms". */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  return parts.join('');
}

/** Bounds of --max-source-size: a Secret holds at most 1 MiB. */
export const SOURCE_SIZE_RANGE: readonly [number, number] = [1024, 1 << 20];

/** Parses a size in bytes: 16384, 16Ki, 1Mi. */
export function parseSize(text: string): number {
  const m = /^(\d+)(Ki|Mi)?$/.exec(text.trim());
  if (!m) throw new Error(`invalid size "${text}" (use e.g. 16384, 16Ki, 1Mi)`);
  return Number(m[1]) * (m[2] === 'Ki' ? 1024 : m[2] === 'Mi' ? 1 << 20 : 1);
}

/** Parses durations such as 500ms, 30s, 10m, 1h, 1h30m. */
export function parseDuration(text: string): number {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const m of t.matchAll(re)) {
    const n = Number(m[1]);
    total += n * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const)[m[2] as 'ms' | 's' | 'm' | 'h'];
    consumed += m[0].length;
  }
  if (consumed === 0 || consumed !== t.length) throw new Error(`invalid duration "${text}" (use e.g. 500ms, 30s, 10m, 1h)`);
  return total;
}

function parseBool(name: string, v: string): boolean {
  const l = v.trim().toLowerCase();
  if (['true', '1', 'yes'].includes(l)) return true;
  if (['false', '0', 'no', ''].includes(l)) return false;
  throw new Error(`--${name}: "${v}" is not a boolean`);
}

function list(v: string): string[] {
  return v.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** The Service of the manifests (src/webhook/configuration.ts WEBHOOK_SERVICE; not imported: config stays free of the webhook code). */
const WEBHOOK_SERVICE = 'pullsecret-operator-webhook';

function webhookSettings(address: string, url: string, certValidityMs: number, namespace: string): WebhookSettings {
  const enabled = address !== '' || url !== '';
  let hosts = [`${WEBHOOK_SERVICE}.${namespace}.svc`, `${WEBHOOK_SERVICE}.${namespace}.svc.cluster.local`];
  let port = 9443;
  if (url !== '') {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new Error(`--webhook-url: "${url}" is not a URL`);
    }
    if (u.protocol !== 'https:' || u.pathname !== '/' || u.search !== '' || u.hash !== '' || u.username !== '') throw new Error(`--webhook-url: "${url}" is not https://HOST:PORT`);
    const host = u.hostname.replace(/^\[|\]$/g, '');
    hosts = [host];
    if (u.port !== '') port = Number(u.port);
    if (isIP(host) === 0 && !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/i.test(host)) throw new Error(`--webhook-url: "${host}" is not a host name or IP address`);
  }
  return Object.freeze({ enabled, address: address || `:${port}`, url: url === '' ? undefined : url.replace(/\/$/, ''), certValidityMs, namespace, hosts: Object.freeze(hosts) as string[] });
}

/**
 * What argv asks for before any flag is read: --help (or -h) and --version answer even when the
 * environment holds an invalid value.
 */
export function infoRequest(argv: readonly string[]): 'help' | 'version' | undefined {
  if (argv.includes('--help') || argv.includes('-h')) return 'help';
  if (argv.includes('--version')) return 'version';
  return undefined;
}

/** The flags of one command line: a flag wins over its environment variable, which wins over the default. */
class Flags {
  readonly command: Command;
  readonly #values: Record<string, string | boolean | undefined>;
  readonly #explicit: Record<string, string> = {};
  readonly #env: Readonly<Record<string, string | undefined>>;

  constructor(argv: readonly string[], env: Readonly<Record<string, string | undefined>>) {
    this.#env = env;
    const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
    for (const f of FLAGS) options[f.name] = { type: f.boolean ? 'boolean' : 'string' };
    options['output'] = { type: 'string', short: 'o' };
    // Boolean flags also take an explicit value, as in Go and kubebuilder manifests: --leader-elect=true, --dry-run=false.
    const args = argv.filter((a) => {
      const m = /^--([a-z-]+)=(.*)$/.exec(a);
      const f = m && FLAGS.find((x) => x.boolean && x.name === m[1]);
      if (!m || !f) return true;
      this.#explicit[f.name] = String(parseBool(f.name, m[2] ?? ''));
      return false;
    });
    const { values, positionals } = parseArgs({ args, options, allowPositionals: true, strict: true });
    this.#values = values;
    if (positionals.length > 1) throw new Error(`unexpected arguments: ${positionals.slice(1).join(' ')}`);
    const cmd = positionals[0] ?? 'run';
    if (cmd !== 'run' && cmd !== 'cleanup' && cmd !== 'status') throw new Error(`unknown command "${cmd}" (run, cleanup or status)`);
    this.command = cmd;
  }

  /** The value of --name, else its environment variable, else `fallback`, else its default. */
  get(name: string, fallback?: string): string {
    const f = FLAGS.find((x) => x.name === name);
    if (!f) throw new Error(`unknown flag ${name}`);
    const explicit = this.#explicit[name];
    if (explicit !== undefined) return explicit;
    const v = this.#values[name];
    if (v !== undefined) return String(v);
    return this.#env[f.env] ?? fallback ?? f.def;
  }

  bool(name: string): boolean {
    return parseBool(name, this.get(name));
  }

  /** A duration flag, within its DURATION_RANGES. */
  duration(name: string): number {
    const range = DURATION_RANGES[name];
    if (!range) throw new Error(`no range for --${name}`);
    const ms = this.#parsed(name, parseDuration);
    const [min, max] = range;
    if (ms < min || ms > max) throw new Error(`--${name}: ${this.get(name).trim()} is out of range (${formatDuration(min)} to ${formatDuration(max)})`);
    return ms;
  }

  /** A size flag, within SOURCE_SIZE_RANGE. */
  size(name: string): number {
    const n = this.#parsed(name, parseSize);
    const [min, max] = SOURCE_SIZE_RANGE;
    if (n < min || n > max) throw new Error(`--${name}: ${this.get(name).trim()} is out of range (1Ki to 1Mi)`);
    return n;
  }

  /** A number flag, at least `min`. */
  number(name: string, min: number): number {
    const v = Number(this.get(name));
    if (!Number.isFinite(v) || v < min) throw new Error(`--${name}: "${this.get(name)}" is not a number >= ${min}`);
    return v;
  }

  #parsed<T>(name: string, parse: (text: string) => T): T {
    try {
      return parse(this.get(name));
    } catch (err) {
      throw new Error(`--${name}: ${(err as Error).message}`);
    }
  }
}

/** The flags that decide desired state. */
function policyOf(f: Flags): Policy {
  const sourceNamespace = f.get('source-namespace').trim();
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(sourceNamespace)) throw new Error(`--source-namespace: "${sourceNamespace}" is not a namespace name`);
  const registryHosts = list(f.get('registry-hosts'));
  if (registryHosts.length === 0) throw new Error('--registry-hosts: the list is empty');
  let namespaceSelector;
  try {
    namespaceSelector = parseSelector(f.get('namespace-selector'));
  } catch (err) {
    throw new Error(`--namespace-selector: ${(err as Error).message}`);
  }
  const sas = f.get('service-accounts').trim();
  return Object.freeze({
    sourceNamespace,
    registryHosts: Object.freeze(registryHosts),
    excludeNamespaces: Object.freeze(list(f.get('exclude-namespaces'))),
    namespaceSelector: Object.freeze(namespaceSelector),
    serviceAccounts: sas === '*' || sas === '' ? 'all' : Object.freeze(list(sas)),
    orphanGraceMs: f.duration('orphan-grace'),
    maxSourceBytes: f.size('max-source-size'),
  });
}

function leaderElectionOf(f: Flags, env: Readonly<Record<string, string | undefined>>): LeaderElectionSettings {
  const namespace = f.get('lease-namespace', env['POD_NAMESPACE'] || undefined).trim();
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace)) throw new Error(`--lease-namespace: "${namespace}" is not a namespace name`);
  const name = f.get('lease-name').trim();
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) throw new Error(`--lease-name: "${name}" is not a valid object name`);
  const leaseDurationMs = f.duration('lease-duration');
  if (leaseDurationMs % 1000 !== 0) throw new Error(`--lease-duration: must be whole seconds (the Lease stores seconds)`);
  const renewDeadlineMs = f.duration('renew-deadline');
  const retryPeriodMs = f.duration('retry-period');
  if (renewDeadlineMs >= leaseDurationMs) throw new Error(`--renew-deadline (${f.get('renew-deadline')}) must be less than --lease-duration (${f.get('lease-duration')})`);
  if (retryPeriodMs >= renewDeadlineMs) throw new Error(`--retry-period (${f.get('retry-period')}) must be less than --renew-deadline (${f.get('renew-deadline')})`);
  return Object.freeze({ enabled: f.bool('leader-elect'), namespace, name, leaseDurationMs, renewDeadlineMs, retryPeriodMs });
}

function credentialsOf(f: Flags, env: Readonly<Record<string, string | undefined>>): CredentialSettings {
  const intervalMs = f.duration('verify-interval');
  const namespace = f.get('operator-namespace', env['POD_NAMESPACE'] || undefined).trim();
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace)) throw new Error(`--operator-namespace: "${namespace}" is not a namespace name`);
  return Object.freeze({ enabled: f.bool('verify-credentials'), intervalMs, namespace });
}

function clientOf(f: Flags, renewDeadlineMs: number): ClientSettings {
  const requestTimeoutMs = f.duration('request-timeout');
  return Object.freeze({
    qps: f.number('qps', 0),
    burst: Math.floor(f.number('burst', 1)),
    requestTimeoutMs,
    listTimeoutMs: requestTimeoutMs * 4,
    // client-go bounds each Lease request by half the renew deadline, so that a leader that
    // cannot renew notices in time and stops before any standby may take over.
    leaseTimeoutMs: Math.min(requestTimeoutMs, Math.max(100, Math.floor(renewDeadlineMs / 2))),
  });
}

/**
 * Builds the Config from argv (without node and script) and an environment. Throws on invalid
 * input. `suffix` makes the identity unique when POD_NAME is not set (random unless given).
 */
export function loadConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  hostname: string,
  suffix: string = randomBytes(3).toString('hex'),
): Readonly<Config> {
  const f = new Flags(argv, env);
  const logLevel = f.get('log-level');
  if (!['error', 'warn', 'info', 'debug'].includes(logLevel)) throw new Error(`--log-level: "${logLevel}" is not error, warn, info or debug`);
  const workers = Number(f.get('workers'));
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new Error(`--workers: "${f.get('workers')}" is not an integer from 1 to 64`);
  const policy = policyOf(f);
  const leaderElection = leaderElectionOf(f, env);
  const credentials = credentialsOf(f, env);
  const output = f.get('output').trim();
  if (output !== 'table' && output !== 'json') throw new Error(`--output: "${output}" is not table or json`);
  const config: Config = {
    command: f.command,
    policy,
    kubeconfig: f.get('kubeconfig').trim() || undefined,
    resyncPeriodMs: f.duration('resync-period'),
    workers,
    dryRun: f.bool('dry-run'),
    once: f.bool('once'),
    logLevel: logLevel as LogLevel,
    httpAddress: f.get('http-address').trim(),
    unhealthyAfterMs: f.duration('unhealthy-after'),
    identity: env['POD_NAME'] || `${hostname}-${process.pid}-${suffix}`,
    leaderElection,
    client: clientOf(f, leaderElection.renewDeadlineMs),
    syncTimeoutMs: f.duration('sync-timeout'),
    webhook: webhookSettings(f.get('webhook-address').trim(), f.get('webhook-url').trim(), f.duration('webhook-cert-validity'), env['POD_NAMESPACE'] || 'pullsecret-operator'),
    output,
    credentials,
  };
  return Object.freeze(config);
}
