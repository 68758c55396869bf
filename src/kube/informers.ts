/**
 * Supervised informers: list, then watch from the list's resourceVersion, keeping a cache.
 *
 * Why not client-node's ListWatch: it stops for good on any error but 410, cannot be told to
 * relist, gives no "synced" signal, and a throwing handler escapes into its stream callbacks.
 * This one restarts with capped exponential backoff on any error (at least as long as a 429's
 * Retry-After asks), relists on 410 and after repeated failures of any other kind (a persistent
 * "too large resource version" after an etcd restore cannot loop), asks the server for bookmarks
 * and a bounded watch, and never lets a handler's throw out.
 *
 * Liveness: the API server sends a watch that asked for them a bookmark about once a minute, so a
 * watch that hears nothing, not even a bookmark, for `livenessMs` is on a dead connection (a load
 * balancer that keeps it open, a black hole): that watch's own connection is aborted and a new one
 * opened, with no LIST and no backoff. A watch that is silent again (`silentWatchesBroken` in a row)
 * counts as broken from the last time anything was heard, until data or a bookmark arrives again, and
 * the next attempt relists, so that the cache catches up with whatever a dead watch missed. A healthy
 * idle watch is never restarted, so an idle operator makes no requests.
 * "Healthy" means that data or a bookmark arrived (or a LIST succeeded), not merely that a watch
 * was answered with 200. A watch that has been given up (timed out, aborted) can never touch the
 * cache again: each watch attempt has its own settled flag, its late events are dropped and a late
 * answer to it is aborted.
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
  /** A watch heard from the server (data or a bookmark) for the first time. */
  | { type: 'watching' }
  /**
   * A watch heard nothing for livenessMs: its connection is taken for dead and a new one opened.
   * `silences`: how many watches in a row did so (from SILENT_WATCHES_BROKEN on, the informer is broken).
   */
  | { type: 'watch-silent'; silentMs: number; silences: number }
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
  /**
   * A watch that hears nothing this long is taken for dead. Default 75 s: bookmarks come about
   * once a minute (kube-apiserver's watch cache), so a live watch always hears something sooner.
   */
  livenessMs?: number;
  /** Consecutive failures after which the next attempt relists instead of resuming. Default 3. */
  relistAfterFailures?: number;
  /** Consecutive silent watches after which the informer counts as broken (and relists). Default 2. */
  silentWatchesBroken?: number;
}

/** The delay an error asks for (a 429 or 503's Retry-After), if any. */
function retryAfterOf(err: unknown): number {
  const ms = (err as { retryAfterMs?: unknown } | null)?.retryAfterMs;
  return typeof ms === 'number' && Number.isFinite(ms) ? ms : 0;
}

/** Monotonic: liveness and broken-since are durations, which a wall-clock step must not move. */
const systemClock: Clock = { now: () => performance.now() };

