/**
 * The only module that talks to the API server: typed calls, errors mapped to kinds the controller
 * can act on, one pooled keep-alive agent for every request.
 *
 * Only client-node's KubeConfig is used at runtime, for the server address, TLS material and
 * authentication (tokens are re-read as client-node re-reads them). The generated API classes and
 * models are imported as types only: the requests are plain HTTPS calls of our own. Loading the
 * generated index costs some 60 MB of RSS before any cache exists (see docs/sizing.md), and
 * the bundle (npm run build) leaves it out because nothing here imports it at runtime.
 */
import https from 'node:https';
import http from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { KubeConfig, V1Lease, V1MutatingWebhookConfiguration, V1Namespace, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import type { JsonPatchOp, ServiceAccountMergePatch } from '../domain/patches.js';
import type { SecretLike } from '../domain/types.js';
import { type Clock, systemClock } from '../clock.js';
import { TokenBucket, parseRetryAfter } from './ratelimit.js';

export type ErrorKind =
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Forbidden'
  | 'NamespaceTerminating'
  | 'Gone'
  | 'Invalid'
  | 'TooManyRequests'
  | 'ServerError'
  | 'Timeout'
  | 'Network'
  | 'Other';

/** An API error with the kind the controller acts on. Its message never contains request bodies. */
export class KubeError extends Error {
  readonly kind: ErrorKind;
  /** The HTTP status, when the server answered (a watch's caller tests it for 410: relist). */
  readonly statusCode: number | undefined;
  /** How long the server asked us to wait before retrying (a 429 or 503's Retry-After), in ms. */
  readonly retryAfterMs: number | undefined;
  constructor(kind: ErrorKind, statusCode: number | undefined, message: string, retryAfterMs?: number) {
    super(message);
    this.name = 'KubeError';
    this.kind = kind;
    this.statusCode = statusCode;
    this.retryAfterMs = retryAfterMs;
  }
}

interface StatusBody {
  reason?: string;
  message?: string;
  details?: { causes?: { reason?: string; type?: string }[] };
}

function statusBody(body: unknown): StatusBody {
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as StatusBody;
    } catch {
      return { message: body.slice(0, 200) };
    }
  }
  return (body ?? {});
}

/** The KubeError of an API answer with status `code` and body `body` (a metav1.Status, usually). */
export function statusError(code: number, body: unknown, what: string, retryAfterMs?: number): KubeError {
  const s = statusBody(body);
  const msg = `${what}: ${code} ${s.reason ?? ''}${s.message ? `: ${s.message}` : ''}`;
  const causes = s.details?.causes ?? [];
  let kind: ErrorKind = 'Other';
  if (code === 404) kind = 'NotFound';
  else if (code === 409) kind = s.reason === 'AlreadyExists' ? 'AlreadyExists' : 'Conflict';
  else if (code === 403) {
    const terminating = causes.some((c) => c.type === 'NamespaceTerminating' || c.reason === 'NamespaceTerminating') || /being terminated/.test(s.message ?? '');
    kind = terminating ? 'NamespaceTerminating' : 'Forbidden';
  } else if (code === 410) kind = 'Gone';
  else if (code === 422) kind = 'Invalid';
  else if (code === 429) kind = 'TooManyRequests';
  else if (code >= 500) kind = 'ServerError';
  return new KubeError(kind, code, msg, retryAfterMs);
}

/** The Retry-After of an answer, honoured for 429 and 503 (client-go does the same). An HTTP date is read against the wall clock. */
function retryAfterOf(code: number, headers: IncomingHttpHeaders, clock: Pick<Clock, 'now'>): number | undefined {
  return code === 429 || code === 503 ? parseRetryAfter(headers['retry-after'], clock.now()) : undefined;
}

