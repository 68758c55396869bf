/**
 * The credential checker: for each source and each registry host its data names, asks the
 * registry whether the credentials would be accepted (check.ts), on the leader only.
 *
 * When: every pair is due at start; a pair whose credentials change (a rotation) is due at once;
 * after a check the next is due --verify-interval later, with jitter (an unreachable registry
 * sooner: schedule.ts). How much: at most one check in flight per host, MAX_IN_FLIGHT in all, and
 * a budget of CHECKS_PER_MINUTE across every source, so a source naming ten hosts is checked host
 * by host within it.
 *
 * What it tells: results() (the metric pullsecret_operator_source_credentials reads it), a log
 * line on each change, a Warning Event CredentialsRejected on the source Secret, and the results
 * document handed to `publish` (the ConfigMap `status` reads), debounced. No credential leaves
 * this module but towards the registry: the in-memory fingerprint that tells a rotation is a hash
 * that is never published or logged.
 */
import { createHash } from 'node:crypto';
import { type Clock, type Timer } from '../clock.js';
import { type Policy, collectSources } from '../domain/desired.js';
import type { SecretLike } from '../domain/types.js';
import type { InvolvedObject } from '../controller/recorder.js';
import { errorMessage, type Logger } from '../log.js';
import type { CheckOutcome, CheckResult } from './check.js';
import { type RegistryCredential, isRegistryAddress, registryCredentials } from './credentials.js';
import type { ResultsDocument } from './results.js';
import { CheckBudget, nextCheckDelay } from './schedule.js';

/** The bound on checks across all sources: 30 a minute, 10 at once. */
export const CHECKS_PER_MINUTE = 30;
export const CHECK_BURST = 10;
/**
 * Checks in flight at once, across hosts (one per host in any case). Two: a DNS lookup runs on
 * libuv's pool of 4 threads, and a resolver that times out must not hold all of them (the API
 * client's own lookups of a server named by host name use the same pool).
 */
export const MAX_IN_FLIGHT = 2;
/** Results are published at most this often (the last change wins). */
export const PUBLISH_DELAY_MS = 1000;
/** A publication that failed is tried again after this. */
export const PUBLISH_RETRY_MS = 30_000;

export const REJECTED_REASON = 'CredentialsRejected';

export interface CheckedRegistry {
  /** namespace/name of the source */
  source: string;
  host: string;
  result: CheckResult;
  detail: string;
  /** ms since the epoch; undefined until the first check ends. */
  checkedAt: number | undefined;
}

export interface CheckerDeps {
  /** The secrets of the source namespace, as the cache holds them (data included for pull secrets). */
  secrets(): readonly SecretLike[];
  policy: Policy;
  /** The check of one host (checkCredentials with the HTTPS request function). */
  check(cred: RegistryCredential): Promise<CheckOutcome>;
  /** `now()` dates the results and schedules the checks; the timers wake the pump and the publisher. */
  clock: Pick<Clock, 'now' | 'setTimeout' | 'clearTimeout'>;
  /** [0, 1); Math.random by default. */
  random?: () => number;
  logger: Logger;
  recorder?: { warn(obj: InvolvedObject, reason: string, message: string): void };
  /** Writes the results where `status` reads them; may throw (tried again later). */
  publish?(doc: ResultsDocument): Promise<void>;
  /** This replica's identity, named in the document. */
  identity: string;
  intervalMs: number;
  perMinute?: number;
  burst?: number;
  maxInFlight?: number;
  publishDelayMs?: number;
}

interface Entry {
  ref: string;
  host: string;
  object: InvolvedObject;
  credential: RegistryCredential;
  /** sha256 of the credentials, in memory only: tells a rotation. */
  fingerprint: string;
  resourceVersion: string;
  /** What the current result is about. */
  checked?: { fingerprint: string; resourceVersion: string };
  result: CheckResult;
  detail: string;
  checkedAt: number | undefined;
  failures: number;
  dueAt: number;
  inFlight: boolean;
}

interface Target {
  ref: string;
  object: InvolvedObject;
  resourceVersion: string;
  credentials: RegistryCredential[];
}

/** The sources to check: the copied ones (collectSources), each with the credentials of each host. Pure. */
export function checkTargets(secrets: readonly SecretLike[], policy: Policy): Target[] {
  const byName = new Map(secrets.map((s) => [s.metadata.name, s]));
  const out: Target[] = [];
  for (const src of collectSources(secrets, policy).valid) {
    const s = byName.get(src.name);
    if (!s) continue;
    out.push({
      ref: src.ref,
      object: { kind: 'Secret', namespace: policy.sourceNamespace, name: s.metadata.name, ...(s.metadata.uid ? { uid: s.metadata.uid } : {}) },
      resourceVersion: s.metadata.resourceVersion ?? '',
      credentials: registryCredentials(s),
    });
  }
  return out;
}

