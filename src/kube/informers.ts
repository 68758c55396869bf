/**
 * An informer, as client-go composes one: a reflector (reflector.ts: list, watch, liveness,
 * backoff, relists) feeding a store (store.ts: the cache, indexed by namespace, with its relist
 * diff), and handlers told of every change. A handler that throws is reported as a
 * 'handler-error' status, never let out into the loop. It knows nothing of logging or metrics: it
 * emits typed events and statuses.
 */
import { type Clock, systemClock } from '../clock.js';
import { Reflector, type InformerStatus, type ReflectorOptions } from './reflector.js';
import { Store, type InformerEvent, type Meta } from './store.js';

export type { InformerEvent, Meta } from './store.js';
export { PAGE_SIZE, SILENT_WATCHES_BROKEN, WATCH_LIVENESS_MS, type InformerStatus } from './reflector.js';

export interface InformerOptions<T> extends Omit<ReflectorOptions<T>, 'clock'> {
  /** Default: the system clock. */
  clock?: Pick<Clock, 'monotonic' | 'setTimeout' | 'clearTimeout'>;
}

/** A supervised list-watch cache of one collection, indexed by namespace. */
export class Informer<T extends Meta> {
  readonly name: string;
  readonly #store = new Store<T>();
  readonly #reflector: Reflector<T>;
  #handlers: ((e: InformerEvent<T>) => void)[] = [];
  #statusHandlers: ((s: InformerStatus) => void)[] = [];
  #synced = false;
  #syncWaiters: (() => void)[] = [];

  constructor(opts: InformerOptions<T>) {
    this.name = opts.name;
    this.#reflector = new Reflector<T>({ ...opts, clock: opts.clock ?? systemClock }, {
      replace: (items) => {
        for (const e of this.#store.replace(items)) this.#emit(e);
      },
      object: (type, obj) => {
        if (type === 'DELETED') this.#emit({ type: 'delete', obj: this.#store.remove(obj) ?? obj });
        else {
          const old = this.#store.put(obj);
          this.#emit(old ? { type: 'update', obj, old } : { type: 'add', obj });
        }
      },
      status: (s) => {
        if (s.type === 'synced' && !this.#synced) {
          this.#synced = true;
          for (const w of this.#syncWaiters.splice(0)) w();
        }
        this.#status(s);
      },
    });
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
    this.#reflector.start();
  }

  /** Stops watching; the cache stays readable. */
  stop(): Promise<void> {
    return this.#reflector.stop();
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

  /** Forces a fresh list: differences are emitted as events. */
  relist(): void {
    this.#reflector.relist();
  }

  /** Since when (monotonic) the list-watch has been failing, or its watches silent again and again; undefined when healthy. */
  get brokenSince(): number | undefined {
    return this.#reflector.brokenSince;
  }

  get restarts(): number {
    return this.#reflector.restarts;
  }

  /** The cached object `name` of `namespace` (undefined for cluster-scoped objects). Read-only. */
  get(namespace: string | undefined, name: string): T | undefined {
    return this.#store.get(namespace, name);
  }

  /** Cached objects, of one namespace (read from the index) or of all. Read-only. */
  list(namespace?: string): T[] {
    return this.#store.list(namespace);
  }

  get size(): number {
    return this.#store.size;
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
}