/** Maps any error of a call to a KubeError. */
export function toKubeError(err: unknown, what: string): KubeError {
  if (err instanceof KubeError) return err;
  const e = err as { code?: unknown; body?: unknown; statusCode?: unknown } | null;
  // client-node's ApiException (code + body), for callers that still use its API classes.
  if (typeof e?.code === 'number' && 'body' in (e ?? {})) return statusError(e.code, e.body, what);
  if (typeof e?.statusCode === 'number') return statusError(e.statusCode, undefined, what);
  return new KubeError('Network', undefined, `${what}: ${err instanceof Error ? err.message : String(err)}`);
}

export interface ListOptions {
  labelSelector?: string;
  /** Page size; the answer carries `continue` when there is more. */
  limit?: number;
  continue?: string;
  /** "0": any recent state (the API server's watch cache); unset: the latest (a consistent read). */
  resourceVersion?: string;
}

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
  /** The token of the next page, if any. */
  continue?: string;
}

/** The calls the operator makes. Tests substitute a wrapper for fault injection. */
export interface Kube {
  listNamespaces(opts?: ListOptions): Promise<ListResult<V1Namespace>>;
  listSecrets(namespace: string | undefined, opts?: ListOptions): Promise<ListResult<V1Secret>>;
  listServiceAccounts(opts?: ListOptions): Promise<ListResult<V1ServiceAccount>>;
  getSecret(namespace: string, name: string): Promise<V1Secret | undefined>;
  createSecret(secret: SecretLike): Promise<void>;
  /** A PUT of the full object; its resourceVersion makes a concurrent change a Conflict. */
  replaceSecret(secret: SecretLike): Promise<void>;
  /** Deletes with a resourceVersion precondition when one is given. */
  deleteSecret(namespace: string, name: string, resourceVersion: string | undefined): Promise<void>;
  getServiceAccount(namespace: string, name: string): Promise<V1ServiceAccount | undefined>;
  /** A JSON merge patch (src/domain/patches.ts builds it; the resourceVersion it carries makes a concurrent change a Conflict). */
  patchServiceAccount(namespace: string, name: string, patch: ServiceAccountMergePatch): Promise<void>;
  createEvent(event: CoreEvent): Promise<void>;
  /** Lease requests travel on connections of their own (LEASE_SOCKETS), never queued behind other requests. */
  getLease(namespace: string, name: string): Promise<V1Lease | undefined>;
  createLease(lease: V1Lease): Promise<V1Lease>;
  replaceLease(lease: V1Lease): Promise<V1Lease>;
  /**
   * Starts a watch; `onEvent` gets each event's type and object as sent; `done` is called once
   * when it ends, with an error (a KubeError whose statusCode is the HTTP status when the server
   * refused it) or null.
   */
  watch(path: string, query: Record<string, string | number | boolean>, onEvent: (type: string, obj: unknown) => void, done: (err: unknown) => void): Promise<{ abort(): void }>;

  // The admission webhook (src/webhook/): its live read of a namespace not yet in the cache, and
  // the MutatingWebhookConfiguration whose caBundle it keeps current.
  getNamespace(name: string): Promise<V1Namespace | undefined>;
  getMutatingWebhookConfiguration(name: string): Promise<V1MutatingWebhookConfiguration | undefined>;
  /** Only with --webhook-url (an out-of-cluster run registers the webhook itself); the manifests ship it. */
  createMutatingWebhookConfiguration(mwc: V1MutatingWebhookConfiguration): Promise<V1MutatingWebhookConfiguration>;
  /** A PUT guarded by the resourceVersion it carries. */
  replaceMutatingWebhookConfiguration(mwc: V1MutatingWebhookConfiguration): Promise<V1MutatingWebhookConfiguration>;
  /** A JSON patch (with `test` ops, so that it applies only to the state it was computed from). */
  patchMutatingWebhookConfiguration(name: string, ops: readonly (JsonPatchOp | { op: 'test'; path: string; value: unknown })[]): Promise<void>;

  // The credential check's results (src/registry/run.ts, src/status.ts): the ConfigMap the leader writes and status reads.
  getConfigMap(namespace: string, name: string): Promise<{ data?: Record<string, string> } | undefined>;
  /**
   * A server-side apply (force, field manager pullsecret-operator): creates or replaces the data in
   * one PATCH by name, so RBAC can limit it to that name (an apply that creates is authorized as a
   * create of that name).
   */
  applyConfigMap(namespace: string, name: string, labels: Record<string, string>, data: Record<string, string>): Promise<void>;
}

