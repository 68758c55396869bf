/**
 * The only module that talks to the API server. Typed calls over client-node, errors mapped to
 * kinds the controller can act on, and one pooled keep-alive agent for every request.
 */
import https from 'node:https';
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  type KubeConfig,
  PatchStrategy,
  type V1Lease,
  type V1Namespace,
  type V1Secret,
  type V1ServiceAccount,
  Watch,
  createConfiguration,
  ServerConfiguration,
  setHeaderOptions,
} from '@kubernetes/client-node';
import type { PullSecretsChange } from '../domain/desired.js';
import { ADDED_ENTRIES_ANNOTATION } from '../domain/naming.js';
import type { SecretLike } from '../domain/types.js';

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
  | 'Network'
  | 'Other';

/** An API error with the kind the controller acts on. Its message never contains request bodies. */
export class KubeError extends Error {
  readonly kind: ErrorKind;
  readonly status: number | undefined;
  constructor(kind: ErrorKind, status: number | undefined, message: string) {
    super(message);
    this.name = 'KubeError';
    this.kind = kind;
    this.status = status;
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
  return (body ?? {}) as StatusBody;
}

/** Maps any error from client-node to a KubeError. */
export function toKubeError(err: unknown, what: string): KubeError {
  if (err instanceof KubeError) return err;
  if (err instanceof ApiException) {
    const code = err.code;
    const s = statusBody(err.body);
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
    return new KubeError(kind, code, msg);
  }
  const e = err as { code?: unknown; message?: unknown; statusCode?: unknown };
  if (typeof e?.statusCode === 'number') return new KubeError(e.statusCode === 410 ? 'Gone' : e.statusCode >= 500 ? 'ServerError' : 'Other', e.statusCode, `${what}: ${e.statusCode}`);
  return new KubeError('Network', undefined, `${what}: ${err instanceof Error ? err.message : String(err)}`);
}

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

/** The calls the operator makes. Tests substitute a wrapper for fault injection. */
export interface Kube {
  listNamespaces(): Promise<ListResult<V1Namespace>>;
  listSecrets(namespace: string | undefined, labelSelector?: string): Promise<ListResult<V1Secret>>;
  listServiceAccounts(): Promise<ListResult<V1ServiceAccount>>;
  getSecret(namespace: string, name: string): Promise<V1Secret | undefined>;
  createSecret(secret: SecretLike): Promise<void>;
  /** A PUT of the full object; its resourceVersion makes a concurrent change a Conflict. */
  replaceSecret(secret: SecretLike): Promise<void>;
  /** Deletes with a resourceVersion precondition when one is given. */
  deleteSecret(namespace: string, name: string, resourceVersion: string | undefined): Promise<void>;
  getServiceAccount(namespace: string, name: string): Promise<V1ServiceAccount | undefined>;
  /** Writes imagePullSecrets and our annotation, guarded by resourceVersion: a concurrent change gives Conflict. */
  patchServiceAccountPullSecrets(namespace: string, name: string, resourceVersion: string | undefined, change: PullSecretsChange): Promise<void>;
  createEvent(event: CoreEvent): Promise<void>;
  getLease(namespace: string, name: string): Promise<V1Lease | undefined>;
  createLease(lease: V1Lease): Promise<V1Lease>;
  replaceLease(lease: V1Lease): Promise<V1Lease>;
  /** Starts a watch; `done` is called once when it ends, with an error or null. */
  watch(path: string, query: Record<string, string | number | boolean>, onEvent: (type: string, obj: unknown) => void, done: (err: unknown) => void): Promise<{ abort(): void }>;
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

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/**
 * client-node builds a new https.Agent (so a new TCP and TLS connection) for every request.
 * This keeps the authentication it applies (tokens are re-read) but sends every request over
 * one keep-alive agent with the same TLS material.
 */
function pooledApi<T>(kc: KubeConfig, api: new (config: ReturnType<typeof createConfiguration>) => T, agent: https.Agent): T {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const config = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: {
      default: {
        getName: () => 'pooled',
        applySecurityAuthentication: async (ctx) => {
          await kc.applySecurityAuthentication(ctx);
          if (cluster.server.startsWith('https:') && !cluster.proxyUrl) ctx.setAgent(agent);
        },
      },
    },
  });
  return new api(config);
}

async function keepAliveAgent(kc: KubeConfig): Promise<https.Agent> {
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  return new https.Agent({
    ca: opts.ca,
    cert: opts.cert,
    key: opts.key,
    rejectUnauthorized: opts.rejectUnauthorized,
    servername: opts.servername,
    keepAlive: true,
    maxSockets: 32,
  });
}

