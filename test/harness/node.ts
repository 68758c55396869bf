/**
 * A real node beside the local control plane (`npm run cluster -- start --node`): containerd
 * (Debian's) with runc, a kubelet and a kube-scheduler built from the same Go module as the plane,
 * and a registry (distribution v3) on 127.0.0.1 that requires a password and serves TLS, trusted
 * by containerd. A small private test image is pushed to it. Everything listens on loopback and
 * nothing here connects to a non-loopback address: pods run on a loopback-only CNI network, the
 * API server never dials the kubelet, pod logs are read from the kubelet's folder on disk.
 *
 * Checked facts behind the settings: ../shared/NODE-FACTS.md. Only one such node can run on a
 * machine at a time (the kubelet's ports 10250 and 10248).
 */
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type ProcessRef, freePorts, repoRoot, runBuildScript, stopProcesses } from './control-plane.js';
import { setTimeout as sleep } from 'node:timers/promises';

const execFileAsync = promisify(execFile);

export const NODE_NAME = 'pso-node';
/** containerd's sandbox image: the pause binary of test/node, imported under this name. */
export const PAUSE_IMAGE = 'registry.k8s.io/pause:pso';
/** Debian packages the node needs, by the command or file that shows each is there. */
const PACKAGES: [string, string][] = [
  ['containerd', '/usr/bin/containerd'],
  ['runc', '/usr/sbin/runc'],
  ['containernetworking-plugins', '/usr/lib/cni/loopback'],
  ['apache2-utils', '/usr/bin/htpasswd'],
  ['openssl', '/usr/bin/openssl'],
];

/** What tests need to know of the node; written to <dir>/node.json. */
export interface NodeInfo {
  nodeName: string;
  /** host:port of the registry, on 127.0.0.1. */
  registry: string;
  /**
   * The same registry by another name, localhost:<port> (containerd trusts both). The kubelet
   * matches credentials by registry host, so an image named by this host gets only the
   * credentials written for it: a test can tell which pull secret made a pull work.
   */
  registryAlias: string;
  username: string;
  password: string;
  /** The pushed private test image. */
  privateImage: string;
  /** The CA that signed the registry's certificate (the plane's CA). */
  registryCaPath: string;
  htpasswdPath: string;
  containerdSocket: string;
  kubeletRootDir: string;
  podLogsDir: string;
}

export interface PlaneForNode {
  dir: string;
  kubeconfigPath: string;
  binDir: string;
  /** The plane's Kubernetes version (v1.MINOR.PATCH): the kubelet and scheduler are built from the same. */
  kubernetesVersion: string;
  caCertPath: string;
  /** A serving certificate and key for 127.0.0.1 signed by the plane's CA (the registry uses them). */
  serverCertPath: string;
  serverKeyPath: string;
}

export interface StartNodeOptions {
  log?: (msg: string) => void;
  detached?: boolean;
  signal?: AbortSignal;
  /** Called after each process starts, so that a caller can record it at once. */
  onProcess?: (ref: ProcessRef) => Promise<void> | void;
}

export interface RunningNode {
  info: NodeInfo;
  processes: ProcessRef[];
  stop(): Promise<void>;
}

/** Installs the Debian packages the node needs, if any is missing (as .ci/run does for the plane). */
export async function ensurePackages(log: (msg: string) => void): Promise<void> {
  const missing = PACKAGES.filter(([, path]) => !existsSync(path)).map(([pkg]) => pkg);
  if (missing.length === 0) return;
  log(`node: installing ${missing.join(' ')} (apt-get)`);
  await execFileAsync('apt-get', ['update', '-qq'], { maxBuffer: 1 << 26 });
  await execFileAsync('apt-get', ['install', '-y', '-qq', ...missing], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, maxBuffer: 1 << 26 });
}

// ---------------------------------------------------------------------------------------------
// OCI images without a container engine: one layer holding one static binary.

interface Blob {
  digest: string;
  size: number;
  data: Buffer;
  mediaType: string;
}
const blob = (data: Buffer, mediaType: string): Blob => ({ digest: `sha256:${createHash('sha256').update(data).digest('hex')}`, size: data.length, data, mediaType });