export interface CoreEvent {
  namespace: string;
  involvedObject: { kind: string; namespace?: string; name: string; uid?: string; apiVersion: string };
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  reportingInstance: string;
  time: Date;
}

/** Sockets of the keep-alive pool: requests beyond this wait for a free socket. */
export const MAX_SOCKETS = 32;
/**
 * Sockets of the Lease lane: leader election's requests have a keep-alive pool of their own, so a
 * renewal never waits for a free socket behind a cold start's thousands of writes (client-go gives
 * leader election a client of its own for the same reason). The elector makes one request at a time.
 */
export const LEASE_SOCKETS = 2;

/**
 * Deadlines and the client-side rate limit. Every request has a deadline that covers connecting,
 * the TLS handshake, the response headers and the body: a black-holed connection (one that accepts
 * and never answers) fails the request instead of hanging it, and its socket is destroyed, never
 * handed back to the keep-alive pool.
 */
export interface ClientOptions {
  fieldManager?: string;
  /** Sent as User-Agent; the API server's audit log records it. */
  userAgent?: string;
  /** GETs, writes and Events. Default 15 s. */
  requestTimeoutMs?: number;
  /** One page of a paged LIST. Default 60 s. */
  listTimeoutMs?: number;
  /** Lease requests: well within the renew deadline (client-go uses half of it). Default 5 s. */
  leaseTimeoutMs?: number;
  /** Until a watch's response headers arrive. Default: requestTimeoutMs. */
  watchConnectTimeoutMs?: number;
  /**
   * Client-side token bucket over every request but Lease requests and watches: `qps` <= 0 turns it
   * off. It is a guard against runaway loops; priority and fairness protects the API server.
   */
  qps?: number;
  burst?: number;
  /** Deadlines, the token bucket and the reuse of authentication headers. Default: the system clock. */
  clock?: Clock;
}

export const CLIENT_DEFAULTS = Object.freeze({
  requestTimeoutMs: 15_000,
  listTimeoutMs: 60_000,
  leaseTimeoutMs: 5_000,
});
/** How long the authentication headers (a token re-read from its file) are reused. */
const AUTH_TTL_MS = 10_000;

interface Transport {
  server: URL;
  /** Requests: MAX_SOCKETS keep-alive sockets. */
  agent: http.Agent;
  /** Lease requests: LEASE_SOCKETS keep-alive sockets of their own. */
  leaseAgent: http.Agent;
  /** Watches: a socket each, kept out of the request pool so they never hold a request's place. */
  watchAgent: http.Agent;
  request: typeof https.request;
  headers(): Promise<Record<string, string>>;
  bucket: TokenBucket;
  clock: Clock;
}

async function transport(kc: KubeConfig, userAgent: string, bucket: TokenBucket, clock: Clock): Promise<Transport> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const server = new URL(cluster.server);
  const base: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(base);
  const secure = server.protocol === 'https:';
  const makeAgent = (maxSockets: number, keepAlive: boolean): http.Agent => secure
    ? new https.Agent({
        ca: base.ca,
        cert: base.cert,
        key: base.key,
        pfx: base.pfx,
        passphrase: base.passphrase,
        rejectUnauthorized: base.rejectUnauthorized,
        servername: base.servername,
        keepAlive,
        maxSockets,
        scheduling: 'lifo',
      })
    : new http.Agent({ keepAlive, maxSockets });
  const agent = makeAgent(MAX_SOCKETS, true);
  const leaseAgent = makeAgent(LEASE_SOCKETS, true);
  const watchAgent = makeAgent(Infinity, false);
  let cached: { at: number; headers: Record<string, string> } | undefined;
  const headers = async (): Promise<Record<string, string>> => {
    // Monotonic: a step of the wall clock must not keep a rotated token's headers for an hour.
    if (cached && clock.monotonic() - cached.at < AUTH_TTL_MS) return cached.headers;
    const opts: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    const out: Record<string, string> = { 'User-Agent': userAgent };
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : String(v);
    if (opts.auth) out['Authorization'] = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    cached = { at: clock.monotonic(), headers: out };
    return out;
  };
  return { server, agent, leaseAgent, watchAgent, request: (secure ? https.request : http.request), headers, bucket, clock };
}