function fingerprint(c: RegistryCredential): string {
  return createHash('sha256').update(`${c.username ?? ''}\0${c.password ?? ''}`).digest('hex');
}

export class CredentialChecker {
  #d: CheckerDeps;
  #entries = new Map<string, Entry>();
  #hostsInFlight = new Set<string>();
  #budget: CheckBudget | undefined;
  #timer: Timer | undefined;
  #publishTimer: Timer | undefined;
  #publishing = false;
  #dirty = false;
  #running = false;

  constructor(deps: CheckerDeps) {
    this.#d = deps;
  }

  /** Starts checking: every source's hosts are due now. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#budget = new CheckBudget(this.#d.perMinute ?? CHECKS_PER_MINUTE, this.#d.burst ?? CHECK_BURST, this.#d.clock.now());
    this.#d.logger.info('credential check started', { intervalMs: this.#d.intervalMs, checksPerMinute: this.#budget.perMinute });
    this.sourcesChanged();
  }

  /** A secret of the source namespace changed: hosts whose credentials changed are due at once. */
  sourcesChanged(): void {
    if (!this.#running) return;
    this.#sync();
    this.#pump();
  }

  /** Stops scheduling; checks in flight finish on their own deadlines and are not recorded. */
  stop(): Promise<void> {
    this.#running = false;
    this.#d.clock.clearTimeout(this.#timer);
    this.#d.clock.clearTimeout(this.#publishTimer);
    return Promise.resolve();
  }

  /** The current result of every (source, host), sorted. */
  results(): CheckedRegistry[] {
    return [...this.#entries.values()]
      .map((e) => ({ source: e.ref, host: e.host, result: e.result, detail: e.detail, checkedAt: e.checkedAt }))
      .sort((a, b) => a.source.localeCompare(b.source) || a.host.localeCompare(b.host));
  }

  /** The document `publish` gets: the results with the source version each is about. */
  document(): ResultsDocument {
    const sources = new Map<string, ResultsDocument['sources'][number]>();
    for (const e of [...this.#entries.values()].sort((a, b) => a.ref.localeCompare(b.ref) || a.host.localeCompare(b.host))) {
      let s = sources.get(e.ref);
      if (!s) sources.set(e.ref, (s = { source: e.ref, resourceVersion: e.resourceVersion, registries: [] }));
      // The source as the cache holds it now: a host not yet checked on this version shows as not checked.
      const current = e.checked !== undefined && e.checked.resourceVersion === s.resourceVersion;
      s.registries.push({
        host: e.host,
        result: current ? e.result : 'unchecked',
        checkedAt: current && e.checkedAt !== undefined ? new Date(e.checkedAt).toISOString() : null,
        detail: current ? e.detail : 'not checked yet on this version of the source',
      });
    }
    return { publisher: this.#d.identity, publishedAt: new Date(this.#d.clock.now()).toISOString(), sources: [...sources.values()] };
  }

  #sync(): void {
    const now = this.#d.clock.now();
    const seen = new Set<string>();
    let changed = false;
    for (const t of checkTargets(this.#d.secrets(), this.#d.policy)) {
      for (const cred of t.credentials) {
        const key = `${t.ref} ${cred.host}`;
        seen.add(key);
        const fp = fingerprint(cred);
        const e = this.#entries.get(key);
        if (!e) {
          // A key that is not a host[:port] is never contacted; it shows as unchecked, saying why.
          const valid = isRegistryAddress(cred.host);
          this.#entries.set(key, {
            ref: t.ref,
            host: cred.host,
            object: t.object,
            credential: cred,
            fingerprint: fp,
            resourceVersion: t.resourceVersion,
            ...(valid ? {} : { checked: { fingerprint: fp, resourceVersion: t.resourceVersion } }),
            result: 'unchecked',
            detail: valid ? 'not checked yet' : 'the registry key is not a host[:port]: not contacted',
            checkedAt: undefined,
            failures: 0,
            dueAt: valid ? now : Infinity,
            inFlight: false,
          });
          changed = true;
          continue;
        }
        e.object = t.object;
        e.credential = cred;
        e.resourceVersion = t.resourceVersion;
        if (e.fingerprint !== fp) {
          e.fingerprint = fp;
          if (e.dueAt === Infinity) e.checked = { fingerprint: fp, resourceVersion: t.resourceVersion }; // never contacted
          else e.dueAt = now; // a rotation: check at once
          e.failures = 0;
        } else if (e.checked && e.checked.fingerprint === fp && e.checked.resourceVersion !== t.resourceVersion) {
          // Only metadata changed: the result holds for the new version too.
          e.checked = { fingerprint: fp, resourceVersion: t.resourceVersion };
          changed = true;
        }
      }
    }
    for (const key of [...this.#entries.keys()]) {
      if (!seen.has(key)) {
        this.#entries.delete(key);
        changed = true;
      }
    }
    if (changed) this.#schedulePublish(this.#d.publishDelayMs ?? PUBLISH_DELAY_MS);
  }

  #pump(): void {
    if (!this.#running || !this.#budget) return;
    this.#d.clock.clearTimeout(this.#timer);
    const now = this.#d.clock.now();
    const max = this.#d.maxInFlight ?? MAX_IN_FLIGHT;
    let budgetBlocked = false;
    const due = [...this.#entries.values()].filter((e) => !e.inFlight && e.dueAt <= now).sort((a, b) => a.dueAt - b.dueAt);
    for (const e of due) {
      if (this.#hostsInFlight.size >= max) break;
      if (this.#hostsInFlight.has(e.host)) continue; // runs when that host's check ends
      if (!this.#budget.take(now)) {
        budgetBlocked = true;
        break;
      }
      this.#run(e);
    }
    let wait = budgetBlocked ? this.#budget.waitMs(now) : Infinity;
    for (const e of this.#entries.values()) if (!e.inFlight && e.dueAt > now) wait = Math.min(wait, e.dueAt - now);
    if (wait !== Infinity) {
      this.#timer = this.#d.clock.setTimeout(() => this.#pump(), Math.max(0, wait));
      this.#timer.unref();
    }
  }

  #run(e: Entry): void {
    e.inFlight = true;
    this.#hostsInFlight.add(e.host);
    const asked = { fingerprint: e.fingerprint, resourceVersion: e.resourceVersion };
    void this.#d
      .check(e.credential)
      .catch((err: unknown): CheckOutcome => ({ result: 'unchecked', detail: `check failed: ${errorMessage(err)}` }))
      .then((outcome) => {
        e.inFlight = false;
        this.#hostsInFlight.delete(e.host);
        if (!this.#running || this.#entries.get(`${e.ref} ${e.host}`) !== e) return;
        this.#record(e, outcome, asked);
        this.#pump();
      });
  }

  #record(e: Entry, o: CheckOutcome, asked: { fingerprint: string; resourceVersion: string }): void {
    const now = this.#d.clock.now();
    const previous = e.checked ? e.result : undefined;
    e.result = o.result;
    e.detail = o.detail;
    e.checkedAt = now;
    e.checked = asked;
    e.failures = o.result === 'unreachable' ? e.failures + 1 : 0;
    e.dueAt = e.fingerprint !== asked.fingerprint ? now : now + nextCheckDelay(o.result, e.failures, this.#d.intervalMs, (this.#d.random ?? Math.random)());
    const fields = { source: e.ref, registry: e.host, result: o.result, ...(o.status === undefined ? {} : { status: o.status }), detail: o.detail };
    if (previous !== o.result) this.#d.logger.info('registry credentials checked', { ...fields, previous: previous ?? 'none' });
    else this.#d.logger.debug('registry credentials checked', fields);
    if (o.result === 'rejected') {
      this.#d.logger.info('registry rejected the credentials of a source', fields);
      // The version in the message makes each rotation's rejection an Event of its own (the recorder
      // keeps identical messages quiet for an hour).
      this.#d.recorder?.warn(e.object, REJECTED_REASON, `registry ${e.host} rejected the credentials (HTTP ${o.status ?? '?'}; Secret resourceVersion ${asked.resourceVersion}): ${o.detail}`);
    }
    this.#schedulePublish(this.#d.publishDelayMs ?? PUBLISH_DELAY_MS);
  }

  #schedulePublish(delayMs: number): void {
    this.#dirty = true;
    if (!this.#d.publish || this.#publishTimer !== undefined || this.#publishing || !this.#running) return;
    this.#publishTimer = this.#d.clock.setTimeout(() => void this.#publish(), delayMs);
    this.#publishTimer.unref();
  }

  async #publish(): Promise<void> {
    this.#publishTimer = undefined;
    if (!this.#d.publish || !this.#running) return;
    this.#dirty = false;
    this.#publishing = true;
    let retry = false;
    try {
      await this.#d.publish(this.document());
    } catch (err) {
      this.#dirty = true;
      retry = true;
      this.#d.logger.warn('could not publish credential results; retrying', { error: errorMessage(err), retryInMs: PUBLISH_RETRY_MS });
    } finally {
      this.#publishing = false;
    }
    if (this.#dirty) this.#schedulePublish(retry ? PUBLISH_RETRY_MS : (this.#d.publishDelayMs ?? PUBLISH_DELAY_MS));
  }
}
