/**
 * Supervised informers: list, then watch from the list's resourceVersion, keeping a cache.
 *
 * Why not client-node's ListWatch: it stops for good on any error but 410, cannot be told to
 * relist, gives no "synced" signal, and a throwing handler escapes into its stream callbacks.
 * This one restarts with capped exponential backoff on any error, relists on 410 and on demand
 * (the periodic resync), asks the server for bookmarks and a bounded watch, aborts a watch that
 * has been silent for too long (a dead connection), and never lets a handler's throw out.
 * It knows nothing of logging or metrics: it emits typed events.
 */
import type { Kube, ListOptions, ListResult } from './client.js';

/** What an informer needs of a cached object: its key and version. */
export interface Meta {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
}

/** Items per LIST page (client-go's default page size). */
export const PAGE_SIZE = 500;

export type InformerEvent<T> =
  | { type: 'add'; obj: T }
  | { type: 'update'; obj: T; old: T }
  | { type: 'delete'; obj: T };

export type InformerStatus =
  | { type: 'synced'; items: number; durationMs: number }
  | { type: 'error'; error: unknown; failures: number; retryInMs: number }
  | { type: 'watch-expired' }
  /** A watch is open (again): a sign of life even when nothing changes. */
  | { type: 'watching' }
  | { type: 'handler-error'; error: unknown };

export interface Clock {
  now(): number;
}

export interface InformerOptions<T> {
  /** For logs and metrics: "namespaces", "secrets", ... */
  name: string;
  /** The collection's watch path, e.g. /api/v1/secrets. */
  path: string;
  /** One page of the collection (the informer pages with limit/continue). */
  list: (opts: ListOptions) => Promise<ListResult<unknown>>;
  /**
   * Converts an API object, from a list or a watch, into what the cache keeps (client-go's
   * SetTransform). Called once per object; the API object is dropped after it.
   */
  transform: (raw: never) => T;
  labelSelector?: string;
  kube: Pick<Kube, 'watch'>;
  clock?: Clock;
  /** Server-side watch timeout, jittered up to +25%. Default 300 s. */
  watchTimeoutSeconds?: number;
  /** Backoff after errors: base and cap. Defaults 200 ms and 30 s. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

const systemClock: Clock = { now: () => Date.now() };

/** Objects by namespace ('' for cluster-scoped ones), then by name: client-go's NamespaceIndex. */
type Store<T> = Map<string, Map<string, T>>;

/** A supervised list-watch cache of one collection, indexed by namespace. */
export class Informer<T extends Meta> {
  readonly name: string;
  #opts: InformerOptions<T>;
  #clock: Clock;
  #cache: Store<T> = new Map();
  #size = 0;
  #rv = '';
  #relist = true;
  #stopped = true;
  #current: { abort(): void } | undefined;
  #aborting = false;
  #handlers: ((e: InformerEvent<T>) => void)[] = [];
  #statusHandlers: ((s: InformerStatus) => void)[] = [];
  #synced = false;
  #syncWaiters: (() => void)[] = [];
  #failures = 0;
  #brokenSince: number | undefined;
  #lastEventAt: number | undefined;
  #restarts = 0;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;

  constructor(opts: InformerOptions<T>) {
    this.name = opts.name;
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
  }

  /** Registers an event handler. A throw from it is caught and reported as a 'handler-error' status. */
  on(handler: (e: InformerEvent<T>) => void): void {
    this.#handlers.push(handler);
  }

  onStatus(handler: (s: InformerStatus) => void): void {
    this.#statusHandlers.push(handler);
  }

  /** Starts the list-watch loop in the background. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#loop = this.#run();
  }

  /** Stops watching; the cache stays readable. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abortWatch();
    this.#wake?.();
    await this.#loop;
  }

  /** True once the first list has filled the cache. */
  get synced(): boolean {
    return this.#synced;
  }

