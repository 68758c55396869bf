/**
 * The test overlay of the end-to-end tests: manifests/ as `kubectl kustomize` renders them, with
 * only what a one-node, loopback-only test cluster needs changed (and nothing of the operator's
 * own settings):
 * - the Deployment runs with hostNetwork (pods here get no pod network; see NODE-FACTS), and
 *   reaches the API server at 127.0.0.1 (KUBERNETES_SERVICE_HOST/PORT) instead of a Service IP;
 *   the namespace's Pod Security level is lowered to `privileged` for that (restricted forbids
 *   hostNetwork); the container's own securityContext is unchanged;
 * - with hostNetwork both replicas would share the node's ports, so the one Deployment of 2
 *   replicas becomes two Deployments of 1 replica each (`-a`, `-b`), each with its own HTTP
 *   port on 127.0.0.1, probed there by the kubelet, rolled out with maxSurge 0, maxUnavailable 1;
 *   likewise its own webhook port (`--webhook-address`, the container port `webhook` that the
 *   webhook Service targets), since both would otherwise bind the node's 9443;
 * - the image is the one the image test built, imported into the node (imagePullPolicy Never).
 */
import type { Obj } from '../harness/manifests.js';

export interface OverlayOptions {
  image: string;
  apiServerPort: number;
  /** HTTP ports of replica a and b, on 127.0.0.1. */
  ports: [number, number];
  /** Webhook ports of replica a and b. */
  webhookPorts?: [number, number];
}

interface Container {
  name: string;
  image: string;
  imagePullPolicy?: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  livenessProbe?: { httpGet?: { path: string; port: number | string; host?: string } };
  readinessProbe?: { httpGet?: { path: string; port: number | string; host?: string } };
}

interface DeploymentSpec {
  replicas?: number;
  selector: { matchLabels: Record<string, string> };
  strategy?: unknown;
  template: { metadata: { labels: Record<string, string> }; spec: { hostNetwork?: boolean; dnsPolicy?: string; containers: Container[] } };
}

export const REPLICA_LABEL = 'e2e.pullsecret-operator.io/replica';

export function overlay(rendered: Obj[], o: OverlayOptions): Obj[] {
  const out: Obj[] = [];
  for (const obj of rendered) {
    if (obj.kind === 'Namespace') {
      const ns = structuredClone(obj);
      const labels = ((ns.metadata['labels'] ?? {}) as Record<string, string>);
      labels['pod-security.kubernetes.io/enforce'] = 'privileged';
      ns.metadata['labels'] = labels;
      out.push(ns);
      continue;
    }
    if (obj.kind !== 'Deployment') {
      out.push(obj);
      continue;
    }
    (['a', 'b'] as const).forEach((replica, i) => {
      const d = structuredClone(obj);
      const port = o.ports[i] as number;
      const webhookPort = (o.webhookPorts ?? [19443, 19444])[i] as number;
      d.metadata.name = `${obj.metadata.name}-${replica}`;
      const spec = d['spec'] as DeploymentSpec;
      spec.replicas = 1;
      spec.selector.matchLabels[REPLICA_LABEL] = replica;
      spec.template.metadata.labels[REPLICA_LABEL] = replica;
      spec.strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } };
      spec.template.spec.hostNetwork = true;
      spec.template.spec.dnsPolicy = 'ClusterFirstWithHostNet';
      for (const c of spec.template.spec.containers) {
        c.image = o.image;
        c.imagePullPolicy = 'Never';
        const webhook = (c.args ?? []).some((a) => a.startsWith('--webhook-address'));
        c.args = [...(c.args ?? []).filter((a) => !a.startsWith('--webhook-address')), `--http-address=127.0.0.1:${port}`, ...(webhook ? [`--webhook-address=:${webhookPort}`] : [])];
        c.env = [...(c.env ?? []), { name: 'KUBERNETES_SERVICE_HOST', value: '127.0.0.1' }, { name: 'KUBERNETES_SERVICE_PORT', value: String(o.apiServerPort) }];
        c.ports = [{ name: 'http', containerPort: port, protocol: 'TCP' }, ...(webhook ? [{ name: 'webhook', containerPort: webhookPort, protocol: 'TCP' }] : [])];
        for (const probe of [c.livenessProbe, c.readinessProbe]) {
          if (probe?.httpGet) {
            probe.httpGet.host = '127.0.0.1';
            probe.httpGet.port = port;
          }
        }
      }
      out.push(d);
    });
  }
  return out;
}