/** The client-node implementation of Kube. */
export async function createKube(kc: KubeConfig, fieldManager = 'pullsecret-operator'): Promise<Kube & { close(): void }> {
  const agent = await keepAliveAgent(kc);
  const core = pooledApi(kc, CoreV1Api, agent);
  const coord = pooledApi(kc, CoordinationV1Api, agent);
  const watcher = new Watch(kc);
  const call = async <R>(what: string, fn: () => Promise<R>): Promise<R> => {
    try {
      return await fn();
    } catch (err) {
      throw toKubeError(err, what);
    }
  };
  const orUndefined = async <R>(what: string, fn: () => Promise<R>): Promise<R | undefined> => {
    try {
      return await call(what, fn);
    } catch (err) {
      if (err instanceof KubeError && err.kind === 'NotFound') return undefined;
      throw err;
    }
  };
  return {
    close: () => agent.destroy(),
    listNamespaces: () =>
      call('list namespaces', async () => {
        const l = await core.listNamespace({});
        return { items: l.items, resourceVersion: l.metadata?.resourceVersion ?? '' };
      }),
    listSecrets: (namespace, labelSelector) =>
      call(`list secrets${namespace ? ` in ${namespace}` : ''}`, async () => {
        const l = namespace
          ? await core.listNamespacedSecret({ namespace, labelSelector })
          : await core.listSecretForAllNamespaces({ labelSelector });
        return { items: l.items, resourceVersion: l.metadata?.resourceVersion ?? '' };
      }),
    listServiceAccounts: () =>
      call('list serviceaccounts', async () => {
        const l = await core.listServiceAccountForAllNamespaces({});
        return { items: l.items, resourceVersion: l.metadata?.resourceVersion ?? '' };
      }),
    getSecret: (namespace, name) => orUndefined(`get secret ${namespace}/${name}`, () => core.readNamespacedSecret({ namespace, name })),
    createSecret: async (secret) => {
      const ns = secret.metadata.namespace ?? '';
      await call(`create secret ${ns}/${secret.metadata.name}`, () =>
        core.createNamespacedSecret({ namespace: ns, body: secret as V1Secret, fieldManager }),
      );
    },
    replaceSecret: async (secret) => {
      const ns = secret.metadata.namespace ?? '';
      await call(`update secret ${ns}/${secret.metadata.name}`, () =>
        core.replaceNamespacedSecret({ namespace: ns, name: secret.metadata.name, body: secret as V1Secret, fieldManager }),
      );
    },
    deleteSecret: async (namespace, name, resourceVersion) => {
      await call(`delete secret ${namespace}/${name}`, () =>
        core.deleteNamespacedSecret({
          namespace,
          name,
          body: resourceVersion ? { preconditions: { resourceVersion } } : {},
        }),
      );
    },
    getServiceAccount: (namespace, name) => orUndefined(`get serviceaccount ${namespace}/${name}`, () => core.readNamespacedServiceAccount({ namespace, name })),
    patchServiceAccountPullSecrets: async (namespace, name, resourceVersion, change) => {
      // A JSON merge patch replaces the whole list, so it must carry the full desired list and the
      // resourceVersion it was computed from: the API server then rejects it with 409 if the
      // ServiceAccount changed in between, and no concurrent writer's entry is lost.
      const body = {
        metadata: { resourceVersion, annotations: { [ADDED_ENTRIES_ANNOTATION]: change.added } },
        imagePullSecrets: change.imagePullSecrets.length > 0 ? change.imagePullSecrets : null,
      };
      await call(`patch serviceaccount ${namespace}/${name}`, () =>
        core.patchNamespacedServiceAccount({ namespace, name, body, fieldManager }, mergePatch),
      );
    },
    createEvent: async (e) => {
      const name = `${e.involvedObject.name}.${e.time.getTime().toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`;
      await call(`create event in ${e.namespace}`, () =>
        core.createNamespacedEvent({
          namespace: e.namespace,
          body: {
            metadata: { name, namespace: e.namespace },
            involvedObject: e.involvedObject,
            type: e.type,
            reason: e.reason,
            message: e.message,
            firstTimestamp: e.time,
            lastTimestamp: e.time,
            count: 1,
            source: { component: 'pullsecret-operator' },
            reportingComponent: 'pullsecret-operator',
            reportingInstance: e.reportingInstance,
          },
        }),
      );
    },
    getLease: (namespace, name) => orUndefined(`get lease ${namespace}/${name}`, () => coord.readNamespacedLease({ namespace, name })),
    createLease: (lease) => call('create lease', () => coord.createNamespacedLease({ namespace: lease.metadata?.namespace ?? '', body: lease })),
    replaceLease: (lease) =>
      call('update lease', () => coord.replaceNamespacedLease({ namespace: lease.metadata?.namespace ?? '', name: lease.metadata?.name ?? '', body: lease })),
    watch: async (path, query, onEvent, done) => {
      const q: Record<string, string> = {};
      for (const [k, v] of Object.entries(query)) q[k] = String(v);
      const controller = await watcher.watch(path, q, (type, obj) => onEvent(type, obj), done);
      return { abort: () => controller.abort() };
    },
  };
}