/** A tar archive (ustar) of the given files, all owned by root. */
function tar(files: { path: string; data: Buffer; mode: number }[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    const h = Buffer.alloc(512);
    h.write(f.path, 0, 100, 'utf8');
    h.write(`${f.mode.toString(8).padStart(7, '0')}\0`, 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(`${f.data.length.toString(8).padStart(11, '0')}\0`, 124);
    h.write(`${Math.floor(Date.UTC(2026, 0, 1) / 1000).toString(8).padStart(11, '0')}\0`, 136);
    h.write('        ', 148);
    h.write('0', 156);
    h.write('ustar\0', 257);
    h.write('00', 263);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    parts.push(h, f.data, Buffer.alloc((512 - (f.data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export interface OciImage {
  config: Blob;
  layer: Blob;
  manifest: Blob;
}

/** An OCI image of one static binary at /<name>, run as `entrypoint`, by a non-root user. */
export function imageOfBinary(binaryPath: string, name: string, user = '65532:65532'): OciImage {
  const layer = blob(tar([{ path: name, data: readFileSync(binaryPath), mode: 0o755 }]), 'application/vnd.oci.image.layer.v1.tar');
  const config = blob(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Entrypoint: [`/${name}`], User: user },
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
      }),
    ),
    'application/vnd.oci.image.config.v1+json',
  );
  const manifest = blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
        layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
      }),
    ),
    'application/vnd.oci.image.manifest.v1+json',
  );
  return { config, layer, manifest };
}

/** An OCI image-layout archive of `image` named `ref`, as `ctr images import` reads it. */
export function ociArchive(image: OciImage, ref: string): Buffer {
  const index = {
    schemaVersion: 2,
    manifests: [
      {
        mediaType: image.manifest.mediaType,
        digest: image.manifest.digest,
        size: image.manifest.size,
        annotations: { 'io.containerd.image.name': ref, 'org.opencontainers.image.ref.name': ref.slice(ref.lastIndexOf(':') + 1) },
      },
    ],
  };
  const blobFile = (b: Blob): { path: string; data: Buffer; mode: number } => ({ path: `blobs/sha256/${b.digest.slice('sha256:'.length)}`, data: b.data, mode: 0o644 });
  return tar([
    { path: 'oci-layout', data: Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })), mode: 0o644 },
    { path: 'index.json', data: Buffer.from(JSON.stringify(index)), mode: 0o644 },
    blobFile(image.config),
    blobFile(image.layer),
    blobFile(image.manifest),
  ]);
}

interface RegistryClient {
  host: string;
  ca: string;
  username: string;
  password: string;
}

