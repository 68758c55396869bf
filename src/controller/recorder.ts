/**
 * Warning Events, deduplicated and rate-limited: the same problem on the same object is recorded
 * once an hour at most (an Event's default lifetime), and at most `perMinute` Events a minute are
 * sent in all, so a stuck problem never floods the API. Failures to record are reported, not thrown.
 */
import type { Clock } from '../clock.js';
import type { CoreEvent, Kube } from '../kube/client.js';

/** The object an Event is about: a Namespace (cluster-scoped), or a namespaced object. */
export type InvolvedObject =
  | { kind: 'Namespace'; name: string; uid?: string | undefined }
  | { kind: 'Secret' | 'ServiceAccount'; namespace: string; name: string; uid?: string | undefined };

export interface RecorderOptions {
  kube: Pick<Kube, 'createEvent'>;
  /** Wall-clock time for the Events' timestamps; monotonic time for the dedupe and rate windows, which a wall-clock step must not stretch. */
  clock: Pick<Clock, 'now' | 'monotonic'>;
  /** The replica's identity, as reportingInstance. */
  instance: string;
  /** How long the same problem on the same object stays quiet after it was recorded. Default 1 h. */
  dedupeWindowMs?: number;
  perMinute?: number;
  enabled: boolean;
  onError?: (err: unknown) => void;
  onRecorded?: (reason: string) => void;
}

export class EventRecorder {
  #opts: RecorderOptions;
  #seen = new Map<string, number>();
  #windowStart = 0;
  #sentInWindow = 0;

  constructor(opts: RecorderOptions) {
    this.#opts = opts;
  }

  /** Records a Warning on `obj`, unless the same one was recorded within the dedupe window. Never throws. */
  warn(obj: InvolvedObject, reason: string, message: string): void {
    if (!this.#opts.enabled) return;
    const now = this.#opts.clock.monotonic();
    const window = this.#opts.dedupeWindowMs ?? 3_600_000;
    const key = `${obj.kind}/${obj.kind === 'Namespace' ? '' : obj.namespace}/${obj.name}/${reason}/${message}`;
    const last = this.#seen.get(key);
    if (last !== undefined && now - last < window) return;
    if (now - this.#windowStart >= 60_000) {
      this.#windowStart = now;
      this.#sentInWindow = 0;
    }
    if (this.#sentInWindow >= (this.#opts.perMinute ?? 60)) return;
    this.#sentInWindow++;
    this.#seen.set(key, now);
    if (this.#seen.size > 10_000) for (const [k, t] of this.#seen) if (now - t >= window) this.#seen.delete(k);
    const base = { type: 'Warning' as const, reason, message, reportingInstance: this.#opts.instance, time: new Date(this.#opts.clock.now()) };
    const involved = { kind: obj.kind, apiVersion: 'v1', name: obj.name, uid: obj.uid };
    const events: CoreEvent[] =
      obj.kind === 'Namespace'
        ? [
            // As client-go records them, Events about a cluster-scoped object live in `default`, with no
            // involvedObject namespace: `kubectl describe namespace <ns>` finds them there.
            { ...base, namespace: 'default', involvedObject: involved },
            // And in the namespace itself, where its owners look (`kubectl get events -n <ns>`), who
            // may not read `default`.
            { ...base, namespace: obj.name, involvedObject: { ...involved, namespace: obj.name } },
          ]
        : [{ ...base, namespace: obj.namespace, involvedObject: { ...involved, namespace: obj.namespace } }];
    this.#opts.onRecorded?.(reason);
    for (const event of events) {
      this.#opts.kube.createEvent(event).catch((err: unknown) => {
        this.#seen.delete(key);
        this.#opts.onError?.(err);
      });
    }
  }
}
