/**
 * A real local Kubernetes control plane for integration tests: etcd, kube-apiserver and
 * kube-controller-manager built from Go modules by test/control-plane/build.sh.
 *
 * No module-level mutable state and no signal handlers here: callers (cli.ts,
 * with-cluster.ts, tests) own process lifetime and call stop().
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { KUBERNETES_VERSION_ENV, kubernetesVersion } from './kubernetes-version.js';
import { type NodeInfo, type RunningNode, startNode } from './node.js';

const execFileAsync = promisify(execFile);

export const COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager'] as const;
export type ComponentName = (typeof COMPONENTS)[number];

/** A started process, enough to find, stop and start it again from another process. */
export interface ProcessRef {
  /** A plane component, or a node one (containerd, registry, kubelet, kube-scheduler). */
  name: string;
  pid: number;
  /** Absolute path of the binary; used to check a pid still belongs to us before signalling it. */
  bin: string;
  /** Its command line, so that it can be started again as it was. */
  args: string[];
  logPath: string;
}

export interface ControlPlane {
  /** The Kubernetes version its binaries were built from, e.g. v1.36.3 (see kubernetes-version.ts). */
  kubernetesVersion: string;
  kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  server: string;
  dir: string;
  binDir: string;
  caCertPath: string;
  adminCertPath: string;
  adminKeyPath: string;
  /** The API server's serving certificate (SANs 127.0.0.1 and localhost), signed by the CA. */
  serverCertPath: string;
  serverKeyPath: string;
  pids: Record<ComponentName, number>;
  /** In start order (etcd, kube-apiserver, kube-controller-manager, then the node's). */
  processes: readonly ProcessRef[];
  /** With `node: true`: what tests need to know of the node (also in <dir>/node.json). */
  node?: NodeInfo;
  /** With `node: true` or `audit: true`: the API server's audit log (JSON lines; see AUDIT_POLICY). */
  auditLogPath?: string;
  /** SIGTERM all (reverse order), SIGKILL after a grace period, wait for exit. Idempotent. */
  stop(): Promise<void>;
  /**
   * Fault injection: signals one of the plane's processes (SIGKILL by default) and waits until it
   * is gone. It stays down until start(name).
   */
  kill(name: ComponentName, signal?: NodeJS.Signals): Promise<void>;
  /**
   * Starts a killed process again from its own command line (the same binary, flags, ports and
   * data dir), records its new pid in processes.json, and waits until it is ready.
   */
  start(name: ComponentName): Promise<void>;
}

export interface StartOptions {
  /** Data dir; wiped first. Default: <repo>/.cluster */
  dir?: string;
  log?: (msg: string) => void;
  /** Start the processes in their own session, unref'd, so they outlive this process. */
  detached?: boolean;
  /** Aborting stops whatever was started and rejects. */
  signal?: AbortSignal;
  /**
   * Also start a real node (test/harness/node.ts): containerd, a kubelet, a kube-scheduler, a
   * password-protected registry with a private test image; and the controllers that run
   * Deployments on it.
   */
  node?: boolean;
  /** More flags for kube-controller-manager (the scale benchmark raises its client QPS). */
  controllerManagerArgs?: readonly string[];
  /** Write the API server's audit log (AUDIT_POLICY; on with `node`). */
  audit?: boolean;
  /**
   * Kubernetes version of the plane and its node: 1.34.4, v1.34.4 or 1.34 (see
   * kubernetes-version.ts). Default: $PSO_KUBERNETES_VERSION, else test/control-plane/K8S_VERSION.
   */
  kubernetesVersion?: string;
}

export function repoRoot(): string {
  return fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
}

/**
 * Runs a build script (progress on our stderr) and returns the folder it prints last. `version`
 * picks the Kubernetes version of test/control-plane/build.sh.
 */