function queryString(q: Record<string, string | number | boolean | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** RBAC verbs of the requests the operator makes, and their HTTP methods. */
const METHOD = { list: 'GET', get: 'GET', create: 'POST', update: 'PUT', patch: 'PATCH', delete: 'DELETE' } as const;

interface Route {
  method: string;
  path: string;
}

/**
 * The method and path of a request, from its RBAC verb, API group and resource. Every request of
 * this module goes through route() with its verb, group and resource written as literals, which is
 * how test/integration/rbac.test.ts derives the grants the code needs.
 */
function route(r: { verb: keyof typeof METHOD; group: '' | 'coordination.k8s.io' | 'admissionregistration.k8s.io'; resource: string; namespace?: string | undefined; name?: string | undefined }): Route {
  let path = r.group === '' ? '/api/v1' : `/apis/${r.group}/v1`;
  if (r.namespace) path += `/namespaces/${encodeURIComponent(r.namespace)}`;
  path += `/${r.resource}`;
  if (r.name !== undefined) path += `/${encodeURIComponent(r.name)}`;
  return { method: METHOD[r.verb], path };
}

interface SendOptions {
  timeoutMs: number;
  /** Through the token bucket (every request but Lease ones). */
  limited: boolean;
  /** The Lease lane (Transport.leaseAgent) instead of the shared pool. */
  lease?: boolean;
}

/**
 * One request; resolves with the parsed JSON body of a 2xx answer, rejects with a KubeError. The
 * deadline runs from before the bucket's wait is over to the last byte of the body; on expiry the
 * request and its socket are destroyed.
 */
async function send<R>(t: Transport, r: Route, query: string, what: string, o: SendOptions, body?: unknown, contentType = 'application/json'): Promise<R> {
  if (o.limited) await t.bucket.take();
  const auth = await t.headers();
  return new Promise<R>((resolve, reject) => {
    let settled = false;
    const settle = (err: KubeError | undefined, value?: R): void => {
      if (settled) return;
      settled = true;
      t.clock.clearTimeout(timer);
      if (err) reject(err);
      else resolve(value as R);
    };
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = t.request(
      new URL(`${r.path}${query}`, t.server),
      {
        method: r.method,
        agent: o.lease ? t.leaseAgent : t.agent,
        headers: { ...auth, Accept: 'application/json', ...(payload ? { 'Content-Type': contentType, 'Content-Length': payload.length } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => settle(toKubeError(err, what)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) {
            try {
              settle(undefined, (text ? JSON.parse(text) : {}) as R);
            } catch (err) {
              settle(toKubeError(err, what));
            }
          } else settle(statusError(code, text, what, retryAfterOf(code, res.headers, t.clock)));
        });
      },
    );
    const timer = t.clock.setTimeout(() => {
      settle(new KubeError('Timeout', undefined, `${what}: no answer within ${o.timeoutMs} ms`));
      // Destroying the request destroys its socket: a timed-out connection never goes back to the pool.
      req.destroy();
    }, o.timeoutMs);
    req.on('error', (err) => settle(toKubeError(err, what)));
    req.end(payload);
  });
}

interface WireList<T> {
  items?: T[] | null;
  metadata?: { resourceVersion?: string; continue?: string };
}

/** What every group of calls shares: the transport and the options of each kind of request. */
interface Calls {
  t: Transport;
  /** GETs, writes and Events. */
  req: SendOptions;
  /** One page of a LIST. */
  page: SendOptions;
  /** Lease requests, on their own lane. */
  lease: SendOptions;
  /** The fieldManager query of writes. */
  fm: string;
  /** The fieldManager query of server-side applies (force: the operator owns what it applies). */
  apply: string;
}

/** The HTTPS implementation of Kube: the calls of each API group, on one transport. */
export async function createKube(kc: KubeConfig, options: ClientOptions = {}): Promise<Kube & { close(): void }> {
  const requestTimeoutMs = options.requestTimeoutMs ?? CLIENT_DEFAULTS.requestTimeoutMs;
  const clock = options.clock ?? systemClock;
  const t = await transport(kc, options.userAgent ?? 'pullsecret-operator', new TokenBucket(options.qps ?? 0, options.burst ?? 1, clock), clock);
  const c: Calls = {
    t,
    req: { timeoutMs: requestTimeoutMs, limited: true },
    page: { timeoutMs: options.listTimeoutMs ?? CLIENT_DEFAULTS.listTimeoutMs, limited: true },
    lease: { timeoutMs: options.leaseTimeoutMs ?? CLIENT_DEFAULTS.leaseTimeoutMs, limited: false, lease: true },
    fm: queryString({ fieldManager: options.fieldManager ?? 'pullsecret-operator' }),
    apply: queryString({ fieldManager: options.fieldManager ?? 'pullsecret-operator', force: true }),
  };
  const watchConnectTimeoutMs = options.watchConnectTimeoutMs ?? requestTimeoutMs;
  return {
    close: () => (t.agent.destroy(), t.leaseAgent.destroy(), t.watchAgent.destroy()),
    ...coreCalls(c),
    ...leaseCalls(c),
    ...admissionCalls(c),
    ...configMapCalls(c),
    watch: (path, query, onEvent, done) => watch(t, path, query, onEvent, done, watchConnectTimeoutMs),
  };
}

async function list<T>(c: Calls, r: Route, what: string, opts: ListOptions = {}): Promise<ListResult<T>> {
  const q = queryString({ labelSelector: opts.labelSelector, limit: opts.limit, continue: opts.continue, resourceVersion: opts.continue ? undefined : opts.resourceVersion });
  const l = await send<WireList<T>>(c.t, r, q, what, c.page);
  const out: ListResult<T> = { items: l.items ?? [], resourceVersion: l.metadata?.resourceVersion ?? '' };
  if (l.metadata?.continue) out.continue = l.metadata.continue;
  return out;
}

/** `p`'s value, or undefined for a 404. */
async function orUndefined<R>(p: Promise<R>): Promise<R | undefined> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof KubeError && err.kind === 'NotFound') return undefined;
    throw err;
  }
}

