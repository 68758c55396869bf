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
import type { Kube, ListResult } from './client.js';

export interface Meta {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export type InformerEvent<T> =
  | { type: 'add'; obj: T }
  | { type: 'update'; obj: T; old: T }
  | { type: 'delete'; obj: T };

export type InformerStatus =
  | { type: 'synced'; items: number; durationMs: number }
  | { type: 'error'; error: unknown; failures: number; retryInMs: number }
  | { type: 'watch-expired' }
  | { type: 'handler-error'; error: unknown };

export interface Clock {
  now(): number;
}

export interface InformerOptions<T> {
  /** For logs and metrics: "namespaces", "secrets", ... */
  name: string;
  /** The collection's watch path, e.g. /api/v1/secrets. */
  path: string;
  list: () => Promise<ListResult<T>>;
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

/** A supervised list-watch cache of one collection. */
export class Informer<T extends Meta> {
  readonly name: string;
  #opts: InformerOptions<T>;
  #clock: Clock;
  #cache = new Map<string, T>();
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
    return this.#cache.get(key(namespace, name));
  }

  /** Cached objects, of one namespace or of all. Treat them as read-only. */
  list(namespace?: string): T[] {
    const all = [...this.#cache.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata?.namespace === namespace);
  }

  get size(): number {
    return this.#cache.size;
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

  async #list(): Promise<void> {
    const started = this.#clock.now();
    const result = await this.#opts.list();
    this.#relist = false;
    const fresh = new Map<string, T>();
    for (const item of result.items) fresh.set(keyOf(item), item);
    for (const [k, old] of this.#cache) if (!fresh.has(k)) this.#emit({ type: 'delete', obj: old });
    const previous = this.#cache;
    this.#cache = fresh;
    for (const [k, obj] of fresh) {
      const old = previous.get(k);
      if (!old) this.#emit({ type: 'add', obj });
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.#emit({ type: 'update', obj, old });
    }
    this.#rv = result.resourceVersion;
    this.#lastEventAt = this.#clock.now();
    if (!this.#synced) {
      this.#synced = true;
      for (const w of this.#syncWaiters.splice(0)) w();
    }
    this.#status({ type: 'synced', items: fresh.size, durationMs: this.#clock.now() - started });
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
      if (this.#opts.labelSelector) query['labelSelector'] = this.#opts.labelSelector;
      armSilenceTimer();
      this.#opts.kube
        .watch(
          this.#opts.path,
          query,
          (type, raw) => {
            armSilenceTimer();
            this.#onWatchEvent(type, raw as T & { code?: number; message?: string }, finish);
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
          if (this.#stopped || this.#relist) this.#abortWatch();
        })
        .catch(finish);
    });
  }

  #onWatchEvent(type: string, obj: T & { code?: number; message?: string }, finish: (err: unknown) => void): void {
    this.#lastEventAt = this.#clock.now();
    switch (type) {
      case 'ADDED':
      case 'MODIFIED': {
        const k = keyOf(obj);
        const old = this.#cache.get(k);
        this.#cache.set(k, obj);
        this.#emit(old ? { type: 'update', obj, old } : { type: 'add', obj });
        break;
      }
      case 'DELETED': {
        const k = keyOf(obj);
        const old = this.#cache.get(k);
        this.#cache.delete(k);
        this.#emit({ type: 'delete', obj: old ?? obj });
        break;
      }
      case 'BOOKMARK':
        break;
      case 'ERROR': {
        // The server ends the watch after an ERROR event; 410 means our resourceVersion is too old.
        if (obj.code === 410) {
          this.#rv = '';
          this.#status({ type: 'watch-expired' });
          this.#abortWatch();
          finish(null);
        } else {
          this.#abortWatch();
          finish(new Error(`watch of ${this.name} failed: ${obj.code ?? ''} ${obj.message ?? ''}`));
        }
        return;
      }
      default:
        return;
    }
    const rv = obj.metadata?.resourceVersion;
    if (rv) this.#rv = rv;
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

function key(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

function keyOf(obj: Meta): string {
  return key(obj.metadata?.namespace, obj.metadata?.name ?? '');
}
