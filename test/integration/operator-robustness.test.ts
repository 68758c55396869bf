/**
 * Issue behaviour 10: supervised informers, retries with backoff, final errors, conflicts,
 * 410 from the real API server, and SIGTERM. Faults are injected by wrapping the real client:
 * every call still reaches the real API server unless the test makes it fail.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Namespace, V1ServiceAccount } from '@kubernetes/client-node';
import { Operator } from '../../src/controller/operator.js';
import { pullSecretsMergePatch } from '../../src/domain/patches.js';
import { parseSelector } from '../../src/domain/selector.js';
import { DEFAULT_REGISTRY_HOSTS } from '../../src/domain/sources.js';
import { KubeError, type Kube, createKube } from '../../src/kube/client.js';
import { systemClock } from '../../src/clock.js';
import { createLogger } from '../../src/log.js';
import { Scenario, fixtureCopies, mergePatch, orUndefined } from '../harness/scenario.js';
import type { LogLine } from '../harness/operator.js';

/** Faults to inject; each counter is consumed by the calls it fails. */
interface Faults {
  failWatches: number;
  failNamespaceLists: number;
  /**
   * Errors for the next creates of secrets with this name. Keyed by name because a reconcile writes
   * a namespace's copies at once: a list of errors for any create would all land in one reconcile.
   */
  createSecretErrors: { name: string; errors: KubeError[] };
  /** The next watch of this path starts from a long-compacted resourceVersion. */
  staleWatchPath: string | undefined;
  /** Namespaces whose deletionTimestamp/phase the operator must not see. */
  hideTerminating: Set<string>;
  /** Before the next patch of this ServiceAccount, another writer changes it. */
  raceServiceAccount: { namespace: string; name: string; entry: string } | undefined;
}

function faulty(real: Kube, f: Faults, direct: Kube): Kube {
  const unterminate = (ns: V1Namespace): V1Namespace =>
    f.hideTerminating.has(ns.metadata?.name ?? '') ? { ...ns, metadata: { ...ns.metadata, deletionTimestamp: undefined }, status: { phase: 'Active' } } : ns;
  return {
    ...real,
    listNamespaces: async () => {
      if (f.failNamespaceLists > 0) {
        f.failNamespaceLists--;
        throw new KubeError('ServerError', 500, 'injected: list namespaces 500');
      }
      const r = await real.listNamespaces();
      return { ...r, items: r.items.map(unterminate) };
    },
    watch: async (path, query, onEvent, done) => {
      if (f.failWatches > 0) {
        f.failWatches--;
        setImmediate(() => done(new Error('injected: connection reset')));
        return { abort: () => undefined };
      }
      const q = { ...query };
      if (f.staleWatchPath === path) {
        f.staleWatchPath = undefined;
        q['resourceVersion'] = '1';
      }
      return real.watch(path, q, (type, obj) => onEvent(type, path === '/api/v1/namespaces' && type !== 'ERROR' ? unterminate(obj as V1Namespace) : obj), done);
    },
    createSecret: async (secret) => {
      const err = secret.metadata.name === f.createSecretErrors.name ? f.createSecretErrors.errors.shift() : undefined;
      if (err) throw err;
      return real.createSecret(secret);
    },
    patchServiceAccount: async (namespace, name, patch) => {
      const race = f.raceServiceAccount;
      if (race && race.namespace === namespace && race.name === name) {
        f.raceServiceAccount = undefined;
        const sa = (await direct.getServiceAccount(namespace, name)) as V1ServiceAccount;
        await direct.patchServiceAccount(namespace, name, pullSecretsMergePatch({
          imagePullSecrets: [...(sa.imagePullSecrets ?? []), { name: race.entry }],
          added: sa.metadata?.annotations?.['pullsecret-operator.io/added-pull-secrets'] ?? null,
        }, sa.metadata?.resourceVersion));
      }
      return real.patchServiceAccount(namespace, name, patch);
    },
  };
}