  /** Resolves when the cache has synced. */
  waitForSync(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise((resolve) => this.#syncWaiters.push(resolve));
  }

  /** Forces a fresh list (the periodic resync): differences are emitted as events. */
  relist(): void {
    this.#relist = true;
    this.#abortWatch();
    this.#wake?.();
  }

  /** Since when the list-watch has been failing, or undefined when it is healthy. */
  get brokenSince(): number | undefined {
    return this.#brokenSince;
  }

  get lastEventAt(): number | undefined {
    return this.#lastEventAt;
  }

  get restarts(): number {
    return this.#restarts;
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.#cache.get(namespace ?? '')?.get(name);
  }

  /** Cached objects, of one namespace (read from the index) or of all. Treat them as read-only. */
  list(namespace?: string): T[] {
    if (namespace !== undefined) return [...(this.#cache.get(namespace)?.values() ?? [])];
    const all: T[] = [];
    for (const m of this.#cache.values()) for (const o of m.values()) all.push(o);
    return all;
  }

  /** The namespaces that have at least one cached object. */
  namespaces(): string[] {
    return [...this.#cache.keys()];
  }

  get size(): number {
    return this.#size;
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      try {
        if (this.#relist || this.#rv === '') await this.#list();
        if (this.#stopped) break;
        await this.#watchOnce();
        this.#failures = 0;
      } catch (err) {
        if (this.#stopped) break;
        this.#failures++;
        this.#restarts++;
        this.#brokenSince ??= this.#clock.now();
        const base = this.#opts.backoffBaseMs ?? 200;
        const max = this.#opts.backoffMaxMs ?? 30_000;
        const retryInMs = Math.min(max, base * 2 ** (this.#failures - 1));
        this.#status({ type: 'error', error: err, failures: this.#failures, retryInMs });
        await this.#sleep(retryInMs);
      }
    }
  }

  /**
   * A full LIST, page by page, then the differences with the cache emitted as events. The first
   * list asks for resourceVersion "0" (any recent state, served from the API server's watch
   * cache); a relist after 410 Gone asks for the latest ("" : a consistent read), as client-go's
   * reflector does.
   */
  async #list(): Promise<void> {
    const started = this.#clock.now();
    const fresh: Store<T> = new Map();
    let size = 0;
    let cont: string | undefined;
    let rv = '';
    const transform = this.#opts.transform as (raw: unknown) => T;
    do {
      const opts: ListOptions = { limit: PAGE_SIZE };
      if (cont) opts.continue = cont;
      else if (!this.#synced) opts.resourceVersion = '0';
      if (this.#opts.labelSelector) opts.labelSelector = this.#opts.labelSelector;
      const page = await this.#opts.list(opts);
      for (const raw of page.items) {
        const obj = transform(raw);
        const ns = obj.metadata.namespace ?? '';
        let m = fresh.get(ns);
        if (!m) fresh.set(ns, (m = new Map()));
        if (!m.has(obj.metadata.name)) size++;
        m.set(obj.metadata.name, obj);
      }
      cont = page.continue;
      rv = page.resourceVersion;
    } while (cont);
    this.#relist = false;
    for (const [ns, m] of this.#cache) {
      const f = fresh.get(ns);
      for (const [name, old] of m) if (!f?.has(name)) this.#emit({ type: 'delete', obj: old });
    }
    const previous = this.#cache;
    this.#cache = fresh;
    this.#size = size;
    for (const [ns, m] of fresh) {
      const p = previous.get(ns);
      for (const [name, obj] of m) {
        const old = p?.get(name);
        if (!old) this.#emit({ type: 'add', obj });
        else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.#emit({ type: 'update', obj, old });
      }
    }
    this.#rv = rv;
    this.#lastEventAt = this.#clock.now();
    if (!this.#synced) {
      this.#synced = true;
      for (const w of this.#syncWaiters.splice(0)) w();
    }
    this.#status({ type: 'synced', items: size, durationMs: this.#clock.now() - started });
  }

  #watchOnce(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timeout = Math.round((this.#opts.watchTimeoutSeconds ?? 300) * (1 + Math.random() * 0.25));
      let settled = false;
      let silence: ReturnType<typeof setTimeout> | undefined;
      const finish = (err: unknown): void => {
        if (settled) return;
        settled = true;
        if (silence) clearTimeout(silence);
        this.#current = undefined;
        const aborted = this.#aborting;
        this.#aborting = false;
        if (err && !aborted) reject(err);
        else resolve();
      };
      // A watch the server should have closed by now is a dead connection: abort it and restart.
      const armSilenceTimer = (): void => {
        if (silence) clearTimeout(silence);
        silence = setTimeout(() => {
          this.#current?.abort();
          finish(new Error(`watch of ${this.name} silent for ${timeout + 30}s`));
        }, (timeout + 30) * 1000);
        silence.unref?.();
      };
      const query: Record<string, string | number | boolean> = { resourceVersion: this.#rv, allowWatchBookmarks: true, timeoutSeconds: timeout };
      // A bookmark carries only a resourceVersion: not an object to convert.
      if (this.#opts.labelSelector) query['labelSelector'] = this.#opts.labelSelector;
      armSilenceTimer();
      this.#opts.kube
        .watch(
          this.#opts.path,
          query,
          (type, raw) => {
            armSilenceTimer();
            this.#onWatchEvent(type, raw, finish);
          },
          (err) => {
            const e = err as { statusCode?: number } | null;
            if (e && e.statusCode === 410) {
              this.#rv = '';
              this.#status({ type: 'watch-expired' });
              finish(null);
            } else finish(err);
          },
        )
        .then((handle) => {
          if (settled) return;
          this.#current = handle;
          this.#brokenSince = undefined;
          // A watch (re)established counts as a sign of life: the server ends each one within its
          // timeout, so a healthy informer's last event is never older than that, even with no changes.
          this.#lastEventAt = this.#clock.now();
          this.#status({ type: 'watching' });
          if (this.#stopped || this.#relist) this.#abortWatch();
        })
        .catch(finish);
    });
  }

  #onWatchEvent(type: string, raw: unknown, finish: (err: unknown) => void): void {
    this.#lastEventAt = this.#clock.now();
    const transform = this.#opts.transform as (raw: unknown) => T;
    let rv: string | undefined;
    switch (type) {
      case 'ADDED':
      case 'MODIFIED': {
        const obj = transform(raw);
        const old = this.#put(obj);
        this.#emit(old ? { type: 'update', obj, old } : { type: 'add', obj });
        rv = obj.metadata.resourceVersion;
        break;
      }
      case 'DELETED': {
        const obj = transform(raw);
        const old = this.#remove(obj);
        this.#emit({ type: 'delete', obj: old ?? obj });
        rv = obj.metadata.resourceVersion;
        break;
      }
      case 'BOOKMARK':
        rv = (raw as { metadata?: { resourceVersion?: string } } | null)?.metadata?.resourceVersion;
        break;
      case 'ERROR': {
        // The server ends the watch after an ERROR event; 410 means our resourceVersion is too old.
        const status = (raw ?? {}) as { code?: number; message?: string };
        if (status.code === 410) {
          this.#rv = '';
          this.#status({ type: 'watch-expired' });
          this.#abortWatch();
          finish(null);
        } else {
          this.#abortWatch();
          finish(new Error(`watch of ${this.name} failed: ${status.code ?? ''} ${status.message ?? ''}`));
        }
        return;
      }
      default:
        return;
    }
    if (rv) this.#rv = rv;
  }

  /** Stores obj; returns what it replaced. */
  #put(obj: T): T | undefined {
    const ns = obj.metadata.namespace ?? '';
    let m = this.#cache.get(ns);
    if (!m) this.#cache.set(ns, (m = new Map()));
    const old = m.get(obj.metadata.name);
    m.set(obj.metadata.name, obj);
    if (!old) this.#size++;
    return old;
  }

  /** Removes obj; a namespace's index entry goes with its last object, so nothing outlives it. */
  #remove(obj: T): T | undefined {
    const ns = obj.metadata.namespace ?? '';
    const m = this.#cache.get(ns);
    const old = m?.get(obj.metadata.name);
    if (m && old) {
      m.delete(obj.metadata.name);
      this.#size--;
      if (m.size === 0) this.#cache.delete(ns);
    }
    return old;
  }

  #abortWatch(): void {
    if (this.#current) {
      this.#aborting = true;
      this.#current.abort();
    }
  }

  #emit(e: InformerEvent<T>): void {
    for (const h of this.#handlers) {
      try {
        h(e);
      } catch (error) {
        this.#status({ type: 'handler-error', error });
      }
    }
  }

  #status(s: InformerStatus): void {
    for (const h of this.#statusHandlers) {
      try {
        h(s);
      } catch {
        // A status handler (logging, metrics) must not break the loop.
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(t);
        this.#wake = undefined;
        resolve();
      };
    });
  }
}
