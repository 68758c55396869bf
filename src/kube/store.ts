/**
 * An informer's cache: client-go's `Indexer` with its `NamespaceIndex`. Objects by namespace, then
 * by name, so that a reconcile reads its namespace's objects, never the whole store. It holds what
 * the transform made of each API object (kube/ingest.ts); treat what it returns as read-only.
 *
 * `replace` is a relist: the store takes the full list and says what differs from what it held,
 * as the events a watch would have sent.
 */

/** What the store needs of an object: its key and version. */
export interface Meta {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
}

export type InformerEvent<T> =
  | { type: 'add'; obj: T }
  | { type: 'update'; obj: T; old: T }
  | { type: 'delete'; obj: T };

/** The index key of an object: its namespace, or '' for a cluster-scoped one (a Namespace). */
function indexKey(obj: Meta): string {
  return obj.metadata.namespace ?? '';
}

export class Store<T extends Meta> {
  #index = new Map<string, Map<string, T>>();
  #size = 0;

  /** The object `name` of `namespace` (undefined for cluster-scoped objects). */
  get(namespace: string | undefined, name: string): T | undefined {
    return this.#index.get(namespace ?? '')?.get(name);
  }

  /** The objects of one namespace (from the index), or of all. */
  list(namespace?: string): T[] {
    if (namespace !== undefined) return [...(this.#index.get(namespace)?.values() ?? [])];
    const all: T[] = [];
    for (const m of this.#index.values()) for (const o of m.values()) all.push(o);
    return all;
  }

  get size(): number {
    return this.#size;
  }

  /** Stores `obj`; returns what it replaced. */
  put(obj: T): T | undefined {
    const key = indexKey(obj);
    let m = this.#index.get(key);
    if (!m) this.#index.set(key, (m = new Map()));
    const old = m.get(obj.metadata.name);
    m.set(obj.metadata.name, obj);
    if (!old) this.#size++;
    return old;
  }

  /** Removes `obj`; returns what was stored. A namespace's entry goes with its last object, so nothing outlives it. */
  remove(obj: Meta): T | undefined {
    const key = indexKey(obj);
    const m = this.#index.get(key);
    const old = m?.get(obj.metadata.name);
    if (m && old) {
      m.delete(obj.metadata.name);
      this.#size--;
      if (m.size === 0) this.#index.delete(key);
    }
    return old;
  }

  /**
   * Replaces the whole content with `items` (a relist) and returns the differences: deletes of
   * what is gone first, then adds, and updates of what changed resourceVersion.
   */
  replace(items: Iterable<T>): InformerEvent<T>[] {
    const previous = this.#index;
    this.#index = new Map();
    this.#size = 0;
    for (const obj of items) this.put(obj);
    const events: InformerEvent<T>[] = [];
    for (const [key, m] of previous) {
      for (const [name, old] of m) if (!this.#index.get(key)?.has(name)) events.push({ type: 'delete', obj: old });
    }
    for (const [key, m] of this.#index) {
      for (const [name, obj] of m) {
        const old = previous.get(key)?.get(name);
        if (!old) events.push({ type: 'add', obj });
        else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) events.push({ type: 'update', obj, old });
      }
    }
    return events;
  }
}
