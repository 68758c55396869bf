/**
 * The HTTPS requests of the credential check: Node's https with its default trust store, which
 * includes the CAs of NODE_EXTRA_CA_CERTS (the standard way to trust a registry's private CA). No
 * keep-alive pool (a check runs rarely), no redirect following (check.ts decides), a deadline on
 * each request from connecting to the last byte, and a cap on each body: past it, the rest is
 * dropped and the connection closed.
 */
import https from 'node:https';
import type { RegistryRequest, RegistryResponse, RequestFn } from './check.js';

export interface RequestOptions {
  /** Deadline of one request: connect, TLS, headers and body. */
  timeoutMs: number;
  /** Bytes of a body kept; the rest is not read. */
  maxBodyBytes: number;
  userAgent: string;
}

export const REQUEST_DEFAULTS = Object.freeze({ timeoutMs: 10_000, maxBodyBytes: 64 * 1024 });

export function httpsRequest(o: RequestOptions): RequestFn {
  return (r: RegistryRequest) =>
    new Promise<RegistryResponse>((resolve, reject) => {
      if (r.url.protocol !== 'https:') {
        reject(new Error(`refused: ${r.url.protocol} is not https`));
        return;
      }
      const body = r.body === undefined ? undefined : Buffer.from(r.body, 'utf8');
      let settled = false;
      const done = (err: Error | undefined, res?: RegistryResponse): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else if (res) resolve(res);
      };
      const req = https.request(
        r.url,
        {
          method: r.method,
          agent: false,
          headers: { 'User-Agent': o.userAgent, ...r.headers, ...(body ? { 'Content-Length': body.length } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          const finish = (): void => done(undefined, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
          res.on('data', (c: Buffer) => {
            if (size >= o.maxBodyBytes) return;
            chunks.push(c.subarray(0, o.maxBodyBytes - size));
            size += c.length;
            if (size >= o.maxBodyBytes) {
              // Enough: keep what was read, close the connection rather than read the rest.
              finish();
              req.destroy();
            }
          });
          res.on('end', finish);
          res.on('error', (err) => done(err));
        },
      );
      const timer = setTimeout(() => {
        const err = Object.assign(new Error(`no answer within ${o.timeoutMs} ms`), { code: 'ETIMEDOUT' });
        done(err);
        req.destroy(err);
      }, o.timeoutMs);
      req.on('error', (err) => done(err));
      req.end(body);
    });
}