const secretBody = (s: SecretLike): unknown => ({ apiVersion: 'v1', kind: 'Secret', ...s });

/** Namespaces, Secrets, ServiceAccounts and Events (the core group). */
function coreCalls(c: Calls): Pick<Kube, 'listNamespaces' | 'listSecrets' | 'listServiceAccounts' | 'getSecret' | 'createSecret' | 'replaceSecret' | 'deleteSecret' | 'getServiceAccount' | 'patchServiceAccount' | 'createEvent' | 'getNamespace'> {
  const { t, req, fm } = c;
  return {
    listNamespaces: (opts) => list<V1Namespace>(c, route({ verb: 'list', group: '', resource: 'namespaces' }), 'list namespaces', opts),
    listSecrets: (namespace, opts) => list<V1Secret>(c, route({ verb: 'list', group: '', resource: 'secrets', namespace }), `list secrets${namespace ? ` in ${namespace}` : ''}`, opts),
    listServiceAccounts: (opts) => list<V1ServiceAccount>(c, route({ verb: 'list', group: '', resource: 'serviceaccounts' }), 'list serviceaccounts', opts),
    getSecret: (namespace, name) => orUndefined(send<V1Secret>(t, route({ verb: 'get', group: '', resource: 'secrets', namespace, name }), '', `get secret ${namespace}/${name}`, req)),
    createSecret: async (s) => {
      const { namespace } = s.metadata;
      await send(t, route({ verb: 'create', group: '', resource: 'secrets', namespace }), fm, `create secret ${namespace}/${s.metadata.name}`, req, secretBody(s));
    },
    replaceSecret: async (s) => {
      const { namespace } = s.metadata;
      await send(t, route({ verb: 'update', group: '', resource: 'secrets', namespace, name: s.metadata.name }), fm, `update secret ${namespace}/${s.metadata.name}`, req, secretBody(s));
    },
    deleteSecret: async (namespace, name, resourceVersion) => {
      const body = { apiVersion: 'v1', kind: 'DeleteOptions', ...(resourceVersion ? { preconditions: { resourceVersion } } : {}) };
      await send(t, route({ verb: 'delete', group: '', resource: 'secrets', namespace, name }), '', `delete secret ${namespace}/${name}`, req, body);
    },
    getServiceAccount: (namespace, name) =>
      orUndefined(send<V1ServiceAccount>(t, route({ verb: 'get', group: '', resource: 'serviceaccounts', namespace, name }), '', `get serviceaccount ${namespace}/${name}`, req)),
    patchServiceAccount: async (namespace, name, patch) => {
      await send(t, route({ verb: 'patch', group: '', resource: 'serviceaccounts', namespace, name }), fm, `patch serviceaccount ${namespace}/${name}`, req, patch, 'application/merge-patch+json');
    },
    createEvent: async (e) => {
      const name = `${e.involvedObject.name}.${e.time.getTime().toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`;
      await send(t, route({ verb: 'create', group: '', resource: 'events', namespace: e.namespace }), '', `create event in ${e.namespace}`, req, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace: e.namespace },
        involvedObject: e.involvedObject,
        type: e.type,
        reason: e.reason,
        message: e.message,
        firstTimestamp: e.time.toISOString(),
        lastTimestamp: e.time.toISOString(),
        count: 1,
        source: { component: 'pullsecret-operator' },
        reportingComponent: 'pullsecret-operator',
        reportingInstance: e.reportingInstance,
      });
    },
    getNamespace: (name) => orUndefined(send<V1Namespace>(t, route({ verb: 'get', group: '', resource: 'namespaces', name }), '', `get namespace ${name}`, req)),
  };
}

