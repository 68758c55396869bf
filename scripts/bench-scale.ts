/**
 * `npm run bench -- scale`: the operator at scale against a floor, on a fresh local control plane.
 *
 *   npm run bench -- scale [--namespaces 5000] [--service-accounts 3] [--sources 3] [--idle 30]
 *
 * It builds the operator (npm run build), starts a control plane, creates N namespaces with S
 * ServiceAccounts each (`default`, made by kube-controller-manager, and S-1 more) and K IBM-style
 * sources in `default`, then measures, in the same run:
 *
 * 1. The floor: the operator's own client (src/kube/client.ts, one keep-alive agent of 32 sockets)
 *    with no caches. It lists the ServiceAccounts once; then, 32 namespaces at a time, makes the K
 *    creates at once and the operator's own write of each ServiceAccount (one resourceVersion-
 *    guarded merge patch). Its rotation is a GET and a PUT per copy, 32 at a time. Then everything
 *    it wrote is removed again.
 * 2. The operator: the compiled bundle (package.json's bin) with the NODE_OPTIONS of
 *    manifests/base/deployment.yaml and its default flags; cold-start convergence timed from process
 *    start, 30 s of idle, then the rotation of one source. PSO_VERIFY_CREDENTIALS is passed on
 *    (`PSO_VERIFY_CREDENTIALS=false npm run bench -- scale`: the credential check off, to compare).
 *
 * Converged: every ServiceAccount lists every copy, seen on a watch. Rotated: every copy of the
 * source carries the new data, seen on a watch. Peak RSS: sampled every 100 ms from start to
 * convergence; settled RSS: at the end of the idle period. API requests: the API server's own
 * apiserver_request_total for namespaces, secrets and serviceaccounts, all clients (this
 * benchmark's two watches and kube-controller-manager included).
 *
 * `npm run bench -- churn [--minutes 60] [--namespaces 200]` runs the operator under namespace
 * churn (create and delete namespaces in a loop) and samples its RSS, to show that no
 * per-namespace state outlives its namespace.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, KubeConfig, type V1Secret, type V1ServiceAccount } from '@kubernetes/client-node';
import { pages } from '../src/cleanup.js';
import { pullSecretsChange } from '../src/domain/desired.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, SOURCE_ANNOTATION } from '../src/domain/naming.js';
import { MANAGED_SELECTOR } from '../src/domain/ownership.js';
import { pullSecretsMergePatch } from '../src/domain/patches.js';
import type { SecretLike, ServiceAccountLike } from '../src/domain/types.js';
import { type Kube, type ListOptions, type ListResult, createKube } from '../src/kube/client.js';
import { serviceAccountOf } from '../src/kube/ingest.js';
import { startControlPlane, type ControlPlane } from '../test/harness/control-plane.js';
import { apiserverMetrics } from '../test/harness/kube.js';
import { WRITE_VERBS, samples, sum } from '../test/harness/metrics.js';
import { REPO_ROOT, bundlePath, startOperator } from '../test/harness/operator.js';

const SOURCE_NAMES = ['all-icr-io', 'default-us-icr-io', 'default-uk-icr-io', 'default-de-icr-io', 'default-au-icr-io', 'default-jp-icr-io', 'default-icr-io'];
const REGISTRY_OF: Record<string, string> = { 'all-icr-io': 'icr.io', 'default-icr-io': 'icr.io' };
const FLOOR_CONCURRENCY = 32;

// ---------------------------------------------------------------------------------------------
// The clients: the operator's own (src/kube/client.ts: one keep-alive agent of 32 sockets, the
// floor's transport too), and client-node's for what the operator never does (creating namespaces
// and ServiceAccounts).

interface Clients {
  kc: KubeConfig;
  kube: Kube & { close(): void };
  core: CoreV1Api;
}

async function connect(plane: ControlPlane): Promise<Clients> {
  const kc = new KubeConfig();
  kc.loadFromFile(plane.kubeconfigPath);
  return { kc, kube: await createKube(kc, { userAgent: 'pullsecret-operator-bench', qps: 0 }), core: kc.makeApiClient(CoreV1Api) };
}

/**
 * A watch whose events are handed on as objects; abort() may come before it has started. A watch
 * the server ends (or that is closed under it, a slow reader on a busy machine) is opened again
 * from the last resourceVersion it delivered, so no event between is lost.
 */
