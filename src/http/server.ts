/**
 * /healthz, /readyz and /metrics on one port.
 * - /healthz fails when the process is stuck: an informer broken for longer than the bound.
 * - /readyz is ready once the caches have synced (a healthy standby counts as ready).
 */
import http from 'node:http';
import type { Registry } from 'prom-client';

export interface Probes {
  /** Null when healthy, else why not. */
  health(): string | null;
  ready(): string | null;
}

export interface HttpServer {
  /** The bound port (useful with port 0). */
  port: number;
  close(): Promise<void>;
}

/** Parses ":8080", "127.0.0.1:8080" or "8080". */
export function parseAddress(address: string): { host: string | undefined; port: number } {
  const i = address.lastIndexOf(':');
  const host = i > 0 ? address.slice(0, i).replace(/^\[|\]$/g, '') : undefined;
  const port = Number(i >= 0 ? address.slice(i + 1) : address);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid address "${address}"`);
  return { host, port };
}

export async function startHttpServer(address: string, probes: Probes, registry: Registry): Promise<HttpServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (code: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(code, { 'Content-Type': type });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'method not allowed\n');
    if (path === '/healthz' || path === '/livez') {
      const why = probes.health();
      return why === null ? reply(200, 'ok\n') : reply(500, `unhealthy: ${why}\n`);
    }
    if (path === '/readyz') {
      const why = probes.ready();
      return why === null ? reply(200, 'ok\n') : reply(503, `not ready: ${why}\n`);
    }
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => reply(200, text, registry.contentType),
        () => reply(500, 'metrics failed\n'),
      );
      return;
    }
    reply(404, 'not found\n');
  });
  server.keepAliveTimeout = 5000;
  return listen(server, address);
}

/** Starts `server` on `address` ("host:port", port 0 for any); resolves with the bound port and a close that drops open connections. */
export async function listen(server: http.Server, address: string): Promise<HttpServer> {
  const { host, port } = parseAddress(address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = server.address();
  return {
    port: typeof bound === 'object' && bound ? bound.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
