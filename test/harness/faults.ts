/**
 * Real faults between the operator and the API server, for the fault-injection suite:
 *
 * - a TCP proxy that can black-hole connections: the ones it holds stop forwarding in both
 *   directions and stay open for ever (a load balancer with a dead backend connection), and while
 *   the black hole is on, new ones are accepted and never answered, not even the TLS handshake;
 * - an HTTPS proxy that terminates TLS with the plane's own serving certificate, forwards every
 *   request (watches stream through) and can answer some of them itself: a status such as 429 or
 *   500 (with Retry-After), or a connection reset.
 *
 * The operator talks to them through a kubeconfig whose server is the proxy (kubeconfigVia).
 */
import { readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /**
   * Every connection held now stops forwarding, for ever; with `newOnes`, connections accepted
   * from now on are held unanswered too, until blackHoleNew(false).
   */
  freeze(opts?: { newOnes?: boolean }): void;
  blackHoleNew(on: boolean): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket | undefined; frozen: boolean }>();
  let holdNew = false;
  let accepted = 0;
  const server = net.createServer((client) => {
    accepted++;
    const pair: { client: net.Socket; upstream: net.Socket | undefined; frozen: boolean } = { client, upstream: undefined, frozen: false };
    pairs.add(pair);
    client.on('error', () => undefined);
    client.on('close', () => {
      pair.upstream?.destroy();
      pairs.delete(pair);
    });
    if (holdNew) {
      // Accepted, never read, never answered: the TLS handshake hangs.
      pair.frozen = true;
      client.pause();
      return;
    }
    const upstream = net.connect(targetPort, targetHost);
    pair.upstream = upstream;
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => {
      if (!pair.frozen) client.destroy();
    });
    client.on('data', (d: Buffer) => {
      if (!pair.frozen) upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (!pair.frozen) client.write(d);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get accepted() {
      return accepted;
    },
    freeze(opts = {}) {
      for (const p of pairs) {
        p.frozen = true;
        // Nothing read any more: the peers' writes fill the TCP windows and then block, as on a dead path.
        p.client.pause();
        p.upstream?.pause();
      }
      if (opts.newOnes) holdNew = true;
    },
    blackHoleNew(on) {
      holdNew = on;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const p of pairs) {
          p.client.destroy();
          p.upstream?.destroy();
        }
        server.close(() => resolve());
      }),
  };
}

/**
 * What the fault proxy does with one request: pass it, reset its connection, answer a status
 * itself, pass it after a delay (a slow API server), or (a watch) answer 200 and then send nothing,
 * ever: a watch that is silent, with no data and no bookmark.
 */
export type FaultAction = 'pass' | 'reset' | 'silent' | { status: number; retryAfterSeconds?: number } | { delayMs: number };

export interface RequestInfo {
  method: string;
  path: string;
  watch: boolean;
  userAgent?: string;
}

export interface HttpFaultProxy {
  port: number;
  /** Decides each request's fate; default: pass everything. */
  setFaults(decide: (r: RequestInfo) => FaultAction): void;
  /** Requests seen, and how each was answered ('pass', 'reset', 'silent', 'delay N' or the injected status). */
  readonly log: readonly (RequestInfo & { action: string; at: number })[];
  /** TLS connections clients have opened to it so far. */
  readonly connections: number;
  close(): Promise<void>;
}

/**
 * An HTTPS proxy in front of the API server. It presents `certPath`/`keyPath` (the plane's serving
 * certificate, valid for 127.0.0.1) and trusts `caPath` upstream. Credentials pass through
 * untouched, so it works for token users (not for client certificates).
 */
export async function startHttpFaultProxy(opts: { target: string; caPath: string; certPath: string; keyPath: string }): Promise<HttpFaultProxy> {
  const [ca, cert, key] = await Promise.all([readFile(opts.caPath), readFile(opts.certPath), readFile(opts.keyPath)]);
  const target = new URL(opts.target);
  const agent = new https.Agent({ ca, keepAlive: true, maxSockets: 64 });
  let decide: (r: RequestInfo) => FaultAction = () => 'pass';
  const log: (RequestInfo & { action: string; at: number })[] = [];
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', target);
    const info: RequestInfo = { method: req.method ?? 'GET', path: url.pathname, watch: url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1', userAgent: req.headers['user-agent'] };
    const action = decide(info);
    log.push({ ...info, action: typeof action === 'string' ? action : 'delayMs' in action ? `delay ${action.delayMs}` : String(action.status), at: Date.now() });
    if (action === 'reset') {
      req.socket.destroy();
      return;
    }
    if (action === 'silent') {
      req.resume();
      res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
      res.flushHeaders();
      return; // held open, never written to, until the client gives up
    }
    if (typeof action === 'object' && 'delayMs' in action) {
      req.pause();
      setTimeout(() => forward(req, res), action.delayMs);
      return;
    }
    if (action !== 'pass') {
      req.resume();
      const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'injected by the fault proxy', reason: action.status === 429 ? 'TooManyRequests' : 'InternalError', code: action.status });
      res.writeHead(action.status, { 'Content-Type': 'application/json', ...(action.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(action.retryAfterSeconds) }) });
      res.end(body);
      return;
    }
    forward(req, res);
  };
  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.socket.destroyed) return;
    const headers = { ...req.headers, host: target.host };
    const up = https.request({ protocol: 'https:', hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  };
  const server = https.createServer({ cert, key }, handle);
  let connections = 0;
  server.on('secureConnection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    setFaults(d) {
      decide = d;
    },
    log,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Writes a copy of a kubeconfig (JSON or YAML) whose server is `server`. */
export async function kubeconfigVia(source: string, server: string, out: string): Promise<string> {
  const text = await readFile(source, 'utf8');
  const rewritten = text.replace(/("server":\s*"|server:\s*)https:\/\/[^"\s]+/g, `$1${server}`);
  if (rewritten === text) throw new Error(`no server URL in ${source}`);
  await writeFile(out, rewritten, { mode: 0o600 });
  return out;
}