function watchObjects<T>(kube: Kube, path: string, query: Record<string, string | number | boolean>, onEvent: (type: string, obj: T) => void): { abort(): void } {
  let aborted = false;
  let current: Promise<{ abort(): void }> | undefined;
  let rv = String(query['resourceVersion'] ?? '');
  const open = (): void => {
    current = kube.watch(path, { ...query, resourceVersion: rv }, (type, obj) => {
      rv = (obj as { metadata?: { resourceVersion?: string } } | null)?.metadata?.resourceVersion ?? rv;
      if (type !== 'BOOKMARK') onEvent(type, obj as T);
    }, () => {
      if (!aborted) setTimeout(open, 100);
    });
  };
  open();
  return {
    abort: () => {
      aborted = true;
      void current?.then((w) => w.abort());
    },
  };
}

/** Every object of a collection, page by page. */
async function listAll<T>(list: (o: ListOptions) => Promise<ListResult<T>>): Promise<T[]> {
  const items: T[] = [];
  for await (const page of pages(list)) items.push(...page);
  return items;
}

/** Runs fn over items, `n` at a time. */
async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

/** fn's value, or undefined when it met a 409 (the object exists already, or changed meanwhile). */
async function ignore409<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    const e = err as { code?: number; statusCode?: number };
    if (e.code === 409 || e.statusCode === 409) return undefined;
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// The API server's request counters.

type Counts = Record<string, number>;

/** apiserver_request_total for namespaces, secrets and serviceaccounts, by verb. */
const OTHER_RESOURCES = ['configmaps', 'events'];

/**
 * apiserver_request_total for namespaces, secrets and serviceaccounts (or `resources`), by verb,
 * subresources included. configmaps and events are counted apart: the credential check's published
 * results and Warning Events.
 */
async function requestCounts(c: Clients, resources: readonly string[] = ['namespaces', 'secrets', 'serviceaccounts']): Promise<Counts> {
  const out: Counts = {};
  for (const x of samples(await apiserverMetrics(c.kc), 'apiserver_request_total')) {
    if (!resources.includes(x.labels['resource'] ?? '')) continue;
    const verb = x.labels['verb'] ?? '';
    out[verb] = (out[verb] ?? 0) + x.value;
  }
  return out;
}

const diff = (a: Counts, b: Counts): Counts => Object.fromEntries(Object.keys({ ...a, ...b }).map((k) => [k, (b[k] ?? 0) - (a[k] ?? 0)]).filter(([, v]) => v !== 0));
const writes = (c: Counts): number => WRITE_VERBS.reduce((s, v) => s + (c[v] ?? 0), 0);
const nonWatch = (c: Counts): number => Object.entries(c).filter(([v]) => v !== 'WATCH').reduce((s, [, n]) => s + n, 0);
const fmtCounts = (c: Counts): string => Object.entries(c).sort().map(([v, n]) => `${v} ${n}`).join(', ') || 'none';

// ---------------------------------------------------------------------------------------------
// The objects.

/** IBM Cloud Container Registry's hosts, public and private, as IBM's own `all-icr-io` names them. */
const IBM_HOSTS = ['icr.io', 'au.icr.io', 'br.icr.io', 'ca.icr.io', 'de.icr.io', 'es.icr.io', 'fr2.icr.io', 'jp.icr.io', 'jp2.icr.io', 'uk.icr.io', 'us.icr.io'].flatMap((h) => [h, `private.${h}`]);

/**
 * A source as large as IBM's real `all-icr-io` (about 5 KB): one key (an API key is 44 characters)
 * for every IBM registry host, public and private, with username, password, email and auth, and
 * `registry` first. Every source of the benchmark has this size, so the figures (memory, the
 * requests' bytes, etcd) are those of real sources, not of 250-byte stand-ins.
 */