/** Defaults of the liveness check (InformerOptions): documented in docs/faults.md, Robustness. */
export const WATCH_LIVENESS_MS = 75_000;
export const SILENT_WATCHES_BROKEN = 2;

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
  /** Ends the current watch as a normal end (for stop() and relist()). */
  #endCurrent: (() => void) | undefined;
  #handlers: ((e: InformerEvent<T>) => void)[] = [];
  #statusHandlers: ((s: InformerStatus) => void)[] = [];
  #synced = false;
  #syncWaiters: (() => void)[] = [];
  #failures = 0;
  #brokenSince: number | undefined;
  /** Watches in a row that heard nothing for livenessMs. */
  #silences = 0;
  /** When the last of those silent watches last heard anything: broken since then. */
  #silentSince: number | undefined;
  /** The last time a watch heard data or a bookmark, or a LIST succeeded. */
  #lastHeardAt: number | undefined;
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

  /**
   * Since when the list-watch has been failing, or its watches silent again and again; undefined
   * when it is healthy.
   */
  get brokenSince(): number | undefined {
    if (this.#brokenSince === undefined) return this.#silentSince;
    if (this.#silentSince === undefined) return this.#brokenSince;
    return Math.min(this.#brokenSince, this.#silentSince);
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
        // A resourceVersion the server keeps refusing (not with 410) is not retried for ever.
        if (this.#failures >= (this.#opts.relistAfterFailures ?? 3)) this.#relist = true;
        const base = this.#opts.backoffBaseMs ?? 200;
        const max = this.#opts.backoffMaxMs ?? 30_000;
        const retryInMs = Math.max(Math.min(max, base * 2 ** (this.#failures - 1)), retryAfterOf(err));
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
    this.#lastHeardAt = this.#lastEventAt;
    // A LIST that works says nothing of the watches: a silent-watch state ends only when one hears.
    this.#brokenSince = undefined;
    if (!this.#synced) {
      this.#synced = true;
      for (const w of this.#syncWaiters.splice(0)) w();
    }
    this.#status({ type: 'synced', items: size, durationMs: this.#clock.now() - started });
  }

  /**
   * One watch from the current resourceVersion. Resolves when it ends normally (the server's
   * timeout, a 410, a relist or stop asked for, a silent connection given up); rejects on errors.
   */
  #watchOnce(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timeoutSeconds = Math.round((this.#opts.watchTimeoutSeconds ?? 300) * (1 + Math.random() * 0.25));
      const livenessMs = this.#opts.livenessMs ?? WATCH_LIVENESS_MS;
      const started = this.#clock.now();
      let handle: { abort(): void } | undefined;
      let heard = false;
      let settled = false;
      let silence: ReturnType<typeof setTimeout> | undefined;
      const finish = (err: unknown): void => {
        if (settled) return;
        settled = true;
        if (silence) clearTimeout(silence);
        if (this.#endCurrent === end) this.#endCurrent = undefined;
        // Whatever ended this watch, its connection must not outlive it.
        handle?.abort();
        if (err) reject(err);
        else resolve();
      };
      const end = (): void => finish(null);
      this.#endCurrent = end;
      const armSilenceTimer = (): void => {
        if (silence) clearTimeout(silence);
        silence = setTimeout(() => {
          if (settled) return;
          this.#silences++;
          if (this.#silences >= (this.#opts.silentWatchesBroken ?? SILENT_WATCHES_BROKEN)) {
            this.#silentSince ??= this.#lastHeardAt ?? started;
            this.#relist = true;
          }
          this.#status({ type: 'watch-silent', silentMs: livenessMs, silences: this.#silences });
          finish(null);
        }, livenessMs);
        silence.unref?.();
      };
      const query: Record<string, string | number | boolean> = { resourceVersion: this.#rv, allowWatchBookmarks: true, timeoutSeconds };
      if (this.#opts.labelSelector) query['labelSelector'] = this.#opts.labelSelector;
      armSilenceTimer();
      this.#opts.kube
        .watch(
          this.#opts.path,
          query,
          (type, raw) => {
            if (settled) return; // a watch given up is a zombie: it never touches the cache
            armSilenceTimer();
            if (!heard) {
              heard = true;
              this.#status({ type: 'watching' });
            }
            this.#brokenSince = undefined;
            this.#silences = 0;
            this.#silentSince = undefined;
            this.#lastHeardAt = this.#clock.now();
            this.#onWatchEvent(type, raw, finish);
          },
          (err) => {
            const e = err as { statusCode?: number } | null;
            if (e && e.statusCode === 410) {
              this.#rv = '';
              this.#status({ type: 'watch-expired' });
              finish(null);
            } else if (err) finish(err);
            // A clean end with nothing heard, long before the server's timeout, is no sign of life:
            // a proxy that answers and hangs up at once must not make a tight loop.
            else if (!heard && this.#clock.now() - started < timeoutSeconds * 900) finish(new Error(`watch of ${this.name} ended with no data`));
            else finish(null);
          },
        )
        .then((h) => {
          handle = h;
          if (settled) h.abort(); // given up before it was even started: never let it run
          else if (this.#stopped || this.#relist) finish(null);
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
          finish(null);
        } else {
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

  /** Ends the current watch (its promise resolves): for stop() and relist(). */
  #abortWatch(): void {
    const end = this.#endCurrent;
    this.#endCurrent = undefined;
    end?.();
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
