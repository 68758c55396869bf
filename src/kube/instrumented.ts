/**
 * A Kube that counts every request it passes on, by RBAC verb, resource and HTTP status code:
 * what the operator costs the API server, as the operator sees it (the API server's own
 * apiserver_request_total has no label for the client). Wraps any Kube, as the fault tests do.
 *
 * The code of an answer is its HTTP status when it was an error; a success is "2xx" (the client
 * reads the body of any 2xx alike and keeps no finer code); a GET that found nothing is "404";
 * "<error>" (client-go's word) means no answer at all: a timeout or a broken connection. A watch
 * is counted when it ends, as the API server counts it: "200" when the server closed it, else the
 * status or "<error>" it ended with.
 */
import type { Kube } from './client.js';

export interface RequestObserver {
  apiRequest(verb: string, resource: string, code: string): void;
}

/** The status code of a failed request, or "<error>" when there was no answer. */
function errorCode(err: unknown): string {
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? String(status) : '<error>';
}

/** The resource a watch path names: its last segment (`/api/v1/namespaces/default/secrets` -> `secrets`). */
export function watchedResource(path: string): string {
  return path.split('?')[0]?.split('/').filter((s) => s !== '').pop() ?? '';
}

export function instrumentKube(kube: Kube, observer: RequestObserver): Kube {
  const count = <T>(verb: string, resource: string, call: () => Promise<T>): Promise<T> =>
    call().then(
      (value) => {
        observer.apiRequest(verb, resource, verb === 'get' && value === undefined ? '404' : '2xx');
        return value;
      },
      (err: unknown) => {
        observer.apiRequest(verb, resource, errorCode(err));
        throw err;
      },
    );
  const out: Kube = {
    listNamespaces: (o) => count('list', 'namespaces', () => kube.listNamespaces(o)),
    listSecrets: (ns, o) => count('list', 'secrets', () => kube.listSecrets(ns, o)),
    listServiceAccounts: (o) => count('list', 'serviceaccounts', () => kube.listServiceAccounts(o)),
    getSecret: (ns, name) => count('get', 'secrets', () => kube.getSecret(ns, name)),
    createSecret: (s) => count('create', 'secrets', () => kube.createSecret(s)),
    replaceSecret: (s) => count('update', 'secrets', () => kube.replaceSecret(s)),
    deleteSecret: (ns, name, rv) => count('delete', 'secrets', () => kube.deleteSecret(ns, name, rv)),
    getServiceAccount: (ns, name) => count('get', 'serviceaccounts', () => kube.getServiceAccount(ns, name)),
    patchServiceAccount: (ns, name, patch) => count('patch', 'serviceaccounts', () => kube.patchServiceAccount(ns, name, patch)),
    createEvent: (e) => count('create', 'events', () => kube.createEvent(e)),
    getLease: (ns, name) => count('get', 'leases', () => kube.getLease(ns, name)),
    createLease: (l) => count('create', 'leases', () => kube.createLease(l)),
    replaceLease: (l) => count('update', 'leases', () => kube.replaceLease(l)),
    watch: (path, query, onEvent, done) => {
      const resource = watchedResource(path);
      return kube.watch(path, query, onEvent, (err) => {
        observer.apiRequest('watch', resource, err ? errorCode(err) : '200');
        done(err);
      });
    },
    getNamespace: (name) => count('get', 'namespaces', () => kube.getNamespace(name)),
    getConfigMap: (namespace, name) => count('get', 'configmaps', () => kube.getConfigMap(namespace, name)),
    applyConfigMap: (namespace, name, labels, data) => count('patch', 'configmaps', () => kube.applyConfigMap(namespace, name, labels, data)),
    getMutatingWebhookConfiguration: (name) => count('get', 'mutatingwebhookconfigurations', () => kube.getMutatingWebhookConfiguration(name)),
    createMutatingWebhookConfiguration: (m) => count('create', 'mutatingwebhookconfigurations', () => kube.createMutatingWebhookConfiguration(m)),
    replaceMutatingWebhookConfiguration: (m) => count('update', 'mutatingwebhookconfigurations', () => kube.replaceMutatingWebhookConfiguration(m)),
    patchMutatingWebhookConfiguration: (name, ops) => count('patch', 'mutatingwebhookconfigurations', () => kube.patchMutatingWebhookConfiguration(name, ops)),
  };
  return out;
}
