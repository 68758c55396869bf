/** kube-controller-manager: the controllers a plane runs, and with a node the ones that run its pods. */
import type { Pki } from './pki.js';

export function controllerManagerArgs(o: { kubeconfigPath: string; pki: Pki; node: boolean; extra?: readonly string[] | undefined }): string[] {
  return [
    '--kubeconfig', o.kubeconfigPath,
    '--bind-address', '127.0.0.1',
    '--secure-port', '0',
    '--leader-elect=false',
    '--controllers',
    [
      'namespace,serviceaccount,serviceaccount-token,garbagecollector,clusterrole-aggregation,root-ca-cert-publisher',
      // What runs Deployments on a node and notices a node's state; the endpoints of Services, so
      // that the API server reaches the manifests' Service-backed webhook at its pods.
      ...(o.node ? ['deployment,replicaset,nodelifecycle,podgc,endpoint,endpointslice'] : []),
    ].join(','),
    '--root-ca-file', o.pki.caCert,
    '--service-account-private-key-file', o.pki.saKey,
    '--use-service-account-credentials=false',
    ...(o.extra ?? []),
  ];
}
