/**
 * A real registry for the credential check's tests, on loopback only: distribution v3 (the binary
 * test/node/build.sh builds for the node tests) with TLS from a test CA of its own, in htpasswd
 * mode (Basic) or token mode (Bearer) behind TokenIssuer, a small token service that signs ES256
 * tokens with a self-signed certificate the registry trusts (`rootcertbundle`), with the `iss` and
 * `aud` the registry checks. The issuer records every request it gets, on every address it listens
 * on, so a test can tell whether credentials were sent.
 */
import { execFile } from 'node:child_process';
import { createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';
import { freePorts, repoRoot, runBuildScript } from './control-plane.js';

const execFileAsync = promisify(execFile);

export interface RegistryPki {
  /** The test CA: give it to the operator with NODE_EXTRA_CA_CERTS. */
  caCert: string;
  /** A serving certificate for 127.0.0.1, 127.0.0.2 and localhost, signed by the CA. */
  serverCert: string;
  serverKey: string;
  /** The token issuer's signing key (EC P-256) and its self-signed certificate (the registry's rootcertbundle). */
  issuerCert: string;
  issuerKey: string;
}

const CNF = `[req]
distinguished_name = dn
[dn]
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,IP:127.0.0.2,DNS:localhost
[v3_issuer]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
`;

/** Makes the CA, the serving certificate and the issuer's certificate with openssl in `dir`. */
export async function makeRegistryPki(dir: string): Promise<RegistryPki> {
  await mkdir(dir, { recursive: true });
  const p = (f: string): string => join(dir, f);
  await writeFile(p('openssl.cnf'), CNF);
  const ssl = (...args: string[]): Promise<unknown> => execFileAsync('openssl', args, { cwd: dir });
  for (const k of ['ca', 'server', 'issuer']) await ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', p(`${k}.key`));
  await ssl('req', '-config', p('openssl.cnf'), '-x509', '-new', '-key', p('ca.key'), '-subj', '/CN=pso-registry-test-ca', '-days', '2', '-extensions', 'v3_ca', '-out', p('ca.crt'));
  await ssl('req', '-config', p('openssl.cnf'), '-new', '-key', p('server.key'), '-subj', '/CN=pso-test-registry', '-out', p('server.csr'));
  await ssl('x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-set_serial', '2', '-days', '2', '-extfile', p('openssl.cnf'), '-extensions', 'v3_server', '-out', p('server.crt'));
  await ssl('req', '-config', p('openssl.cnf'), '-x509', '-new', '-key', p('issuer.key'), '-subj', '/CN=pso-test-token-issuer', '-days', '2', '-extensions', 'v3_issuer', '-out', p('issuer.crt'));
  return { caCert: p('ca.crt'), serverCert: p('server.crt'), serverKey: p('server.key'), issuerCert: p('issuer.crt'), issuerKey: p('issuer.key') };
}

/** The folder of the registry binary (test/node/build.sh: built once, then cached). */
export async function registryBinary(): Promise<string> {
  return join(await runBuildScript(join(repoRoot(), 'test', 'node', 'build.sh')), 'registry');
}

export type RegistryAuth =
  | { htpasswd: { username: string; password: string } }
  | { token: { realm: string; service: string; issuer: string } };

export interface TestRegistry {
  /** 127.0.0.1:<port>: the key of a pull secret for it. */
  host: string;
  port: number;
  /** Stops the process (the port stays reserved for a restart). */
  stop(): Promise<void>;
  start(): Promise<void>;
  log(): string;
}

/** Starts a distribution registry on 127.0.0.1 with TLS and the given authentication; waits until it answers. */
export async function startRegistry(opts: { bin: string; dir: string; pki: RegistryPki; auth: RegistryAuth; name: string }): Promise<TestRegistry> {
  const [port] = (await freePorts(1)) as [number];
  const host = `127.0.0.1:${port}`;
  const dir = join(opts.dir, opts.name);
  await mkdir(join(dir, 'data'), { recursive: true });
  let auth: string;
  if ('htpasswd' in opts.auth) {
    const { username, password } = opts.auth.htpasswd;
    await writeFile(join(dir, 'htpasswd'), `${username}:${bcrypt.hashSync(password, 5)}\n`);
    auth = `  htpasswd:\n    realm: pso-test\n    path: ${join(dir, 'htpasswd')}\n`;
  } else {
    const t = opts.auth.token;
    auth = `  token:\n    realm: "${t.realm}"\n    service: ${t.service}\n    issuer: ${t.issuer}\n    rootcertbundle: ${opts.pki.issuerCert}\n`;
  }
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    `version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: ${join(dir, 'data')}
http:
  addr: ${host}
  tls:
    certificate: ${opts.pki.serverCert}
    key: ${opts.pki.serverKey}
auth:
${auth}`,
  );
  const logPath = join(dir, 'registry.log');
  const ca = await readFile(opts.pki.caCert);
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    const fd = openSync(logPath, 'a');
    try {
      child = spawn(opts.bin, ['serve', config], { stdio: ['ignore', fd, fd], env: { PATH: process.env.PATH ?? '', OTEL_TRACES_EXPORTER: 'none' } });
    } finally {
      closeSync(fd);
    }
    const c = child;
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (c.exitCode !== null) throw new Error(`registry ${opts.name} exited: ${readFileSync(logPath, 'utf8').slice(-2000)}`);
      const status = await new Promise<number>((resolve) => {
        const req = https.get({ host: '127.0.0.1', port, path: '/v2/', ca, timeout: 1000 }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', () => resolve(0));
        req.on('timeout', () => req.destroy());
      });
      if (status === 401) return;
      if (Date.now() > deadline) throw new Error(`registry ${opts.name} did not answer 401 on /v2/ within 20 s: ${readFileSync(logPath, 'utf8').slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const stop = async (): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  };
  await start();
  return { host, port, stop, start, log: () => readFileSync(logPath, 'utf8') };
}

export interface IssuerRequest {
  /** Where it arrived: `https://127.0.0.1:<port>`, `http://...`. */
  listener: string;
  method: string;
  path: string;
  /** Whether it carried credentials: an Authorization header, or a password in an OAuth2 form. */
  credentials: boolean;
  username?: string;
}

/**
 * The token service: POST (OAuth2 password grant; or refused with 405 when `refusePost`, to make
 * the client fall back to a GET) and GET with Basic auth. Tokens are ES256 JWTs with an `x5c`
 * header holding the issuer's certificate.
 */
export class TokenIssuer {
  readonly requests: IssuerRequest[] = [];
  readonly users = new Map<string, string>();
  refusePost = false;
  #servers: (http.Server | https.Server)[] = [];
  #pki: RegistryPki;
  #issuer: string;
  #service: string;

  constructor(pki: RegistryPki, issuer: string, service: string) {
    this.#pki = pki;
    this.#issuer = issuer;
    this.#service = service;
  }

  /** Listens with TLS on `address` (port 0: any free one); returns the base URL. */
  async listenHttps(address: string): Promise<string> {
    const server = https.createServer({ cert: readFileSync(this.#pki.serverCert), key: readFileSync(this.#pki.serverKey) });
    return this.#listen(server, address, 'https');
  }

  /** Listens without TLS: a realm there must never get a request with credentials. */
  async listenHttp(address: string): Promise<string> {
    return this.#listen(http.createServer(), address, 'http');
  }

  async close(): Promise<void> {
    await Promise.all(this.#servers.map((s) => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); })));
  }

  /** Requests that carried credentials. */
  withCredentials(): IssuerRequest[] {
    return this.requests.filter((r) => r.credentials);
  }

  async #listen(server: http.Server, address: string, scheme: 'http' | 'https'): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, address, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    const listener = `${scheme}://${address}:${port}`;
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.#answer(listener, req, Buffer.concat(chunks).toString('utf8'), res));
    });
    this.#servers.push(server);
    return listener;
  }

  #answer(listener: string, req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const form = new URLSearchParams(body);
    let username: string | undefined;
    let password: string | undefined;
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
    if (basic) {
      const text = Buffer.from(basic[1] ?? '', 'base64').toString('utf8');
      username = text.slice(0, text.indexOf(':'));
      password = text.slice(text.indexOf(':') + 1);
    } else if (req.method === 'POST' && form.get('password') !== null) {
      username = form.get('username') ?? '';
      password = form.get('password') ?? '';
    }
    this.requests.push({ listener, method: req.method ?? '', path: url.pathname, credentials: req.headers.authorization !== undefined || form.get('password') !== null, ...(username === undefined ? {} : { username }) });
    const send = (status: number, payload?: unknown): void => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(payload === undefined ? '' : JSON.stringify(payload));
    };
    if (url.pathname !== '/token') return send(404);
    if (req.method === 'POST' && this.refusePost) return send(405);
    if (req.method !== 'POST' && req.method !== 'GET') return send(405);
    if (req.method === 'POST' && form.get('grant_type') !== 'password') return send(400, { error: 'unsupported_grant_type' });
    if (username === undefined || this.users.get(username) !== password) return send(401, { error: 'invalid credentials' });
    const service = req.method === 'POST' ? form.get('service') : url.searchParams.get('service');
    if (service !== this.#service) return send(400, { error: 'unknown service' });
    const token = this.#sign(username);
    send(200, req.method === 'POST' ? { access_token: token, expires_in: 300 } : { token, access_token: token, expires_in: 300 });
  }

  #sign(subject: string): string {
    const der = new X509Certificate(readFileSync(this.#pki.issuerCert)).raw.toString('base64');
    const now = Math.floor(Date.now() / 1000);
    const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
    const header = b64({ typ: 'JWT', alg: 'ES256', x5c: [der] });
    const claims = b64({ iss: this.#issuer, sub: subject, aud: this.#service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access: [] });
    const signature = sign('sha256', Buffer.from(`${header}.${claims}`), { key: createPrivateKey(readFileSync(this.#pki.issuerKey)), dsaEncoding: 'ieee-p1363' });
    return `${header}.${claims}.${signature.toString('base64url')}`;
  }
}

/** A pull secret's .dockerconfigjson for one registry, base64-encoded (as Secret data). */
export function dockerConfig(host: string, username: string, password: string): string {
  const auth = Buffer.from(`${username}:${password}`).toString('base64');
  return Buffer.from(JSON.stringify({ auths: { [host]: { username, password, auth } } })).toString('base64');
}
