/**
 * kube-apiserver: its flags, its audit policy, and the admin's TLS requests that tell whether it
 * is ready and which version it runs.
 */
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import type { Pki } from './pki.js';

/**
 * Metadata of every write to secrets, serviceaccounts, leases and webhook configurations, and of
 * every request (reads and watches too) of the ServiceAccounts of IDENTITY_NAMESPACE, where
 * with-cluster.ts and the fault suite install the operator's identity; nothing else. Tests judge the
 * operator from this record (test/harness/audit.ts), not from its log lines.
 */
export const IDENTITY_NAMESPACE = 'pso-operator-identity';
export const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    verbs: [create, update, patch, delete, deletecollection]
    resources:
      - group: ""
        resources: [secrets, serviceaccounts]
      - group: coordination.k8s.io
        resources: [leases]
      - group: admissionregistration.k8s.io
        resources: [mutatingwebhookconfigurations]
  - level: Metadata
    userGroups: ["system:serviceaccounts:${IDENTITY_NAMESPACE}"]
  - level: None
`;

/** The API server's flags for a plane in `dir`, with etcd at `etcdUrl`; the audit log when `audit`. */
export function apiserverArgs(o: { dir: string; etcdUrl: string; port: number; pki: Pki; audit: boolean }): string[] {
  return [
    ...(o.audit ? ['--audit-log-path', join(o.dir, 'audit.log'), '--audit-policy-file', join(o.dir, 'audit-policy.yaml'), '--audit-log-maxsize', '0'] : []),
    '--etcd-servers', o.etcdUrl,
    '--bind-address', '127.0.0.1',
    '--advertise-address', '127.0.0.1',
    '--secure-port', String(o.port),
    '--cert-dir', join(o.dir, 'apiserver-certs'),
    '--tls-cert-file', o.pki.serverCert,
    '--tls-private-key-file', o.pki.serverKey,
    '--client-ca-file', o.pki.caCert,
    '--service-account-issuer', 'https://kubernetes.default.svc.cluster.local',
    '--service-account-key-file', o.pki.saPub,
    '--service-account-signing-key-file', o.pki.saKey,
    '--service-cluster-ip-range', '10.0.0.0/24',
    '--authorization-mode', 'RBAC',
    '--endpoint-reconciler-type', 'none',
    // Every watch is served from the watch cache, as in production: watches that ask for them get
    // a bookmark about once a minute, which is how the operator tells an idle watch from a dead
    // connection. Compacting etcd every 10 s (default 5 min) keeps etcd small under the benchmarks.
    '--etcd-compaction-interval', '10s',
    // A Service-backed webhook (the manifests' MutatingWebhookConfiguration) is dialed at its
    // endpoints, not its ClusterIP: with no endpoints here it fails at once, and no test's traffic
    // ever leaves the loopback addresses. Tests that need the webhook register it by URL.
    '--enable-aggregator-routing=true',
  ];
}

export interface TlsClient {
  ca: string;
  cert: string;
  key: string;
}

/** One GET against the apiserver; resolves to the status code (0 on connection errors) and the body. */
export function httpsGetBody(url: string, tls: TlsClient, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((res) => {
    const req = request(url, { ...tls, agent: false, timeout: timeoutMs }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (chunk: string) => {
        body += chunk;
      });
      r.on('end', () => res({ status: r.statusCode ?? 0, body }));
      r.on('error', () => res({ status: 0, body: '' }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => res({ status: 0, body: '' }));
    req.end();
  });
}

/** One GET against the apiserver; resolves to the status code (0 on connection errors). */
export async function httpsGet(url: string, tls: TlsClient, timeoutMs = 2000): Promise<number> {
  return (await httpsGetBody(url, tls, timeoutMs)).status;
}

/** What a client needs of a plane to reach its API server as the admin. */
export interface PlaneAddress {
  server: string;
  caCertPath: string;
  adminCertPath: string;
  adminKeyPath: string;
}

async function adminTls(plane: PlaneAddress): Promise<TlsClient> {
  const [ca, cert, key] = await Promise.all([plane.caCertPath, plane.adminCertPath, plane.adminKeyPath].map((f) => readFile(f, 'utf8')));
  return { ca: ca ?? '', cert: cert ?? '', key: key ?? '' };
}

/** GET <server>/readyz with the admin cert; true on 200. */
export async function isReady(plane: PlaneAddress): Promise<boolean> {
  try {
    return (await httpsGet(`${plane.server}/readyz`, await adminTls(plane))) === 200;
  } catch {
    return false;
  }
}

/** The gitVersion the API server reports at /version (e.g. v1.34.4), or undefined if it does not answer. */
export async function serverVersion(plane: PlaneAddress): Promise<string | undefined> {
  try {
    const r = await httpsGetBody(`${plane.server}/version`, await adminTls(plane));
    if (r.status !== 200) return undefined;
    const v = (JSON.parse(r.body) as { gitVersion?: unknown }).gitVersion;
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}