function pullSecretData(registry: string, password: string): Record<string, string> {
  const key = password.padEnd(44, 'x').slice(0, Math.max(44, password.length));
  const auth = Buffer.from(`iamapikey:${key}`).toString('base64');
  const entry = { username: 'iamapikey', password: key, email: 'iamapikey', auth };
  const auths = Object.fromEntries([registry, ...IBM_HOSTS.filter((h) => h !== registry)].map((h) => [h, entry]));
  return { '.dockerconfigjson': Buffer.from(JSON.stringify({ auths })).toString('base64') };
}

function sourceRegistry(name: string): string {
  return REGISTRY_OF[name] ?? `${name.split('-')[1] ?? 'us'}.icr.io`;
}

/** The copy names of the sources in a namespace (the operator's naming rule). */
function copyNames(sources: readonly string[], ns: string): string[] {
  return sources.map((s) => s.split('-').map((w) => (w === 'default' ? ns : w)).join('-'));
}

/** Watches every ServiceAccount; resolves when all of `names`' namespaces list every copy. */
function convergenceWatch(c: Clients, namespaces: readonly string[], sas: number, sources: readonly string[], fromRv: string): { done: Promise<number>; abort(): void } {
  const want = new Map(namespaces.map((ns) => [ns, copyNames(sources, ns)]));
  const ok = new Set<string>();
  const total = namespaces.length * sas;
  let resolve: (t: number) => void = () => undefined;
  const done = new Promise<number>((r) => (resolve = r));
  const w = watchObjects<V1ServiceAccount>(c.kube, '/api/v1/serviceaccounts', { resourceVersion: fromRv, allowWatchBookmarks: true }, (type, sa) => {
    const ns = sa.metadata?.namespace ?? '';
    const names = want.get(ns);
    if (!names) return;
    const key = `${ns}/${sa.metadata?.name ?? ''}`;
    const have = new Set((sa.imagePullSecrets ?? []).map((e) => e.name));
    if (type !== 'DELETED' && names.every((n) => have.has(n))) ok.add(key);
    else ok.delete(key);
    if (ok.size === total) resolve(performance.now());
  });
  return { done, abort: w.abort };
}

/** Watches the copies of one source; resolves when every namespace's copy carries `data`. */
function rotationWatch(c: Clients, namespaces: readonly string[], copyName: string, data: Record<string, string>, fromRv: string): { done: Promise<number>; abort(): void } {
  const pending = new Set(namespaces);
  const want = JSON.stringify(data);
  let resolve: (t: number) => void = () => undefined;
  const done = new Promise<number>((r) => (resolve = r));
  const w = watchObjects<V1Secret>(c.kube, '/api/v1/secrets', { labelSelector: MANAGED_SELECTOR, fieldSelector: `metadata.name=${copyName}`, resourceVersion: fromRv }, (type, s) => {
    if (type !== 'DELETED' && JSON.stringify(s.data) === want) pending.delete(s.metadata?.namespace ?? '');
    if (pending.size === 0) resolve(performance.now());
  });
  return { done, abort: w.abort };
}

// ---------------------------------------------------------------------------------------------
// Process sampling.

interface Sample {
  t: number;
  rssKiB: number;
  cpuTicks: number;
}

function sample(pid: number): Sample | undefined {
  try {
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { t: performance.now(), rssKiB: rss, cpuTicks: Number(f[11]) + Number(f[12]) };
  } catch {
    return undefined;
  }
}

const mib = (kib: number): string => (kib / 1024).toFixed(0);

/** NODE_OPTIONS of the operator container in manifests/base/deployment.yaml. */
function deploymentNodeOptions(): string {
  const text = readFileSync(join(REPO_ROOT, 'manifests', 'base', 'deployment.yaml'), 'utf8');
  const m = /- name: NODE_OPTIONS\s*\n\s*value:\s*"?([^"\n]+)"?/.exec(text);
  if (!m?.[1]) throw new Error('no NODE_OPTIONS in manifests/base/deployment.yaml');
  return m[1].trim();
}

