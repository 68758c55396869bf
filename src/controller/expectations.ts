import type { Clock } from '../clock.js';

/**
 * Writes whose watch event has not arrived yet, as client-go's controller expectations: until the
 * informer shows an object after our write to it, the cache holds the state we replaced, and a
 * reconcile planning from it would write again (and earn a 409 or a wasted call). An observed
 * event for the object, or a timeout (a safety net for a lost event), ends the expectation.
 */
export class Expectations {
  #pending = new Map<string, number>();
  #clock: Pick<Clock, 'monotonic'>;
  #timeoutMs: number;

  /** The timeout is measured on the monotonic clock. */
  constructor(clock: Pick<Clock, 'monotonic'>, timeoutMs = 60_000) {
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
  }

  /** We wrote `kind` namespace/name: its event is on the way. */
  expect(kind: string, namespace: string, name: string): void {
    this.#pending.set(`${kind}/${namespace}/${name}`, this.#clock.monotonic());
  }

  /** The informer showed an event for it: the cache is past our write. */
  observed(kind: string, namespace: string, name: string): void {
    this.#pending.delete(`${kind}/${namespace}/${name}`);
  }

  /** True while our write to it has not been observed (and has not timed out). */
  pending(kind: string, namespace: string, name: string): boolean {
    const key = `${kind}/${namespace}/${name}`;
    const at = this.#pending.get(key);
    if (at === undefined) return false;
    if (this.#clock.monotonic() - at < this.#timeoutMs) return true;
    this.#pending.delete(key);
    return false;
  }

  /** Forgets a namespace that is gone. */
  forgetNamespace(namespace: string): void {
    for (const key of this.#pending.keys()) if (key.split('/')[1] === namespace) this.#pending.delete(key);
  }
}