const leaseBody = (l: V1Lease): unknown => ({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', ...l });

/** Leases (leader election), on the Lease lane. */
function leaseCalls(c: Calls): Pick<Kube, 'getLease' | 'createLease' | 'replaceLease'> {
  const { t } = c;
  return {
    getLease: (namespace, name) => orUndefined(send<V1Lease>(t, route({ verb: 'get', group: 'coordination.k8s.io', resource: 'leases', namespace, name }), '', `get lease ${namespace}/${name}`, c.lease)),
    createLease: (lease) => send<V1Lease>(t, route({ verb: 'create', group: 'coordination.k8s.io', resource: 'leases', namespace: lease.metadata?.namespace }), '', 'create lease', c.lease, leaseBody(lease)),
    replaceLease: (lease) =>
      send<V1Lease>(t, route({ verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: lease.metadata?.namespace, name: lease.metadata?.name ?? '' }), '', 'update lease', c.lease, leaseBody(lease)),
  };
}

const mwcBody = (m: V1MutatingWebhookConfiguration): unknown => ({ ...m, apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration' });

/** The MutatingWebhookConfiguration (the admission webhook's caBundle, and its registration with --webhook-url). */
function admissionCalls(c: Calls): Pick<Kube, 'getMutatingWebhookConfiguration' | 'createMutatingWebhookConfiguration' | 'replaceMutatingWebhookConfiguration' | 'patchMutatingWebhookConfiguration'> {
  const { t, req, fm } = c;
  return {
    getMutatingWebhookConfiguration: (name) =>
      orUndefined(send<V1MutatingWebhookConfiguration>(t, route({ verb: 'get', group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', name }), '', `get mutatingwebhookconfiguration ${name}`, req)),
    createMutatingWebhookConfiguration: (mwc) =>
      send<V1MutatingWebhookConfiguration>(t, route({ verb: 'create', group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations' }), fm, 'create mutatingwebhookconfiguration', req, mwcBody(mwc)),
    replaceMutatingWebhookConfiguration: (mwc) =>
      send<V1MutatingWebhookConfiguration>(
        t,
        route({ verb: 'update', group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', name: mwc.metadata?.name ?? '' }),
        fm,
        `update mutatingwebhookconfiguration ${mwc.metadata?.name ?? ''}`,
        req,
        mwcBody(mwc),
      ),
    patchMutatingWebhookConfiguration: async (name, ops) => {
      await send(t, route({ verb: 'patch', group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', name }), fm, `patch mutatingwebhookconfiguration ${name}`, req, ops, 'application/json-patch+json');
    },
  };
}

/** The ConfigMap of the credential check's results (src/registry/run.ts writes it, src/status.ts reads it). */
function configMapCalls(c: Calls): Pick<Kube, 'getConfigMap' | 'applyConfigMap'> {
  const { t, req } = c;
  return {
    getConfigMap: (namespace, name) => orUndefined(send<{ data?: Record<string, string> }>(t, route({ verb: 'get', group: '', resource: 'configmaps', namespace, name }), '', `get configmap ${namespace}/${name}`, req)),
    applyConfigMap: async (namespace, name, labels, data) => {
      const body = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, labels }, data };
      await send(t, route({ verb: 'patch', group: '', resource: 'configmaps', namespace, name }), c.apply, `apply configmap ${namespace}/${name}`, req, body, 'application/apply-patch+yaml');
    },
  };
}

/** A watch: newline-delimited JSON events over one long GET. */
async function watch(
  t: Transport,
  path: string,
  query: Record<string, string | number | boolean>,
  onEvent: (type: string, obj: unknown) => void,
  done: (err: unknown) => void,
  connectTimeoutMs: number,
): Promise<{ abort(): void }> {
  const auth = await t.headers();
  let finished = false;
  const finish = (err: unknown): void => {
    if (finished) return;
    finished = true;
    t.clock.clearTimeout(connecting);
    done(err);
  };
  const req = t.request(new URL(`${path}${queryString({ ...query, watch: true })}`, t.server), { method: 'GET', agent: t.watchAgent, headers: { ...auth, Accept: 'application/json' } }, (res) => {
    t.clock.clearTimeout(connecting);
    const code = res.statusCode ?? 0;
    if (code !== 200) {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => finish(statusError(code, Buffer.concat(chunks).toString('utf8'), `watch ${path}`, retryAfterOf(code, res.headers, t.clock))));
      res.on('error', (err) => finish(err));
      return;
    }
    readEvents(res, onEvent, (err) => {
      req.destroy();
      finish(err);
    });
    res.on('end', () => finish(null));
    res.on('error', (err) => finish(err));
    res.on('close', () => finish(null));
  });
  // Connecting, the TLS handshake and the response headers have a deadline; after them, the
  // informer's liveness timer judges the stream (bookmarks arrive about once a minute).
  const connecting = t.clock.setTimeout(() => {
    req.destroy();
    finish(new KubeError('Timeout', undefined, `watch ${path}: no answer within ${connectTimeoutMs} ms`));
  }, connectTimeoutMs);
  req.on('error', (err) => finish(err));
  req.end();
  return {
    abort: () => {
      req.destroy();
      finish(null);
    },
  };
}

/**
 * Hands each line of a watch's body to `onEvent` as (type, object). A line that does not parse,
 * or an `onEvent` that throws, ends the stream: `fail` is called once and nothing more is read.
 */
function readEvents(res: http.IncomingMessage, onEvent: (type: string, obj: unknown) => void, fail: (err: unknown) => void): void {
  res.setEncoding('utf8');
  let partial = '';
  let failed = false;
  res.on('data', (chunk: string) => {
    partial += chunk;
    let nl: number;
    while (!failed && (nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      if (line.trim() === '') continue;
      try {
        const ev = JSON.parse(line) as { type?: string; object?: unknown };
        onEvent(ev.type ?? '', ev.object);
      } catch (err) {
        failed = true;
        fail(err);
      }
    }
  });
}