interface OperatorRun {
  pid: number;
  started: number;
  /** When it logged that its caches had synced (it starts reconciling then). */
  synced: Promise<number>;
  /** V8 heap figures from its /metrics. */
  heap(): Promise<string>;
  samples: Sample[];
  stop(): Promise<void>;
}

/** The compiled bundle (the image's), with the Deployment's NODE_OPTIONS and the operator's default flags. */
async function startCompiledOperator(kubeconfig: string, nodeOptions = deploymentNodeOptions()): Promise<OperatorRun> {
  const started = performance.now();
  let onSynced: (t: number) => void = () => undefined;
  const synced = new Promise<number>((r) => (onSynced = r));
  const op = await startOperator({
    kubeconfig,
    bundle: true,
    // The HTTP port is picked free (8080 may be taken on this machine): the harness's default.
    env: { NODE_ENV: 'production', NODE_OPTIONS: nodeOptions, POD_NAME: 'bench-0', POD_NAMESPACE: 'default', PSO_VERIFY_CREDENTIALS: process.env.PSO_VERIFY_CREDENTIALS ?? 'true' },
    waitSynced: false,
    onLog: (l) => {
      if (l.message === 'caches synced; reconciling') onSynced(performance.now());
    },
  });
  const pid = op.child.pid ?? 0;
  const samples: Sample[] = [];
  const timer = setInterval(() => {
    const s = sample(pid);
    if (s) samples.push(s);
  }, 100);
  void op.exited.then(({ code, signal }) => {
    if (code !== 0 && signal !== 'SIGTERM') console.error(`operator exited ${code ?? signal}; stderr tail:\n${op.stderr().slice(-4000)}`);
  });
  return {
    pid,
    started,
    synced,
    samples,
    heap: async () => {
      const text = await (await fetch(`http://127.0.0.1:${op.httpPort}/metrics`)).text();
      const v = (name: string): number => sum(text, name) / 2 ** 20;
      return `V8 heap used ${v('nodejs_heap_size_used_bytes').toFixed(0)} of ${v('nodejs_heap_size_total_bytes').toFixed(0)} MiB`;
    },
    stop: async () => {
      clearInterval(timer);
      await op.stop();
    },
  };
}

const window = (samples: readonly Sample[], from: number, to: number): Sample[] => samples.filter((s) => s.t >= from && s.t <= to);
const peak = (ss: readonly Sample[]): number => Math.max(0, ...ss.map((s) => s.rssKiB));
const cpuS = (ss: readonly Sample[]): number => ((ss[ss.length - 1]?.cpuTicks ?? 0) - (ss[0]?.cpuTicks ?? 0)) / 100;

async function startPlane(): Promise<{ plane: ControlPlane; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'pso-bench-scale-'));
  // kube-controller-manager's client is limited to 20 requests/s by default: at that rate the
  // default ServiceAccounts of thousands of namespaces would take minutes to appear.
  const plane = await startControlPlane({ dir, log: (m) => console.error(m), controllerManagerArgs: ['--kube-api-qps=500', '--kube-api-burst=1000'] });
  return { plane, dir };
}

