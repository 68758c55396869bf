/**
 * `pullsecret-operator cleanup`: removes every imagePullSecrets entry the operator added (as
 * recorded in each ServiceAccount's annotation) and then every copy it manages. Nothing else.
 */
import { pullSecretsChange } from './domain/desired.js';
import { MANAGED_SELECTOR, isManaged } from './domain/ownership.js';
import type { SecretLike, ServiceAccountLike } from './domain/types.js';
import { KubeError, type Kube, type ListOptions, type ListResult } from './kube/client.js';
import { PAGE_SIZE } from './kube/reflector.js';
import { copyOf, serviceAccountOf } from './kube/ingest.js';
import { patchPullSecrets } from './controller/pullsecrets.js';
import type { Logger } from './log.js';

export interface CleanupResult {
  serviceAccounts: number;
  secrets: number;
}

export async function cleanup(kube: Kube, logger: Logger, dryRun: boolean): Promise<CleanupResult> {
  const result: CleanupResult = { serviceAccounts: 0, secrets: 0 };
  // 1. ServiceAccount entries first, so that no ServiceAccount names a deleted copy.
  const sas: ServiceAccountLike[] = [];
  for await (const page of pages((o) => kube.listServiceAccounts(o))) sas.push(...page.map((raw) => serviceAccountOf(raw)));
  for (const sa of sas) {
    const ns = sa.metadata.namespace;
    const change = pullSecretsChange(sa, []);
    if (dryRun) {
      if (change) {
        logger.info('dry run: would remove our entries from serviceaccount', { namespace: ns, serviceAccount: sa.metadata.name });
        result.serviceAccounts++;
      }
      continue;
    }
    if (await patchPullSecrets(kube, sa.metadata, change, (current) => pullSecretsChange(current, []))) {
      result.serviceAccounts++;
      logger.info('serviceaccount cleaned', { namespace: ns, serviceAccount: sa.metadata.name });
    }
  }
  // 2. Then the copies.
  const copies: SecretLike[] = [];
  for await (const page of pages((o) => kube.listSecrets(undefined, { ...o, labelSelector: MANAGED_SELECTOR }))) copies.push(...page.map((raw) => copyOf(raw)));
  for (const s of copies) {
    const ns = s.metadata.namespace;
    const name = s.metadata.name;
    if (dryRun) {
      logger.info('dry run: would delete copy', { namespace: ns, secret: name });
      result.secrets++;
      continue;
    }
    if (await deleteIfOurs(kube, s, logger)) {
      result.secrets++;
      logger.info('copy deleted', { namespace: ns, secret: name });
    }
  }
  return result;
}

/**
 * Deletes a copy only in the state in which it was listed as ours: the delete carries its
 * resourceVersion as a precondition. If it changed meanwhile (409), it is read again: still ours,
 * it is deleted at its new version; handed over to an admin (our label removed), it is left alone.
 */
async function deleteIfOurs(kube: Kube, listed: SecretLike, logger: Logger, maxAttempts = 5): Promise<boolean> {
  const { namespace: ns, name } = listed.metadata;
  let current = listed;
  for (let attempt = 1; ; attempt++) {
    try {
      await kube.deleteSecret(ns, name, current.metadata.resourceVersion);
      return true;
    } catch (err) {
      if (err instanceof KubeError && err.kind === 'NotFound') return false;
      if (!(err instanceof KubeError && err.kind === 'Conflict') || attempt >= maxAttempts) throw err;
    }
    const fresh = await kube.getSecret(ns, name);
    if (!fresh) return false;
    if (!isManaged(fresh)) {
      logger.info('secret left alone: no longer ours', { namespace: ns, secret: name });
      return false;
    }
    current = copyOf(fresh);
  }
}

/** A collection, page by page (limit/continue). */
export async function* pages<T>(list: (o: ListOptions) => Promise<ListResult<T>>): AsyncGenerator<T[]> {
  let cont: string | undefined;
  do {
    const page = await list(cont ? { limit: PAGE_SIZE, continue: cont } : { limit: PAGE_SIZE });
    yield page.items;
    cont = page.continue;
  } while (cont);
}
