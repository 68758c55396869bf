/**
 * One watch of a reflector (reflector.ts): a single long GET from a resourceVersion, judged alive
 * only while it hears something.
 *
 * - Liveness: a watch that asked for bookmarks hears one about once a minute, so one that hears
 *   nothing, not even a bookmark, for `livenessMs` is on a dead connection (a load balancer that
 *   keeps it open, a black hole): it is ended as silent, and its connection aborted.
 * - A clean end with nothing heard, long before the server's timeout, is no sign of life either:
 *   it counts as a failure, so a proxy that answers and hangs up at once makes no tight loop.
 * - 410 Gone (as the status of the answer or as an ERROR event): the resourceVersion is too old.
 * - Once ended, for whatever reason, the attempt is settled: its late events are dropped and a
 *   late answer to it is aborted, so a watch that was given up never touches the cache.
 */
import type { Clock, Timer } from '../clock.js';
import type { Kube } from './client.js';

/** What a watch tells its reflector. Calls stop when the attempt has ended. */
export interface WatchSink {
  /** Data or a bookmark arrived; `first`: the first time for this attempt. */
  heard(first: boolean): void;
  /** An object event, as sent. */
  object(type: 'ADDED' | 'MODIFIED' | 'DELETED', raw: unknown): void;
  /** The resourceVersion to resume from moved on (an object's or a bookmark's). */
  resourceVersion(rv: string): void;
  /** 410 Gone: the next attempt must list. */
  expired(): void;
  /** Nothing heard for livenessMs: the watch is given up (called before it ends). */
  silent(): void;
}

export interface WatchRequest {
  kube: Pick<Kube, 'watch'>;
  clock: Pick<Clock, 'monotonic' | 'setTimeout' | 'clearTimeout'>;
  name: string;
  path: string;
  query: { resourceVersion: string; timeoutSeconds: number; labelSelector?: string };
  livenessMs: number;
  /** Asked once the connection is open: true ends the attempt at once (a relist or stop asked for meanwhile). */
  endWhenOpen(): boolean;
}

const is410 = (err: unknown): boolean => (err as { statusCode?: number } | null)?.statusCode === 410;

export class WatchAttempt {
  /** Resolves when the watch ends normally (the server's timeout, 410, end(), silence); rejects on errors. */
  readonly done: Promise<void>;
  readonly #r: WatchRequest;
  readonly #sink: WatchSink;
  readonly #started: number;
  #settle: (err: unknown) => void = () => undefined;
  #settled = false;
  #heard = false;
  #handle: { abort(): void } | undefined;
  #silence: Timer | undefined;

  constructor(r: WatchRequest, sink: WatchSink) {
    this.#r = r;
    this.#sink = sink;
    this.#started = r.clock.monotonic();
    this.done = new Promise<void>((resolve, reject) => {
      this.#settle = (err) => (err ? reject(err) : resolve());
    });
    this.#armSilence();
    const query = { ...r.query, allowWatchBookmarks: true };
    r.kube
      .watch(r.path, query, (type, raw) => this.#onEvent(type, raw), (err) => this.#onEnd(err))
      .then((h) => {
        this.#handle = h;
        if (this.#settled) h.abort(); // given up before it was even started: never let it run
        else if (r.endWhenOpen()) this.end();
      })
      .catch((err: unknown) => this.#finish(err));
  }

  /** Ends the watch as a normal end (a relist or stop). */
  end(): void {
    this.#finish(null);
  }

  #finish(err: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#r.clock.clearTimeout(this.#silence);
    // Whatever ended this watch, its connection must not outlive it.
    this.#handle?.abort();
    this.#settle(err);
  }

  #armSilence(): void {
    this.#r.clock.clearTimeout(this.#silence);
    this.#silence = this.#r.clock.setTimeout(() => {
      if (this.#settled) return;
      this.#sink.silent();
      this.#finish(null);
    }, this.#r.livenessMs);
    this.#silence.unref();
  }

  #onEvent(type: string, raw: unknown): void {
    if (this.#settled) return; // a watch given up is a zombie: it never touches the cache
    this.#armSilence();
    const first = !this.#heard;
    this.#heard = true;
    this.#sink.heard(first);
    if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') {
      this.#sink.object(type, raw);
      const rv = (raw as { metadata?: { resourceVersion?: string } } | null)?.metadata?.resourceVersion;
      if (rv) this.#sink.resourceVersion(rv);
    } else if (type === 'BOOKMARK') {
      const rv = (raw as { metadata?: { resourceVersion?: string } } | null)?.metadata?.resourceVersion;
      if (rv) this.#sink.resourceVersion(rv);
    } else if (type === 'ERROR') {
      // The server ends the watch after an ERROR event; 410 means our resourceVersion is too old.
      const status = (raw ?? {}) as { code?: number; message?: string };
      if (status.code === 410) this.#expired();
      else this.#finish(new Error(`watch of ${this.#r.name} failed: ${status.code ?? ''} ${status.message ?? ''}`));
    }
  }

  #onEnd(err: unknown): void {
    if (is410(err)) this.#expired();
    else if (err) this.#finish(err);
    else if (!this.#heard && this.#r.clock.monotonic() - this.#started < this.#r.query.timeoutSeconds * 900) this.#finish(new Error(`watch of ${this.#r.name} ended with no data`));
    else this.#finish(null);
  }

  #expired(): void {
    this.#sink.expired();
    this.#finish(null);
  }
}
