/**
 * The MutatingWebhookConfiguration as an admin installs it for an operator run with --webhook-url:
 * the shape the operator would register (desiredConfiguration) with that URL and no caBundle. The
 * manifests ship the same with a Service instead of a URL; under the manifests' identity the
 * admission policy lets the operator change only the caBundle, which it then writes.
 */
import { AdmissionregistrationV1Api, ApiException, type KubeConfig } from '@kubernetes/client-node';
import { WEBHOOK_CONFIGURATION_NAME, desiredConfiguration } from '../../src/webhook/configuration.js';

export async function deleteWebhookConfiguration(kc: KubeConfig): Promise<void> {
  await kc
    .makeApiClient(AdmissionregistrationV1Api)
    .deleteMutatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION_NAME })
    .catch((e: unknown) => {
      if (!(e instanceof ApiException && e.code === 404)) throw e;
    });
}

export async function installWebhookConfiguration(kc: KubeConfig, url: string): Promise<void> {
  await deleteWebhookConfiguration(kc);
  const { webhooks, ...rest } = desiredConfiguration(url, '');
  await kc.makeApiClient(AdmissionregistrationV1Api).createMutatingWebhookConfiguration({ body: { ...rest, webhooks: (webhooks ?? []).map((w) => ({ ...w, clientConfig: { url: w.clientConfig.url } })) } });
}
