/**
 * client-go's reflector: list, then watch from the list's resourceVersion, for ever, feeding a
 * store. It knows nothing of logging or metrics: it reports typed statuses.
 *
 * Why not client-node's ListWatch: it stops for good on any error but 410, cannot be told to
 * relist, gives no "synced" signal, and a throwing handler escapes into its stream callbacks.
 *
 * - Paged LISTs (limit/continue). The first asks for resourceVersion "0" (any recent state, from
 *   the API server's watch cache); a relist asks for the latest (a consistent read).
 * - After an error, it tries again with capped exponential backoff (at least as long as a 429's
 *   Retry-After asks). A watch resumes from the last resourceVersion; after 410 Gone, or after
 *   `relistAfterFailures` failures in a row of any other kind (a "too large resource version" that
 *   an etcd restore makes persistent cannot loop), the next attempt lists again.
 * - A watch that hears nothing for `livenessMs` (watch.ts) is given up and a new one opened at
 *   once, with no LIST and no backoff. When `silentWatchesBroken` watches in a row were silent,
 *   the reflector counts as broken from the last time anything was heard, until data or a bookmark
 *   arrives again, and the next attempt lists, so that the store catches up with whatever a dead
 *   watch missed. A healthy idle watch is never restarted: an idle operator makes no requests.
 * - Healthy means data or a bookmark arrived (or a LIST succeeded), not merely a 200 to a watch.
 */
import { type Clock, sleep } from '../clock.js';
import type { Kube, ListOptions, ListResult } from './client.js';
import { WatchAttempt, type WatchSink } from './watch.js';

/** Items per LIST page (client-go's default page size). */
export const PAGE_SIZE = 500;
/** Defaults of the liveness check: documented in docs/faults.md, Robustness. */
export const WATCH_LIVENESS_MS = 75_000;
export const SILENT_WATCHES_BROKEN = 2;

export type InformerStatus =
  | { type: 'synced'; items: number; durationMs: number }
  | { type: 'error'; error: unknown; failures: number; retryInMs: number }
  | { type: 'watch-expired' }
  /** A watch heard from the server (data or a bookmark) for the first time. */
  | { type: 'watching' }
  /**
   * A watch heard nothing for livenessMs: its connection is taken for dead and a new one opened.
   * `silences`: how many watches in a row did so (from silentWatchesBroken on, the reflector is broken).
   */
  | { type: 'watch-silent'; silentMs: number; silences: number }
  | { type: 'handler-error'; error: unknown };

export interface ReflectorOptions<T> {
  /** For logs and metrics: "namespaces", "secrets", ... */
  name: string;
  /** The collection's watch path, e.g. /api/v1/secrets. */
  path: string;
  /** One page of the collection. */
  list: (opts: ListOptions) => Promise<ListResult<unknown>>;
  /**
   * Converts an API object, from a list or a watch, into what the store keeps (client-go's
   * SetTransform). Called once per object, as it arrives: the API object is dropped after it, so
   * a LIST of thousands of secrets never holds their data all at once.
   */
  transform: (raw: never) => T;
  labelSelector?: string;
  kube: Pick<Kube, 'watch'>;
  clock: Pick<Clock, 'monotonic' | 'setTimeout' | 'clearTimeout'>;
  /** Server-side watch timeout, jittered up to +25%. Default 300 s. */
  watchTimeoutSeconds?: number;
  /** Backoff after errors: base and cap. Defaults 200 ms and 30 s. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** A watch that hears nothing this long is taken for dead. Default WATCH_LIVENESS_MS (bookmarks come about once a minute). */
  livenessMs?: number;
  /** Consecutive failures after which the next attempt relists instead of resuming. Default 3. */
  relistAfterFailures?: number;
  /** Consecutive silent watches after which the reflector counts as broken (and relists). Default SILENT_WATCHES_BROKEN. */
  silentWatchesBroken?: number;
}

/** Where a reflector delivers: the store's side (informers.ts). */
export interface ReflectorSink<T> {
  /** A full list, every page of it. */
  replace(items: T[]): void;
  /** One object event of a watch. */
  object(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: T): void;
  status(s: InformerStatus): void;
}

/** The delay an error asks for (a 429 or 503's Retry-After), if any. */
function retryAfterOf(err: unknown): number {
  const ms = (err as { retryAfterMs?: unknown } | null)?.retryAfterMs;
  return typeof ms === 'number' && Number.isFinite(ms) ? ms : 0;
}

export class Reflector<T> {
  readonly #o: ReflectorOptions<T>;
  readonly #sink: ReflectorSink<T>;
  readonly #transform: (raw: unknown) => T;
  #rv = '';
  #listed = false;
  #relist = true;
  #stopped = true;
  #watch: WatchAttempt | undefined;
  #wake: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #failures = 0;
  #restarts = 0;
  #brokenSince: number | undefined;
  /** Watches in a row that heard nothing for livenessMs, and since when they count as broken. */
  #silences = 0;
  #silentSince: number | undefined;
  /** The last time a watch heard data or a bookmark, or a LIST succeeded. */
  #lastHeardAt: number | undefined;

