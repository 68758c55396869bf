/**
 * The plane's certificates (openssl): a CA, the API server's serving certificate (SANs 127.0.0.1
 * and localhost), an admin client certificate (O=system:masters), the ServiceAccount signing key
 * pair, and the admin kubeconfig.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

const OPENSSL_CNF = `[req]
distinguished_name = dn
prompt = no
[dn]
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[v3_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
authorityKeyIdentifier = keyid
[v3_client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`;

export interface Pki {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  saKey: string;
  saPub: string;
}

export async function makePki(pki: string): Promise<Pki> {
  await mkdir(pki, { recursive: true });
  const p = (f: string): string => join(pki, f);
  const cnf = p('openssl.cnf');
  await writeFile(cnf, OPENSSL_CNF);
  const ssl = (...args: string[]): Promise<unknown> => execFileAsync('openssl', args, { cwd: pki });
  const ecKey = (out: string): Promise<unknown> =>
    ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', out);
  await Promise.all([
    ecKey(p('ca.key')),
    ecKey(p('server.key')),
    ecKey(p('admin.key')),
    ssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', p('sa.key')),
  ]);
  await Promise.all([
    ssl('req', '-config', cnf, '-x509', '-new', '-key', p('ca.key'), '-subj', '/CN=pso-test-ca',
      '-days', '3650', '-extensions', 'v3_ca', '-out', p('ca.crt')),
    ssl('pkey', '-in', p('sa.key'), '-pubout', '-out', p('sa.pub')),
  ]);
  const leaf = async (name: string, subj: string, ext: string, serial: string): Promise<void> => {
    await ssl('req', '-config', cnf, '-new', '-key', p(`${name}.key`), '-subj', subj, '-out', p(`${name}.csr`));
    await ssl('x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.crt'), '-CAkey', p('ca.key'),
      '-set_serial', serial, '-days', '365', '-extfile', cnf, '-extensions', ext, '-out', p(`${name}.crt`));
  };
  await Promise.all([
    leaf('server', '/CN=kube-apiserver', 'v3_server', '2'),
    leaf('admin', '/O=system:masters/CN=admin', 'v3_client', '3'),
  ]);
  return {
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    adminCert: p('admin.crt'),
    adminKey: p('admin.key'),
    saKey: p('sa.key'),
    saPub: p('sa.pub'),
  };
}

export function kubeconfigYaml(server: string, ca: string, cert: string, key: string): string {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  return `apiVersion: v1
kind: Config
clusters:
- name: pso-test
  cluster:
    server: ${server}
    certificate-authority-data: ${b64(ca)}
users:
- name: admin
  user:
    client-certificate-data: ${b64(cert)}
    client-key-data: ${b64(key)}
contexts:
- name: pso-test
  context:
    cluster: pso-test
    user: admin
current-context: pso-test
`;
}
