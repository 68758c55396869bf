/**
 * The MutatingWebhookConfiguration `pullsecret-operator`, as the operator writes it with
 * --webhook-url, and as manifests/base/mutatingwebhookconfiguration.yaml ships it (with a Service
 * as its client config). Pure: no I/O.
 */
import type { V1MutatingWebhookConfiguration, V1MutatingWebhook } from '@kubernetes/client-node';
import { ALWAYS_EXCLUDED } from '../domain/desired.js';

export const WEBHOOK_CONFIGURATION_NAME = 'pullsecret-operator';
export const WEBHOOK_NAME = 'serviceaccounts.pullsecret-operator.io';
export const WEBHOOK_PATH = '/mutate-serviceaccounts';
/** The Service of the manifests, in the operator's namespace. */
export const WEBHOOK_SERVICE = 'pullsecret-operator-webhook';
/** The Secret, in the operator's namespace, that holds the CA and the serving certificate. */
export const WEBHOOK_SECRET = 'pullsecret-operator-webhook-tls';
/** The API server waits at most this long; the webhook answers within LIVE_READ_TIMEOUT_MS of its own. */
export const WEBHOOK_TIMEOUT_SECONDS = 3;

export type ClientConfig = { url: string } | { service: { namespace: string; name: string; path: string; port: number } };

/** The webhook: ServiceAccount CREATE only, fail-open, no side effects, kube-system & co. never sent. */
export function desiredWebhook(clientConfig: ClientConfig, caBundle: string | undefined): V1MutatingWebhook {
  return {
    name: WEBHOOK_NAME,
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: 'Ignore',
    timeoutSeconds: WEBHOOK_TIMEOUT_SECONDS,
    matchPolicy: 'Equivalent',
    reinvocationPolicy: 'Never',
    namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...ALWAYS_EXCLUDED] }] },
    rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['serviceaccounts'], scope: 'Namespaced' }],
    clientConfig: { ...clientConfig, ...(caBundle === undefined ? {} : { caBundle }) },
  };
}

export function desiredConfiguration(url: string, caBundle: string): V1MutatingWebhookConfiguration {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: WEBHOOK_CONFIGURATION_NAME, labels: { 'app.kubernetes.io/name': 'pullsecret-operator', 'app.kubernetes.io/part-of': 'pullsecret-operator' } },
    webhooks: [desiredWebhook({ url: `${url.replace(/\/$/, '')}${WEBHOOK_PATH}` }, caBundle)],
  };
}

/** True when every field of `want` is in `have` with the same value (fields the API server defaulted are ignored). */
export function covers(have: unknown, want: unknown): boolean {
  if (Array.isArray(want)) return Array.isArray(have) && have.length === want.length && want.every((w, i) => covers(have[i], w));
  if (want !== null && typeof want === 'object') {
    if (have === null || typeof have !== 'object') return false;
    return Object.entries(want).every(([k, v]) => v === undefined || covers((have as Record<string, unknown>)[k], v));
  }
  return have === want;
}
