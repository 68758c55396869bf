/**
 * `pullsecret-operator cleanup`: removes every imagePullSecrets entry the operator added (as
 * recorded in each ServiceAccount's annotation) and then every copy it manages. Nothing else.
 */
import { pullSecretsChange } from './domain/desired.js';
import type { SecretLike, ServiceAccountLike } from './domain/types.js';
import { KubeError, type Kube, type ListOptions, type ListResult } from './kube/client.js';
import { PAGE_SIZE } from './kube/informers.js';
import { copyOf, serviceAccountOf } from './kube/ingest.js';
import { patchPullSecrets } from './controller/pullsecrets.js';
import { MANAGED_SELECTOR } from './controller/operator.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from './domain/naming.js';
import type { Logger } from './log.js';

export interface CleanupResult {
  serviceAccounts: number;
  secrets: number;
}

export async function cleanup(kube: Kube, logger: Logger, dryRun: boolean): Promise<CleanupResult> {
  const result: CleanupResult = { serviceAccounts: 0, secrets: 0 };
  // 1. ServiceAccount entries first, so that no ServiceAccount names a deleted copy.
  const sas: ServiceAccountLike[] = [];
  for await (const page of pages((o) => kube.listServiceAccounts(o))) sas.push(...page.map(serviceAccountOf));
  for (const sa of sas) {
    const ns = sa.metadata.namespace ?? '';
    if (dryRun) {
      if (pullSecretsChange(sa, [])) {
        logger.info('dry run: would remove our entries from serviceaccount', { namespace: ns, serviceAccount: sa.metadata.name });
        result.serviceAccounts++;
      }
      continue;
    }
    if (await patchPullSecrets(kube, sa, (current) => pullSecretsChange(current, []))) {
      result.serviceAccounts++;
      logger.info('serviceaccount cleaned', { namespace: ns, serviceAccount: sa.metadata.name });
    }
  }
  // 2. Then the copies.
  const copies: SecretLike[] = [];
  for await (const page of pages((o) => kube.listSecrets(undefined, { ...o, labelSelector: MANAGED_SELECTOR }))) copies.push(...page.map(copyOf));
  for (const s of copies) {
    const ns = s.metadata.namespace ?? '';
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
  const ns = listed.metadata.namespace ?? '';
  const name = listed.metadata.name;
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
    if (fresh.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) {
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