  constructor(o: ReflectorOptions<T>, sink: ReflectorSink<T>) {
    this.#o = o;
    this.#sink = sink;
    this.#transform = o.transform as (raw: unknown) => T;
  }

  /** Starts the list-watch loop in the background. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#loop = this.#run();
  }

  /** Stops watching; resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#watch?.end();
    this.#wake?.abort();
    await this.#loop;
  }

  /** Ends the current watch and lists again (the differences reach the store as events). */
  relist(): void {
    this.#relist = true;
    this.#watch?.end();
    this.#wake?.abort();
  }

  /** Since when the list-watch has been failing, or its watches silent again and again; undefined when healthy. */
  get brokenSince(): number | undefined {
    if (this.#brokenSince === undefined) return this.#silentSince;
    if (this.#silentSince === undefined) return this.#brokenSince;
    return Math.min(this.#brokenSince, this.#silentSince);
  }

  /** Restarts after errors. */
  get restarts(): number {
    return this.#restarts;
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
        await this.#backOff(err);
      }
    }
  }

  async #backOff(err: unknown): Promise<void> {
    this.#failures++;
    this.#restarts++;
    this.#brokenSince ??= this.#o.clock.monotonic();
    if (this.#failures >= (this.#o.relistAfterFailures ?? 3)) this.#relist = true;
    const base = this.#o.backoffBaseMs ?? 200;
    const max = this.#o.backoffMaxMs ?? 30_000;
    const retryInMs = Math.max(Math.min(max, base * 2 ** (this.#failures - 1)), retryAfterOf(err));
    this.#sink.status({ type: 'error', error: err, failures: this.#failures, retryInMs });
    this.#wake = new AbortController();
    await sleep(this.#o.clock, retryInMs, this.#wake.signal);
    this.#wake = undefined;
  }

  /** A full LIST, page by page, handed to the store whole. */
  async #list(): Promise<void> {
    const started = this.#o.clock.monotonic();
    const items: T[] = [];
    let cont: string | undefined;
    let rv = '';
    do {
      const opts: ListOptions = { limit: PAGE_SIZE };
      if (cont) opts.continue = cont;
      else if (!this.#listed) opts.resourceVersion = '0';
      if (this.#o.labelSelector) opts.labelSelector = this.#o.labelSelector;
      const page = await this.#o.list(opts);
      for (const raw of page.items) items.push(this.#transform(raw));
      cont = page.continue;
      rv = page.resourceVersion;
    } while (cont);
    this.#relist = false;
    this.#sink.replace(items);
    this.#rv = rv;
    this.#listed = true;
    this.#lastHeardAt = this.#o.clock.monotonic();
    // A LIST that works says nothing of the watches: a silent-watch state ends only when one hears.
    this.#brokenSince = undefined;
    this.#sink.status({ type: 'synced', items: items.length, durationMs: this.#o.clock.monotonic() - started });
  }

  /** One watch from the current resourceVersion: resolves when it ends normally, rejects on errors. */
  async #watchOnce(): Promise<void> {
    const timeoutSeconds = Math.round((this.#o.watchTimeoutSeconds ?? 300) * (1 + Math.random() * 0.25));
    const livenessMs = this.#o.livenessMs ?? WATCH_LIVENESS_MS;
    const started = this.#o.clock.monotonic();
    const query = { resourceVersion: this.#rv, timeoutSeconds, ...(this.#o.labelSelector ? { labelSelector: this.#o.labelSelector } : {}) };
    const watch = new WatchAttempt(
      { kube: this.#o.kube, clock: this.#o.clock, name: this.#o.name, path: this.#o.path, query, livenessMs, endWhenOpen: () => this.#stopped || this.#relist },
      this.#watchSink(started, livenessMs),
    );
    this.#watch = watch;
    try {
      await watch.done;
    } finally {
      if (this.#watch === watch) this.#watch = undefined;
    }
  }

  #watchSink(started: number, livenessMs: number): WatchSink {
    return {
      heard: (first) => {
        if (first) this.#sink.status({ type: 'watching' });
        this.#brokenSince = undefined;
        this.#silences = 0;
        this.#silentSince = undefined;
        this.#lastHeardAt = this.#o.clock.monotonic();
      },
      object: (type, raw) => this.#sink.object(type, this.#transform(raw)),
      resourceVersion: (rv) => (this.#rv = rv),
      expired: () => {
        this.#rv = '';
        this.#sink.status({ type: 'watch-expired' });
      },
      silent: () => {
        this.#silences++;
        if (this.#silences >= (this.#o.silentWatchesBroken ?? SILENT_WATCHES_BROKEN)) {
          this.#silentSince ??= this.#lastHeardAt ?? started;
          this.#relist = true;
        }
        this.#sink.status({ type: 'watch-silent', silentMs: livenessMs, silences: this.#silences });
      },
    };
  }
}