function build(): void {
  const r = spawnSync('npm', ['run', '-s', 'build'], { cwd: REPO_ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm run build failed');
}

/** Creates the sources and N namespaces with S ServiceAccounts each; returns the namespace names. */
async function populate(c: Clients, N: number, S: number, sources: readonly string[], prefix: string): Promise<string[]> {
  for (const name of sources) {
    await ignore409(() => c.kube.createSecret({ metadata: { name, namespace: 'default' }, type: 'kubernetes.io/dockerconfigjson', data: pullSecretData(sourceRegistry(name), 'initial') }));
  }
  const names = Array.from({ length: N }, (_, i) => `${prefix}-${String(i).padStart(5, '0')}`);
  const t0 = performance.now();
  await pool(names, FLOOR_CONCURRENCY, async (ns) => {
    await ignore409(() => c.core.createNamespace({ body: { metadata: { name: ns } } }));
    for (let j = 1; j < S; j++) await ignore409(() => c.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: `sa-${j}` } } }));
  });
  // The default ServiceAccounts come from kube-controller-manager.
  for (;;) {
    const items = await listAll((o) => c.kube.listServiceAccounts(o));
    const n = items.filter((s) => s.metadata?.name === 'default' && s.metadata.namespace?.startsWith(`${prefix}-`)).length;
    if (n === N) break;
    await sleep(500);
  }
  console.error(`bench: ${N} namespaces x ${S} ServiceAccounts created in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return names;
}

// ---------------------------------------------------------------------------------------------

const resourceVersionNow = async (c: Clients): Promise<string> => (await c.kube.listServiceAccounts({ limit: 1 })).resourceVersion;

interface FloorResult {
  convergeMs: number;
  rotateMs: number;
  conv: Counts;
  rot: Counts;
}

/**
 * The floor: the necessary writes, 32 namespaces at a time, no caches, on the operator's own
 * client. Each ServiceAccount gets the operator's own write: the resourceVersion-guarded merge
 * patch of src/domain/patches.ts, computed by the same rule.
 */
async function floorRun(c: Clients, names: readonly string[], S: number, sources: readonly string[], rotated: string): Promise<FloorResult> {
  const nsSet = new Set(names);
  const conv = convergenceWatch(c, names, S, sources, await resourceVersionNow(c));
  await sleep(200); // the watch is open
  const c0 = await requestCounts(c);
  const t0 = performance.now();
  const sourceData = new Map<string, Record<string, string>>();
  for (const name of sources) sourceData.set(name, (await c.kube.getSecret('default', name))?.data ?? {});
  const sasByNs = new Map<string, ServiceAccountLike[]>();
  for (const raw of (await c.kube.listServiceAccounts()).items) {
    const sa = serviceAccountOf(raw);
    if (nsSet.has(sa.metadata.namespace)) sasByNs.set(sa.metadata.namespace, [...(sasByNs.get(sa.metadata.namespace) ?? []), sa]);
  }
  await pool(names, FLOOR_CONCURRENCY, async (ns) => {
    const copies = copyNames(sources, ns);
    await Promise.all(
      sources.map((src, i) =>
        c.kube.createSecret({
          metadata: { name: copies[i] ?? '', namespace: ns, labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE }, annotations: { [SOURCE_ANNOTATION]: `default/${src}` } },
          type: 'kubernetes.io/dockerconfigjson',
          data: sourceData.get(src) ?? {},
        }),
      ),
    );
    await Promise.all((sasByNs.get(ns) ?? []).map((sa) => patchPullSecretsOnce(c.kube, sa, copies)));
  });
  const convergeMs = (await conv.done) - t0;
  conv.abort();
  const c1 = await requestCounts(c);
  const rotateMs = await floorRotation(c, names, rotated);
  const c2 = await requestCounts(c);
  console.error(`bench: floor converged in ${(convergeMs / 1000).toFixed(1)} s, rotated in ${(rotateMs / 1000).toFixed(1)} s`);
  return { convergeMs, rotateMs, conv: diff(c0, c1), rot: diff(c1, c2) };
}

async function patchPullSecretsOnce(kube: Kube, sa: ServiceAccountLike, wanted: readonly string[]): Promise<void> {
  const change = pullSecretsChange(sa, wanted);
  if (change) await kube.patchServiceAccount(sa.metadata.namespace, sa.metadata.name, pullSecretsMergePatch(change, sa.metadata.resourceVersion));
}

/** The floor's rotation: the source, then a GET and a PUT of each copy, 32 at a time. */
async function floorRotation(c: Clients, names: readonly string[], rotated: string): Promise<number> {
  const data = pullSecretData(sourceRegistry(rotated), `floor-rotated-${Date.now()}`);
  const rot = rotationWatch(c, names, rotated, data, await resourceVersionNow(c));
  await sleep(200);
  const r0 = performance.now();
  await rewrite(c.kube, 'default', rotated, data);
  await pool(names, FLOOR_CONCURRENCY, (ns) => rewrite(c.kube, ns, rotated, data));
  const rotateMs = (await rot.done) - r0;
  rot.abort();
  return rotateMs;
}

/** A GET and a PUT of a secret with new data. */
async function rewrite(kube: Kube, namespace: string, name: string, data: Record<string, string>): Promise<void> {
  const s = await kube.getSecret(namespace, name);
  if (!s) throw new Error(`secret ${namespace}/${name} is gone`);
  await kube.replaceSecret({ ...(s as SecretLike), data });
}

/** Removes every copy and every entry on the ServiceAccounts: the next run starts cold. */
async function reset(c: Clients, names: readonly string[], sources: readonly string[]): Promise<void> {
  const nsSet = new Set(names);
  await pool(names, FLOOR_CONCURRENCY, async (ns) => {
    await Promise.all(copyNames(sources, ns).map((n) => c.kube.deleteSecret(ns, n, undefined).catch(() => undefined)));
  });
  for (;;) {
    const dirty = (await listAll((o) => c.kube.listServiceAccounts(o)))
      .map((raw) => serviceAccountOf(raw))
      .filter((sa) => nsSet.has(sa.metadata.namespace) && ((sa.imagePullSecrets ?? []).length > 0 || sa.metadata.annotations !== undefined));
    if (dirty.length === 0) break;
    await pool(dirty, FLOOR_CONCURRENCY, async (sa) => {
      await ignore409(() => c.kube.patchServiceAccount(sa.metadata.namespace, sa.metadata.name, pullSecretsMergePatch({ imagePullSecrets: [], added: null }, sa.metadata.resourceVersion)));
    });
  }
  for (;;) {
    const left = await listAll((o) => c.kube.listSecrets(undefined, { ...o, labelSelector: MANAGED_SELECTOR }));
    if (left.length === 0) break;
    await sleep(500);
  }
  await sleep(3000);
}

interface OperatorResult {
  nodeOptions: string;
  convergeMs: number;
  syncedMs: number;
  rotateMs: number;
  conv: Counts;
  idle: Counts;
  rot: Counts;
  /** configmaps and events, the whole run of the operator. */
  other: Counts;
  peakKiB: number;
  settledKiB: number;
  rotationPeakKiB: number;
  cpu: [number, number, number];
  heap: string;
}

/** The compiled operator: cold start to convergence, idle, rotation. */
async function operatorRun(c: Clients, plane: ControlPlane, names: readonly string[], S: number, sources: readonly string[], rotated: string, idleS: number, nodeOptions: string): Promise<OperatorResult> {
  const conv = convergenceWatch(c, names, S, sources, await resourceVersionNow(c));
  await sleep(200);
  const c0 = await requestCounts(c);
  const o0 = await requestCounts(c, OTHER_RESOURCES);
  const op = await startCompiledOperator(plane.kubeconfigPath, nodeOptions);
  const convergedAt = await conv.done;
  conv.abort();
  const convergeMs = convergedAt - op.started;
  const syncedMs = (await op.synced) - op.started;
  const c1 = await requestCounts(c);
  await sleep(idleS * 1000);
  const c2 = await requestCounts(c);
  const settledAt = performance.now();
  const heap = await op.heap();

  const data = pullSecretData(sourceRegistry(rotated), `operator-rotated-${Date.now()}`);
  const rot = rotationWatch(c, names, rotated, data, await resourceVersionNow(c));
  await sleep(200);
  const r0 = performance.now();
  await rewrite(c.kube, 'default', rotated, data);
  const rotateMs = (await rot.done) - r0;
  rot.abort();
  const c3 = await requestCounts(c);
  await sleep(1000);
  await op.stop();
  const o1 = await requestCounts(c, OTHER_RESOURCES);
  const startPhase = window(op.samples, op.started, convergedAt);
  const idlePhase = window(op.samples, convergedAt, settledAt);
  const rotPhase = window(op.samples, r0, r0 + rotateMs + 1000);
  return {
    nodeOptions,
    convergeMs,
    syncedMs,
    rotateMs,
    conv: diff(c0, c1),
    idle: diff(c1, c2),
    rot: diff(c2, c3),
    other: diff(o0, o1),
    peakKiB: peak(startPhase),
    settledKiB: idlePhase[idlePhase.length - 1]?.rssKiB ?? 0,
    rotationPeakKiB: peak(rotPhase),
    cpu: [cpuS(startPhase), cpuS(idlePhase), cpuS(rotPhase)],
    heap,
  };
}

export async function scaleBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      namespaces: { type: 'string', default: '5000' },
      'service-accounts': { type: 'string', default: '3' },
      sources: { type: 'string', default: '3' },
      idle: { type: 'string', default: '30' },
      // Experiments: other NODE_OPTIONS than the Deployment's (each runs the operator once more), no floor.
      'node-options': { type: 'string', multiple: true },
      'no-floor': { type: 'boolean', default: false },
      // CI's smoke run: fail unless idle made no writes and no LISTs (timings are not judged: CI machines vary).
      check: { type: 'boolean', default: false },
    },
  });
  const N = Number(values.namespaces);
  const S = Number(values['service-accounts']);
  const K = Number(values.sources);
  const IDLE_S = Number(values.idle);
  if (!(N >= 1 && S >= 1 && K >= 1 && K <= SOURCE_NAMES.length)) throw new Error(`--namespaces, --service-accounts >= 1, --sources 1..${SOURCE_NAMES.length}`);
  const variants = values['node-options'] ?? [deploymentNodeOptions()];
  const sources = SOURCE_NAMES.slice(0, K);
  const rotated = sources[0] ?? 'all-icr-io';
  build();
  const { plane, dir } = await startPlane();
  const c = await connect(plane);
  try {
    const names = await populate(c, N, S, sources, 'scale');
    await sleep(2000);
    let floor: FloorResult | undefined;
    if (!values['no-floor']) {
      floor = await floorRun(c, names, S, sources, rotated);
      await reset(c, names, sources);
    }
    const results: OperatorResult[] = [];
    for (const [i, nodeOptions] of variants.entries()) {
      if (i > 0) await reset(c, names, sources);
      results.push(await operatorRun(c, plane, names, S, sources, rotated, IDLE_S, nodeOptions));
    }

    const ratio = (a: number, b: number | undefined): string => (b ? `${(a / b).toFixed(2)}x` : '');
    const sec = (ms: number | undefined): string => (ms === undefined ? '' : `${(ms / 1000).toFixed(1)} s`);
    const perNs = (x: Counts | undefined): string => (x ? (nonWatch(x) / N).toFixed(2) : '');
    console.log(`\npullsecret-operator scale benchmark: ${N} namespaces x ${S} ServiceAccounts x ${K} sources, local control plane (k8s ${plane.kubernetesVersion}), ${new Date().toISOString().slice(0, 16)}Z`);
    console.log(`operator: node ${bundlePath().slice(REPO_ROOT.length + 1)}, default flags; floor: no caches, 32 keep-alive sockets, 32 namespaces at a time`);
    for (const r of results) {
      console.log(`\nNODE_OPTIONS=${r.nodeOptions}${r.nodeOptions === deploymentNodeOptions() ? ' (manifests/base/deployment.yaml)' : ''}\n`);
      console.log('| phase | operator | floor | ratio |');
      console.log('| --- | --- | --- | --- |');
      console.log(`| cold-start convergence (from process start, every ServiceAccount lists every copy, seen on a watch) | ${sec(r.convergeMs)} | ${sec(floor?.convergeMs)} | ${ratio(r.convergeMs, floor?.convergeMs)} |`);
      console.log(`| of which: process start to caches synced (load, paged LISTs of ${N}+ namespaces, ${N * S}+ ServiceAccounts, the copies) | ${sec(r.syncedMs)} | | |`);
      console.log(`| rotation of ${rotated} (every copy carries the new data, seen on a watch) | ${sec(r.rotateMs)} | ${sec(floor?.rotateMs)} | ${ratio(r.rotateMs, floor?.rotateMs)} |`);
      console.log(`| API requests, convergence (namespaces, secrets, serviceaccounts; all clients) | ${fmtCounts(r.conv)} | ${floor ? fmtCounts(floor.conv) : ''} | |`);
      console.log(`| API requests per namespace, convergence (all but WATCH) | ${perNs(r.conv)} | ${perNs(floor?.conv)} | |`);
      console.log(`| API requests, rotation | ${fmtCounts(r.rot)} | ${floor ? fmtCounts(floor.rot) : ''} | |`);
      console.log(`| API requests per namespace, rotation (all but WATCH) | ${perNs(r.rot)} | ${perNs(floor?.rot)} | |`);
      console.log(`| API requests in ${IDLE_S} s of idle after convergence | ${fmtCounts(r.idle)} (writes ${writes(r.idle)}, LISTs ${r.idle['LIST'] ?? 0}) | | |`);
      console.log(`| API requests on configmaps and events, the whole operator run (the credential check's results, Warning Events) | ${fmtCounts(r.other)} | | |`);
      console.log(`| peak RSS, start to convergence | ${mib(r.peakKiB)} MiB | | |`);
      console.log(`| settled RSS, ${IDLE_S} s after convergence | ${mib(r.settledKiB)} MiB (${r.heap}) | | |`);
      console.log(`| peak RSS during the rotation | ${mib(r.rotationPeakKiB)} MiB | | |`);
      console.log(`| CPU seconds: convergence / idle / rotation | ${r.cpu.map((x) => x.toFixed(1)).join(' / ')} | | |`);
    }
    console.log('\n(WATCH requests are counted by the API server when they end. The counts include this benchmark\'s own watches and kube-controller-manager.)');
    if (values.check) {
      const bad = results.filter((r) => writes(r.idle) > 0 || (r.idle['LIST'] ?? 0) > 0);
      if (bad.length > 0) throw new Error(`idle was not idle: ${bad.map((r) => fmtCounts(r.idle)).join('; ')}`);
      console.log('check: converged, rotated, and no writes and no LISTs at idle');
    }
  } finally {
    c.kube.close();
    await plane.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export async function churnBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { minutes: { type: 'string', default: '60' }, namespaces: { type: 'string', default: '200' } } });
  const minutes = Number(values.minutes);
  const N = Number(values.namespaces);
  build();
  const { plane, dir } = await startPlane();
  const c = await connect(plane);
  try {
    await populate(c, 0, 1, SOURCE_NAMES.slice(0, 3), 'base');
    const op = await startCompiledOperator(plane.kubeconfigPath);
    await sleep(5000);
    const end = performance.now() + minutes * 60_000;
    let round = 0;
    const report = async (): Promise<void> => {
      const last = op.samples[op.samples.length - 1];
      console.log(`round ${round}: ${((performance.now() - op.started) / 60_000).toFixed(1)} min, ${round * N} namespaces created and deleted, RSS ${mib(last?.rssKiB ?? 0)} MiB, peak ${mib(peak(op.samples))} MiB, ${await op.heap()}`);
    };
    console.log(`churn: ${N} namespaces created, then deleted, per round, for ${minutes} minutes; operator NODE_OPTIONS=${deploymentNodeOptions()}`);
    await report();
    while (performance.now() < end) {
      const names = Array.from({ length: N }, (_, i) => `churn-${round}-${i}`);
      await pool(names, FLOOR_CONCURRENCY, async (ns) => void (await c.core.createNamespace({ body: { metadata: { name: ns } } })));
      await sleep(10_000);
      await pool(names, FLOOR_CONCURRENCY, async (ns) => void (await c.core.deleteNamespace({ name: ns })));
      for (;;) {
        const left = (await listAll((o) => c.kube.listNamespaces(o))).filter((n) => n.metadata?.name?.startsWith(`churn-${round}-`)).length;
        if (left === 0) break;
        await sleep(1000);
      }
      round++;
      await report();
    }
    await op.stop();
  } finally {
    c.kube.close();
    await plane.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
