/**
 * The credential check's results as the leader publishes them, and as `status` reads them back.
 * The document holds no secret data: hosts, results, times, details (hosts, paths and HTTP
 * statuses) and each source's resourceVersion, so a reader can tell a result about older data.
 * Pure: no I/O.
 */
import { CHECK_RESULTS, type CheckResult } from './check.js';
import { registryCredentials } from './credentials.js';
import type { SecretLike } from '../domain/types.js';

/** The ConfigMap in the operator's namespace that holds the leader's latest results. */
export const CREDENTIALS_CONFIGMAP = 'pullsecret-operator-credentials';
/** Its one data key: a JSON ResultsDocument. */
export const RESULTS_KEY = 'results.json';

export interface RegistryStatus {
  host: string;
  result: CheckResult;
  /** RFC 3339; null when never checked. */
  checkedAt: string | null;
  detail: string;
}

export interface PublishedSource {
  /** namespace/name */
  source: string;
  /** The resourceVersion of the source Secret the results are about. */
  resourceVersion: string;
  registries: RegistryStatus[];
}

export interface ResultsDocument {
  /** The replica that published it. */
  publisher: string;
  publishedAt: string;
  sources: PublishedSource[];
}

/** The document of a ConfigMap's data, or why it cannot be read. */
export function parseResults(data: Record<string, string> | undefined): ResultsDocument | { error: string } {
  const text = data?.[RESULTS_KEY];
  if (text === undefined) return { error: `no ${RESULTS_KEY} key` };
  try {
    const doc = JSON.parse(text) as Partial<ResultsDocument>;
    if (!Array.isArray(doc.sources)) return { error: `${RESULTS_KEY} has no sources list` };
    return { publisher: String(doc.publisher ?? ''), publishedAt: String(doc.publishedAt ?? ''), sources: doc.sources };
  } catch {
    return { error: `${RESULTS_KEY} is not JSON` };
  }
}

/**
 * The registries of one source as `status` shows them: every host its data names, with the
 * published result when that result is about this very version of the Secret; otherwise
 * `unchecked`, saying why (`missing`: why there are no results at all, e.g. no ConfigMap).
 */
export function registryStatuses(secret: SecretLike, ref: string, doc: ResultsDocument | undefined, missing: string): RegistryStatus[] {
  const published = doc?.sources.find((s) => s.source === ref);
  return registryCredentials(secret).map(({ host }) => {
    const r = published?.registries.find((x) => x.host === host);
    if (!doc) return { host, result: 'unchecked', checkedAt: null, detail: missing };
    if (!published || !r) return { host, result: 'unchecked', checkedAt: null, detail: 'not checked yet by the operator' };
    if (!CHECK_RESULTS.includes(r.result)) return { host, result: 'unchecked', checkedAt: null, detail: `unknown result ${JSON.stringify(r.result)}` };
    if (published.resourceVersion !== (secret.metadata.resourceVersion ?? '')) {
      return { host, result: 'unchecked', checkedAt: r.checkedAt, detail: `the source changed after the last check (which was: ${r.result}); the operator checks it again within seconds` };
    }
    return { host, result: r.result, checkedAt: r.checkedAt, detail: r.detail };
  });
}