/** True when a watch of namespaces from resourceVersion 1 is answered with 410 Gone. */
function watchIsGone(kube: Kube): Promise<boolean> {
  return new Promise((resolve) => {
    let handle: { abort(): void } | undefined;
    let settled = false;
    const finish = (v: boolean): void => {
      if (settled) return;
      settled = true;
      handle?.abort();
      resolve(v);
    };
    void kube
      .watch('/api/v1/namespaces', { resourceVersion: '1', timeoutSeconds: 1 }, (type, obj) => finish(type === 'ERROR' && (obj as { code?: number }).code === 410), (err) => finish((err as { statusCode?: number } | null)?.statusCode === 410))
      .then((h) => {
        handle = h;
        if (settled) h.abort();
      });
  });
}

describe('robustness (in-process operator, injected faults, real API server)', () => {
  const s = new Scenario('robust');
  const faults: Faults = { failWatches: 0, failNamespaceLists: 0, createSecretErrors: { name: '', errors: [] }, staleWatchPath: undefined, hideTerminating: new Set(), raceServiceAccount: undefined };
  const logs: LogLine[] = [];
  let operator: Operator;
  let close: () => void = () => undefined;

  before(async () => {
    await s.setUp();
    const real = await createKube(s.kc);
    const direct = await createKube(s.kc);
    close = () => (real.close(), direct.close());
    const stream = new PassThrough();
    stream.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line) as LogLine);
    });
    // The first list of namespaces and the first two watches fail: start-up itself must recover.
    faults.failNamespaceLists = 2;
    faults.failWatches = 2;
    operator = new Operator({
      kube: faulty(real, faults, direct),
      policy: {
        sourceNamespace: s.source,
        registryHosts: DEFAULT_REGISTRY_HOSTS,
        excludeNamespaces: [],
        namespaceSelector: parseSelector(s.label),
        serviceAccounts: 'all',
        orphanGraceMs: 600_000,
        maxSourceBytes: 16 * 1024,
      },
      logger: createLogger('debug', stream),
      clock: systemClock,
      dryRun: false,
      workers: 4,
      resyncPeriodMs: 3_600_000,
      identity: 'test',
      informer: { backoffBaseMs: 20, backoffMaxMs: 200 },
    });
    operator.startInformers();
    await operator.waitForSync();
    operator.startWorking();
  });

  after(async () => {
    await operator.stop();
    close();
    await s.tearDown();
  });

  it('restarts informers after list and watch errors, with backoff, and keeps reconciling', async () => {
    const restarts = operator.informerStats().reduce((n, i) => n + i.restarts, 0);
    assert.ok(restarts >= 4, `expected the 4 injected failures to restart informers, saw ${restarts}`);
    assert.ok(logs.some((l) => l.message === 'watch failed; restarting'));
    faults.failWatches = 3; // and again, while running: the next watch restarts fail too
    for (const inf of Object.values(operator.caches)) inf.relist();
    const ns = await s.namespace('after-errors');
    await s.waitFor('copies', async () => (await s.copies(ns)).length === fixtureCopies(ns).length);
  });

  it('survives a throwing event handler: the informer keeps running and the process does not crash', async () => {
    operator.caches.namespaces.on(() => {
      throw new Error('handler bug');
    });
    const ns = await s.namespace('handler-throws');
    await s.waitFor('copies', async () => (await s.copies(ns)).length === fixtureCopies(ns).length);
    assert.ok(logs.some((l) => l.message === 'event handler failed' && l['error'] === 'handler bug'));
  });

  it('relists after the real API server answers a watch with 410 Gone', async () => {
    // The harness compacts etcd every 10 s; wait until resourceVersion 1 is compacted away.
    const direct = await createKube(s.kc);
    try {
      await s.waitFor('resourceVersion 1 to be compacted', () => watchIsGone(direct), 40000);
    } finally {
      direct.close();
    }
    faults.staleWatchPath = '/api/v1/namespaces';
    operator.caches.namespaces.relist();
    await s.waitFor('a watch-expired relist', async () => logs.some((l) => l.message === 'watch expired; relisting' && l['informer'] === 'namespaces'));
    const ns = await s.namespace('after-410');
    await s.waitFor('copies', async () => (await s.copies(ns)).length === fixtureCopies(ns).length);
  });

  it('retries 429 and 5xx responses with per-key backoff until the writes succeed', async () => {
    faults.createSecretErrors = {
      name: 'all-icr-io',
      errors: [new KubeError('TooManyRequests', 429, 'injected: 429'), new KubeError('TooManyRequests', 429, 'injected: 429'), new KubeError('ServerError', 503, 'injected: 503')],
    };
    const ns = await s.namespace('throttled');
    await s.waitFor('copies despite 429/503', async () => (await s.copies(ns)).length === fixtureCopies(ns).length);
    const failures = logs.filter((l) => l.message === 'reconcile failed; retrying with backoff' && l['namespace'] === ns);
    assert.equal(failures.length, 3);
    assert.deepEqual(failures.map((l) => l['retries']), [1, 2, 3], 'the per-key failure count grows: backoff 5, 10, 20 ms');
  });

  it('re-reads and retries on a 409 from the API server, and keeps the concurrent writer\'s entry', async () => {
    // Armed before the namespace exists: the operator patches a new default ServiceAccount within milliseconds.
    faults.raceServiceAccount = { namespace: `${s.id}-race`, name: 'default', entry: 'written-meanwhile' };
    const ns = await s.namespace('race');
    const names = await s.waitFor('SA patched', async () => {
      const n = await s.pullSecretNames(ns);
      return n.length === fixtureCopies(ns).length + 1 && n;
    });
    assert.ok(names.includes('written-meanwhile'));
    assert.ok(logs.some((l) => l.message === 'serviceaccount changed meanwhile; reading it again' && l['namespace'] === ns), 'a real 409 was seen and retried');
  });

  it('takes "namespace is being terminated" from the API server as final, without retries', async () => {
    const ns = await s.namespace('terminating');
    await s.waitFor('copies', async () => (await s.copies(ns)).length > 0);
    await s.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'hold', finalizers: ['pso.test/hold'] } } });
    try {
      // The operator's view will say Active, so it tries to write; the API server refuses.
      faults.hideTerminating.add(ns);
      await s.core.deleteNamespace({ name: ns });
      await s.waitFor('terminating', async () => (await s.core.readNamespace({ name: ns })).status?.phase === 'Terminating');
      await s.waitFor('the namespace controller to empty it', async () => (await s.copies(ns)).length === 0, 30000);
      operator.queue.add(ns);
      await s.waitFor('the final outcome', async () => logs.some((l) => l.message === 'namespace is terminating; nothing more to do' && l['namespace'] === ns));
      await sleep(300);
      assert.equal(operator.queue.numRequeues(ns), 0, 'not requeued');
      assert.equal(logs.filter((l) => l.message === 'reconcile failed; retrying with backoff' && l['namespace'] === ns).length, 0);
    } finally {
      await s.core.patchNamespacedConfigMap({ namespace: ns, name: 'hold', body: { metadata: { finalizers: null } } }, mergePatch);
    }
    await s.waitFor('gone', async () => (await orUndefined(s.core.readNamespace({ name: ns }))) === undefined, 30000);
  });
});

describe('SIGTERM', () => {
  const s = new Scenario('sigterm');

  before(() => s.setUp());
  after(() => s.tearDown());

  it('stops intake, finishes the work in flight and exits 0 within 10 s', async () => {
    const op = await s.startOperator();
    for (let i = 0; i < 8; i++) await s.namespace(`n${i}`);
    await op.waitForLog((l) => l.message === 'secret written', 10000, 'work in flight');
    const r = await op.stop('SIGTERM');
    assert.equal(r.code, 0);
    assert.ok(r.ms < 10000, `exited after ${r.ms} ms`);
    assert.ok(op.logs.some((l) => l.message === 'stopped'));
  });
});