function registryRequest(c: RegistryClient, method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const [hostname, port] = c.host.split(':');
    const req = request(
      {
        hostname,
        port: Number(port),
        method,
        path,
        ca: c.ca,
        agent: false,
        timeout: 30000,
        headers: { Authorization: `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`, ...(body ? { 'Content-Length': String(body.length) } : {}), ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Pushes `image` as `repo:tag` with the registry API (monolithic blob uploads, then the manifest). */
export async function pushImage(c: RegistryClient, image: OciImage, repo: string, tag: string): Promise<void> {
  for (const b of [image.layer, image.config]) {
    const head = await registryRequest(c, 'HEAD', `/v2/${repo}/blobs/${b.digest}`);
    if (head.status === 200) continue;
    const start = await registryRequest(c, 'POST', `/v2/${repo}/blobs/uploads/`);
    if (start.status !== 202) throw new Error(`registry: starting an upload answered ${start.status}: ${start.body}`);
    const location = String(start.headers['location'] ?? '');
    const url = new URL(location, `https://${c.host}`);
    url.searchParams.set('digest', b.digest);
    const put = await registryRequest(c, 'PUT', `${url.pathname}${url.search}`, b.data, { 'Content-Type': 'application/octet-stream' });
    if (put.status !== 201) throw new Error(`registry: uploading ${b.digest} answered ${put.status}: ${put.body}`);
  }
  const m = await registryRequest(c, 'PUT', `/v2/${repo}/manifests/${tag}`, image.manifest.data, { 'Content-Type': image.manifest.mediaType });
  if (m.status !== 201) throw new Error(`registry: pushing the manifest answered ${m.status}: ${m.body}`);
}

/** The registry's answer to GET /v2/ with these credentials (200 with good ones, 401 otherwise). */
export async function registryStatus(c: RegistryClient): Promise<number> {
  try {
    return (await registryRequest(c, 'GET', '/v2/')).status;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Configuration files.

function containerdConfig(dir: string, socket: string, certsDir: string, cniDir: string): string {
  return `version = 2
root = "${join(dir, 'root')}"
state = "${join(dir, 'state')}"
[grpc]
  address = "${socket}"
[ttrpc]
  address = "${socket}.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  # root cannot lower OOM scores here: without this every container fails to start.
  restrict_oom_score_adj = true
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${cniDir}"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${certsDir}"
`;
}

function kubeletConfig(o: { socket: string; caCertPath: string; podLogsDir: string }): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
healthzBindAddress: 127.0.0.1
readOnlyPort: 0
failSwapOn: false
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://${o.socket}
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: ${o.caCertPath}
authorization:
  mode: Webhook
localStorageCapacityIsolation: false
podLogsDir: ${o.podLogsDir}
resolvConf: ""
serializeImagePulls: false
# A test machine's disk is often fuller than the default thresholds; never evict test pods for it.
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  imagefs.available: 1%
  nodefs.inodesFree: 1%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
`;
}

// ---------------------------------------------------------------------------------------------
// Cleanup: what the kubelet and containerd leave behind when their processes are gone.

/** Processes whose command line mentions `needle` (the shims of our containerd, say). */
function processesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(needle)) out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out.filter((pid) => pid !== process.pid);
}

/** The cgroup folders the kubelet made (cgroupfs driver: `kubepods` under each v1 controller). */
function kubeletCgroups(): string[] {
  const roots: string[] = [];
  for (const c of readdirSync('/sys/fs/cgroup')) {
    const dir = join('/sys/fs/cgroup', c, 'kubepods');
    if (existsSync(dir)) roots.push(dir);
  }
  return roots;
}

function walkDirs(dir: string): string[] {
  const out: string[] = [];
  try {
    for (const e of readdirSync(dir)) {
      const p = join(dir, e);
      try {
        if (statSync(p).isDirectory()) out.push(...walkDirs(p), p);
      } catch {
        // gone
      }
    }
  } catch {
    // gone
  }
  return out;
}

/** SIGKILLs every process in the kubelet's cgroups, then removes the cgroups, deepest first. */
async function removeKubeletCgroups(): Promise<void> {
  for (let round = 0; round < 20; round++) {
    let alive = 0;
    for (const root of kubeletCgroups()) {
      for (const d of [...walkDirs(root), root]) {
        let procs: number[] = [];
        try {
          procs = readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
        } catch {
          continue;
        }
        for (const pid of procs) {
          alive++;
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone
          }
        }
      }
    }
    if (alive === 0) break;
    await sleep(100);
  }
  for (const root of kubeletCgroups()) {
    for (const d of [...walkDirs(root), root]) {
      try {
        rmdirSync(d);
      } catch {
        // busy or gone; retried by the next stop
      }
    }
  }
}

/** Unmounts every mount point under `dir`, deepest first. */
async function unmountUnder(dir: string): Promise<void> {
  const mounts = (): string[] =>
    readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => (l.split(' ')[4] ?? '').replace(/\\040/g, ' '))
      .filter((m) => m === dir || m.startsWith(`${dir}/`))
      .sort((a, b) => b.length - a.length);
  for (let round = 0; round < 5 && mounts().length > 0; round++) {
    for (const m of mounts()) await execFileAsync('umount', ['-l', m]).catch(() => undefined);
  }
}

/** What a stopped node left behind: live container shims of its containerd, mounts under its folder, kubepods cgroups. */
export function nodeLeftovers(dir: string, socket: string): { shims: number[]; mounts: string[]; cgroups: string[] } {
  const live = (pid: number): boolean => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
    } catch {
      return false;
    }
  };
  return {
    shims: processesMentioning(socket).filter(live),
    mounts: readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => l.includes(dir)),
    cgroups: kubeletCgroups(),
  };
}

/**
 * Everything a node leaves once its processes are stopped: container shims and containers (found
 * by our containerd socket and by the kubelet's cgroups), mounts under the node folder, cgroups.
 */
export async function cleanUpNode(nodeDir: string, socket: string): Promise<void> {
  for (const pid of processesMentioning(socket)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await removeKubeletCgroups();
  await unmountUnder(nodeDir);
}

// ---------------------------------------------------------------------------------------------

/** Starts the node beside `plane`; resolves once the node is Ready and the test image is pushed. */
export async function startNode(plane: PlaneForNode, opts: StartNodeOptions = {}): Promise<RunningNode> {
  const log = opts.log ?? ((): void => {});
  const { signal } = opts;
  const t0 = Date.now();
  const at = (): string => `+${((Date.now() - t0) / 1000).toFixed(1)}s`;
  await ensurePackages(log);
  const [nodeBins, extras] = await Promise.all([
    runBuildScript(join(repoRoot(), 'test', 'control-plane', 'build.sh'), ['node'], signal, plane.kubernetesVersion),
    runBuildScript(join(repoRoot(), 'test', 'node', 'build.sh'), [], signal),
  ]);
  for (const b of ['kubelet', 'kube-scheduler']) await access(join(nodeBins, b));
  for (const b of ['registry', 'pause', 'app']) await access(join(extras, b));
  log(`node: Kubernetes ${plane.kubernetesVersion} binaries ready (${at()})`);

  const dir = join(plane.dir, 'node');
  const d = {
    containerd: join(dir, 'containerd'),
    certs: join(dir, 'containerd', 'certs.d'),
    cni: join(dir, 'cni'),
    kubelet: join(dir, 'kubelet'),
    podLogs: join(dir, 'pod-logs'),
    registry: join(dir, 'registry'),
    images: join(dir, 'images'),
  };
  for (const p of Object.values(d)) await mkdir(p, { recursive: true });
  const socket = join(d.containerd, 'containerd.sock');
  const [registryPort] = (await freePorts(1)) as [number];
  const registry = `127.0.0.1:${registryPort}`;
  const registryAlias = `localhost:${registryPort}`;
  const username = 'pso-e2e';
  const password = randomBytes(12).toString('hex');
  const ca = await readFile(plane.caCertPath, 'utf8');

  const processes: ProcessRef[] = [];
  const exited = new Map<number, string>();
  const launch = async (name: string, bin: string, args: string[], extra: { env?: Record<string, string>; ulimits?: boolean } = {}): Promise<void> => {
    const logPath = join(dir, `${name}.log`);
    const fd = openSync(logPath, 'a');
    // containerd and the kubelet need file and process limits at or below the host's hard
    // limits (runc fails otherwise): set them in a shell that then becomes the binary.
    const [cmd, argv] = extra.ulimits === true ? ['bash', ['-c', 'ulimit -n 20000 && ulimit -u 32768 && exec "$0" "$@"', bin, ...args]] : [bin, args];
    let child;
    try {
      child = spawn(cmd, argv, { cwd: dir, stdio: ['ignore', fd, fd], detached: opts.detached === true, env: { ...process.env, KUBECONFIG: '', ...extra.env } });
    } finally {
      closeSync(fd);
    }
    const pid = child.pid;
    if (pid === undefined) throw new Error(`failed to start ${name}`);
    child.on('error', () => {});
    child.once('exit', (code, sig) => exited.set(pid, `${name} exited (code ${String(code)}, signal ${String(sig)})`));
    if (opts.detached === true) child.unref();
    const ref: ProcessRef = { name, pid, bin, args, logPath };
    processes.push(ref);
    await opts.onProcess?.(ref);
  };
  const waitUntil = async (what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      signal?.throwIfAborted();
      for (const p of processes) {
        const why = exited.get(p.pid);
        if (why !== undefined) throw new Error(`${why} while waiting for ${what}; ${p.logPath}:\n${tail(p.logPath)}`);
      }
      if (await check()) return;
      if (Date.now() > deadline) {
        const last = processes.at(-1);
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `\n${last.logPath}:\n${tail(last.logPath)}` : ''}`);
      }
      await sleep(100);
    }
  };

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      const t = Date.now();
      // The kubelet first, so that it restarts nothing; then the containers, containerd, the rest.
      const order = ['kube-scheduler', 'registry', 'containerd', 'kubelet'];
      await stopProcesses([...processes].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name)), log);
      await cleanUpNode(dir, socket);
      log(`node: stopped in ${((Date.now() - t) / 1000).toFixed(1)}s`);
    })();
    return stopped;
  };

  try {
    // --- the registry: htpasswd (bcrypt) and TLS with the plane's CA ----------------------
    const htpasswd = join(d.registry, 'htpasswd');
    await writeHtpasswd(htpasswd, username, password);
    await writeFile(
      join(d.registry, 'config.yml'),
      `version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: ${join(d.registry, 'data')}
  delete:
    enabled: true
http:
  addr: ${registry}
  tls:
    certificate: ${plane.serverCertPath}
    key: ${plane.serverKeyPath}
auth:
  htpasswd:
    realm: pso-e2e
    path: ${htpasswd}
`,
    );
    await launch('registry', join(extras, 'registry'), ['serve', join(d.registry, 'config.yml')], { env: { OTEL_TRACES_EXPORTER: 'none' } });
    const client: RegistryClient = { host: registry, ca, username, password };
    await waitUntil('the registry', async () => (await registryStatus({ ...client, password: 'wrong' })) === 401 && (await registryStatus(client)) === 200, 30_000);
    log(`node: registry on ${registry} (${at()})`);

    // --- containerd ------------------------------------------------------------------------
    for (const host of [registry, registryAlias]) {
      await mkdir(join(d.certs, host), { recursive: true });
      await writeFile(join(d.certs, host, 'hosts.toml'), `server = "https://${host}"\n[host."https://${host}"]\n  capabilities = ["pull", "resolve"]\n  ca = "${plane.caCertPath}"\n`);
    }
    await writeFile(join(d.cni, '10-loopback.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'pso-loopback', plugins: [{ type: 'loopback' }] }, null, 2));
    await writeFile(join(d.containerd, 'config.toml'), containerdConfig(d.containerd, socket, d.certs, d.cni));
    await launch('containerd', '/usr/bin/containerd', ['--config', join(d.containerd, 'config.toml')], { ulimits: true });
    const ctr = (...args: string[]): Promise<{ stdout: string }> => execFileAsync('ctr', ['-a', socket, '-n', 'k8s.io', ...args], { maxBuffer: 1 << 26 });
    await waitUntil('containerd', async () => existsSync(socket) && (await ctr('version').then(() => true, () => false)), 30_000);
    log(`node: containerd ready (${at()})`);

    // --- images: the sandbox image imported, the private test image pushed -----------------
    const pause = join(d.images, 'pause.tar');
    writeFileSync(pause, ociArchive(imageOfBinary(join(extras, 'pause'), 'pause'), PAUSE_IMAGE));
    await ctr('images', 'import', pause);
    const privateImage = `${registry}/private/app:1`;
    await pushImage(client, imageOfBinary(join(extras, 'app'), 'app'), 'private/app', '1');
    log(`node: images ready (${at()}): ${PAUSE_IMAGE} imported, ${privateImage} pushed`);

    // --- kubelet and kube-scheduler ----------------------------------------------------------
    await writeFile(join(d.kubelet, 'config.yaml'), kubeletConfig({ socket, caCertPath: plane.caCertPath, podLogsDir: d.podLogs }));
    await launch(
      'kubelet',
      join(nodeBins, 'kubelet'),
      ['--config', join(d.kubelet, 'config.yaml'), '--kubeconfig', plane.kubeconfigPath, '--root-dir', join(d.kubelet, 'root'), '--cert-dir', join(d.kubelet, 'pki'), '--hostname-override', NODE_NAME],
      { ulimits: true },
    );
    await launch('kube-scheduler', join(nodeBins, 'kube-scheduler'), ['--kubeconfig', plane.kubeconfigPath, '--authentication-kubeconfig', plane.kubeconfigPath, '--authorization-kubeconfig', plane.kubeconfigPath, '--bind-address', '127.0.0.1', '--secure-port', '0', '--leader-elect=false']);
    const kubectl = join(plane.binDir, 'kubectl');
    await waitUntil(
      `node ${NODE_NAME} Ready`,
      async () => {
        const r = await execFileAsync(kubectl, ['--kubeconfig', plane.kubeconfigPath, 'get', 'node', NODE_NAME, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']).catch(() => ({ stdout: '' }));
        return r.stdout.trim() === 'True';
      },
      90_000,
    );
    log(`node: ${NODE_NAME} Ready (${at()})`);

    const info: NodeInfo = {
      nodeName: NODE_NAME,
      registry,
      registryAlias,
      username,
      password,
      privateImage,
      registryCaPath: plane.caCertPath,
      htpasswdPath: htpasswd,
      containerdSocket: socket,
      kubeletRootDir: join(d.kubelet, 'root'),
      podLogsDir: d.podLogs,
    };
    await writeFile(join(plane.dir, 'node.json'), `${JSON.stringify(info, null, 2)}\n`);
    return { info, processes, stop };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}

/** Writes an htpasswd file with one bcrypt entry (htpasswd -B). */
export async function writeHtpasswd(path: string, username: string, password: string): Promise<void> {
  const { stdout } = await execFileAsync('htpasswd', ['-Bbn', username, password]);
  await writeFile(path, stdout.trim() + '\n');
}

function tail(path: string, lines = 25): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Reads <planeDir>/node.json, or undefined when no node was started there. */
export function readNodeInfo(planeDir: string): NodeInfo | undefined {
  try {
    return JSON.parse(readFileSync(join(planeDir, 'node.json'), 'utf8')) as NodeInfo;
  } catch {
    return undefined;
  }
}