export async function runBuildScript(script: string, args: string[] = [], signal?: AbortSignal, version?: string): Promise<string> {
  const env = version === undefined ? process.env : { ...process.env, [KUBERNETES_VERSION_ENV]: version };
  const child = spawn('bash', [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'], signal, env });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    out += chunk;
  });
  const code = await new Promise<number | null>((res, rej) => {
    child.on('error', rej);
    child.on('close', (c) => res(c));
  });
  if (code !== 0) throw new Error(`${script} failed with exit code ${String(code)}`);
  const dir = out.trim().split('\n').pop()?.trim() ?? '';
  if (!dir) throw new Error(`${script} printed no folder`);
  return dir;
}

/** Runs build.sh for `version` (v1.MINOR.PATCH) and returns the folder holding the plane's binaries. */
export async function buildBinaries(version: string, signal?: AbortSignal): Promise<string> {
  const binDir = await runBuildScript(join(repoRoot(), 'test', 'control-plane', 'build.sh'), [], signal, version);
  for (const b of COMPONENTS) await access(join(binDir, b));
  return binDir;
}

export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((res, rej) => {
          const s = createServer();
          s.once('error', rej);
          s.listen(0, '127.0.0.1', () => res(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((res) => s.close(() => res()))));
  return ports;
}

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

/**
 * Metadata of every write to secrets, serviceaccounts, leases and webhook configurations, and of
 * every request (reads and watches too) of the ServiceAccounts of IDENTITY_NAMESPACE, where
 * with-cluster.ts and the fault suite install the operator's identity; nothing else. Tests judge the
 * operator from this record (test/harness/audit.ts), not from its log lines.
 */
export const IDENTITY_NAMESPACE = 'pso-operator-identity';
const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
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

interface Pki {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  saKey: string;
  saPub: string;
}

async function makePki(pki: string): Promise<Pki> {
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

function kubeconfigYaml(server: string, ca: string, cert: string, key: string): string {
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

interface TlsClient {
  ca: string;
  cert: string;
  key: string;
}

/** One GET against the apiserver; resolves to the status code (0 on connection errors) and the body. */
function httpsGetBody(url: string, tls: TlsClient, timeoutMs = 2000): Promise<{ status: number; body: string }> {
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
async function httpsGet(url: string, tls: TlsClient, timeoutMs = 2000): Promise<number> {
  return (await httpsGetBody(url, tls, timeoutMs)).status;
}

async function httpGetOk(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await r.arrayBuffer();
    return r.ok;
  } catch {
    return false;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function logTail(path: string, lines = 25): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** True if pid is a live (non-zombie) process running `bin` (when /proc can tell). */
export function isRunning(ref: Pick<ProcessRef, 'pid' | 'bin'>): boolean {
  try {
    process.kill(ref.pid, 0);
  } catch {
    return false; // ESRCH: gone; EPERM: not ours
  }
  try {
    const stat = readFileSync(`/proc/${ref.pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    const argv0 = readFileSync(`/proc/${ref.pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
    return argv0 === ref.bin;
  } catch {
    // No /proc (not Linux) or the process just went away.
    return process.platform !== 'linux';
  }
}

/** Sends SIGKILL to every still-running process, synchronously (safe in a process 'exit' handler). */
export function killProcessesSync(refs: readonly Pick<ProcessRef, 'pid' | 'bin'>[]): void {
  for (const r of refs) {
    if (!isRunning(r)) continue;
    try {
      process.kill(r.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * SIGTERM in reverse order, SIGKILL whatever is left after graceMs, then wait until every
 * process is gone. Works for processes started by another Node process (pids from a file).
 */
export async function stopProcesses(
  refs: readonly ProcessRef[],
  log: (msg: string) => void = () => {},
  graceMs = 5000,
): Promise<void> {
  const signal = (r: ProcessRef, sig: NodeJS.Signals): void => {
    if (!isRunning(r)) return;
    try {
      process.kill(r.pid, sig);
    } catch {
      // already gone
    }
  };
  const waitGone = async (rs: readonly ProcessRef[], ms: number): Promise<ProcessRef[]> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const alive = rs.filter((r) => isRunning(r));
      if (alive.length === 0 || Date.now() >= deadline) return alive;
      await sleep(50);
    }
  };
  // One at a time, newest first: etcd waits for its clients' watch streams before it exits.
  for (const r of [...refs].reverse()) {
    if (!isRunning(r)) continue;
    const t = Date.now();
    signal(r, 'SIGTERM');
    if ((await waitGone([r], graceMs)).length === 0) {
      log(`control-plane: ${r.name} exited in ${Date.now() - t} ms`);
      continue;
    }
    log(`control-plane: ${r.name} (${r.pid}) ignored SIGTERM for ${graceMs} ms; SIGKILL`);
    signal(r, 'SIGKILL');
    if ((await waitGone([r], 5000)).length > 0) throw new Error(`${r.name} (${r.pid}) did not exit after SIGKILL`);
  }
  // Processes started detached by another (now gone) process end up as zombies until init
  // reaps them, which some inits do lazily. Give it a moment so nothing shows in `ps` after stop.
  const deadline = Date.now() + 3000;
  while (refs.some((r) => isZombie(r.pid)) && Date.now() < deadline) await sleep(50);
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}

/** Starts etcd, kube-apiserver and kube-controller-manager; resolves once the plane is usable. */
export async function startControlPlane(opts: StartOptions = {}): Promise<ControlPlane> {
  const log = opts.log ?? ((): void => {});
  const { signal } = opts;
  const t0 = Date.now();
  const elapsed = (): string => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
  const dir = resolve(opts.dir ?? join(repoRoot(), '.cluster'));
  const audit = opts.node === true || opts.audit === true;
  const version = kubernetesVersion(opts.kubernetesVersion);

  const binDir = await buildBinaries(version, signal);
  signal?.throwIfAborted();
  const tBuilt = Date.now();
  log(`control-plane: Kubernetes ${version} binaries ready in ${elapsed()} (${binDir})`);

  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const [pki, ports] = await Promise.all([makePki(join(dir, 'pki')), freePorts(3)]);
  const [etcdClientPort, etcdPeerPort, apiPort] = ports as [number, number, number];
  log(`control-plane: certificates and ports ready at +${((Date.now() - tBuilt) / 1000).toFixed(1)}s`);

  const server = `https://127.0.0.1:${apiPort}`;
  const kubeconfigPath = join(dir, 'kubeconfig');
  const [caPem, adminCertPem, adminKeyPem] = await Promise.all([
    readFile(pki.caCert, 'utf8'),
    readFile(pki.adminCert, 'utf8'),
    readFile(pki.adminKey, 'utf8'),
  ]);
  await writeFile(kubeconfigPath, kubeconfigYaml(server, caPem, adminCertPem, adminKeyPem), { mode: 0o600 });
  const tls: TlsClient = { ca: caPem, cert: adminCertPem, key: adminKeyPem };

  const processes: ProcessRef[] = [];
  const exited = new Map<number, string>();

  const spawnProcess = async (name: ComponentName, bin: string, args: string[], logPath: string): Promise<number> => {
    const fd = openSync(logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(bin, args, {
        cwd: dir,
        stdio: ['ignore', fd, fd],
        detached: opts.detached === true,
        env: { ...process.env, KUBECONFIG: '' },
      });
    } finally {
      closeSync(fd);
    }
    const pid = child.pid;
    if (pid === undefined) {
      const err = await new Promise<Error>((res) => child.once('error', res));
      throw new Error(`failed to start ${name}: ${err.message}`);
    }
    child.on('error', () => {});
    child.once('exit', (code, sig) => exited.set(pid, `${name} exited (code ${String(code)}, signal ${String(sig)})`));
    if (opts.detached === true) child.unref();
    return pid;
  };
  const launch = async (name: ComponentName, args: string[]): Promise<void> => {
    const bin = join(binDir, name);
    const logPath = join(dir, `${name}.log`);
    const pid = await spawnProcess(name, bin, args, logPath);
    await record({ name, pid, bin, args, logPath });
  };
  // Written after every spawn so a crash of the caller still leaves the pids on disk.
  const record = async (ref: ProcessRef): Promise<void> => {
    processes.push(ref);
    await writeFile(join(dir, 'processes.json'), JSON.stringify(processes, null, 2));
  };
  let node: RunningNode | undefined;

  const waitUntil = async (what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      signal?.throwIfAborted();
      for (const p of processes) {
        const why = exited.get(p.pid);
        if (why !== undefined) throw new Error(`${why} while waiting for ${what}; ${p.logPath}:\n${logTail(p.logPath)}`);
      }
      if (await check()) return;
      if (Date.now() > deadline) {
        const last = processes.at(-1);
        const tail = last ? `\n${last.logPath}:\n${logTail(last.logPath)}` : '';
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${tail}`);
      }
      await sleep(100);
    }
  };

  const readiness: Record<ComponentName, () => Promise<boolean>> = {
    etcd: () => httpGetOk(`http://127.0.0.1:${etcdClientPort}/health`),
    'kube-apiserver': async () => (await httpsGet(`${server}/readyz`, tls)) === 200,
    'kube-controller-manager': () => Promise.resolve(true),
  };
  const kill = async (name: ComponentName, sig: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const ref = processes.find((p) => p.name === name);
    if (!ref) throw new Error(`no process ${name}`);
    if (isRunning(ref)) process.kill(ref.pid, sig);
    const deadline = Date.now() + 20_000;
    while (isRunning(ref)) {
      if (Date.now() > deadline) throw new Error(`${name} (${ref.pid}) did not exit after ${sig}`);
      await sleep(20);
    }
    log(`control-plane: ${name} (${ref.pid}) stopped by ${sig}`);
  };
  const start = async (name: ComponentName): Promise<void> => {
    const i = processes.findIndex((p) => p.name === name);
    const ref = processes[i];
    if (!ref) throw new Error(`no process ${name}`);
    if (isRunning(ref)) throw new Error(`${name} (${ref.pid}) is still running`);
    const pid = await spawnProcess(name, ref.bin, ref.args, ref.logPath);
    processes[i] = { ...ref, pid };
    await writeFile(join(dir, 'processes.json'), JSON.stringify(processes, null, 2));
    const t = Date.now();
    await waitUntil(`${name} ready again`, readiness[name], 60_000);
    log(`control-plane: ${name} started again (${pid}), ready in ${Date.now() - t} ms`);
  };

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      const t = Date.now();
      if (node) await node.stop();
      await stopProcesses(processes, log);
      log(`control-plane: stopped in ${((Date.now() - t) / 1000).toFixed(1)}s`);
    })();
    return stopped;
  };

  try {
    const etcdClient = `http://127.0.0.1:${etcdClientPort}`;
    const etcdPeer = `http://127.0.0.1:${etcdPeerPort}`;
    await launch('etcd', [
      '--name', 'pso-test',
      '--data-dir', join(dir, 'etcd-data'),
      '--listen-client-urls', etcdClient,
      '--advertise-client-urls', etcdClient,
      '--listen-peer-urls', etcdPeer,
      '--initial-advertise-peer-urls', etcdPeer,
      '--initial-cluster', `pso-test=${etcdPeer}`,
      '--initial-cluster-state', 'new',
      '--unsafe-no-fsync',
      // As kubeadm configures production etcd: progress notifications every 5 s let the API
      // server's watch cache advance with no changes, which is what lets it send idle watches
      // their bookmarks (about once a minute).
      '--watch-progress-notify-interval', '5s',
    ]);
    await waitUntil('etcd /health', () => httpGetOk(`${etcdClient}/health`), 20_000);
    log(`control-plane: etcd ready at +${((Date.now() - tBuilt) / 1000).toFixed(1)}s`);

    // With a node: an audit log of every write to secrets and serviceaccounts, so that tests can
    // tell from the API server's own record who wrote what, and when (user, pod, timestamps).
    const auditLogPath = join(dir, 'audit.log');
    const auditPolicy = join(dir, 'audit-policy.yaml');
    if (audit) await writeFile(auditPolicy, AUDIT_POLICY);
    await launch('kube-apiserver', [
      ...(audit ? ['--audit-log-path', auditLogPath, '--audit-policy-file', auditPolicy, '--audit-log-maxsize', '0'] : []),
      '--etcd-servers', etcdClient,
      '--bind-address', '127.0.0.1',
      '--advertise-address', '127.0.0.1',
      '--secure-port', String(apiPort),
      '--cert-dir', join(dir, 'apiserver-certs'),
      '--tls-cert-file', pki.serverCert,
      '--tls-private-key-file', pki.serverKey,
      '--client-ca-file', pki.caCert,
      '--service-account-issuer', 'https://kubernetes.default.svc.cluster.local',
      '--service-account-key-file', pki.saPub,
      '--service-account-signing-key-file', pki.saKey,
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
    ]);
    await waitUntil('kube-apiserver /readyz', async () => (await httpsGet(`${server}/readyz`, tls)) === 200, 60_000);
    log(`control-plane: kube-apiserver ready at +${((Date.now() - tBuilt) / 1000).toFixed(1)}s`);

    await launch('kube-controller-manager', [
      '--kubeconfig', kubeconfigPath,
      '--bind-address', '127.0.0.1',
      '--secure-port', '0',
      '--leader-elect=false',
      '--controllers',
      [
        'namespace,serviceaccount,serviceaccount-token,garbagecollector,clusterrole-aggregation,root-ca-cert-publisher',
        // What runs Deployments on a node and notices a node's state; the endpoints of Services, so
        // that the API server reaches the manifests' Service-backed webhook at its pods.
        ...(opts.node === true ? ['deployment,replicaset,nodelifecycle,podgc,endpoint,endpointslice'] : []),
      ].join(','),
      '--root-ca-file', pki.caCert,
      '--service-account-private-key-file', pki.saKey,
      '--use-service-account-credentials=false',
      ...(opts.controllerManagerArgs ?? []),
    ]);
    await waitUntil(
      'the default ServiceAccount in namespace default (kube-controller-manager)',
      async () => (await httpsGet(`${server}/api/v1/namespaces/default/serviceaccounts/default`, tls)) === 200,
      60_000,
    );
    log(
      `control-plane: ready at ${server} in ${((Date.now() - tBuilt) / 1000).toFixed(1)}s after build ` +
        `(${elapsed()} total); kubeconfig ${kubeconfigPath}`,
    );
    if (opts.node === true) {
      node = await startNode(
        { dir, kubeconfigPath, binDir, kubernetesVersion: version, caCertPath: pki.caCert, serverCertPath: pki.serverCert, serverKeyPath: pki.serverKey },
        { log, detached: opts.detached, signal, onProcess: (ref) => record(ref) },
      );
    }
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }

  const pid = (n: ComponentName): number => processes.find((p) => p.name === n)?.pid ?? -1;
  return {
    kubernetesVersion: version,
    kubeconfigPath,
    server,
    dir,
    binDir,
    caCertPath: pki.caCert,
    adminCertPath: pki.adminCert,
    adminKeyPath: pki.adminKey,
    serverCertPath: pki.serverCert,
    serverKeyPath: pki.serverKey,
    ...(node ? { node: node.info } : {}),
    ...(audit ? { auditLogPath: join(dir, 'audit.log') } : {}),
    pids: { etcd: pid('etcd'), 'kube-apiserver': pid('kube-apiserver'), 'kube-controller-manager': pid('kube-controller-manager') },
    processes,
    stop,
    kill,
    start,
  };
}

type PlaneAddress = Pick<ControlPlane, 'server' | 'caCertPath' | 'adminCertPath' | 'adminKeyPath'>;

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
