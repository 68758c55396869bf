/**
 * The webhook's HTTPS server: POST /mutate-serviceaccounts takes an AdmissionReview and answers
 * one. Its certificate is swapped in place (setSecureContext) when the material is renewed: new
 * connections get the new certificate, no request is dropped.
 */
import https from 'node:https';
import { listen } from '../http/server.js';
import type { ServingMaterial } from './certs.js';
import { WEBHOOK_PATH } from './configuration.js';
import type { AdmissionReview, AdmissionReviewResponse } from './mutate.js';

/** An AdmissionReview of a ServiceAccount is a few kB; anything past this is refused. */
const MAX_BODY_BYTES = 1 << 20;

export interface WebhookServer {
  port: number;
  setMaterial(m: ServingMaterial): void;
  close(): Promise<void>;
}

export async function startWebhookServer(address: string, material: ServingMaterial, review: (r: AdmissionReview) => Promise<AdmissionReviewResponse>): Promise<WebhookServer> {
  const server = https.createServer({ cert: material.cert, key: material.key, minVersion: 'TLSv1.2' }, (req, res) => {
    const reply = (code: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(code, { 'Content-Type': type });
      res.end(body);
    };
    if ((req.url ?? '').split('?')[0] !== WEBHOOK_PATH) return reply(404, 'not found\n');
    if (req.method !== 'POST') return reply(405, 'method not allowed\n');
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      let body: AdmissionReview;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as AdmissionReview;
      } catch {
        return reply(400, 'not a JSON AdmissionReview\n');
      }
      void review(body).then(
        (answer) => reply(200, JSON.stringify(answer), 'application/json'),
        () => reply(500, 'review failed\n'),
      );
    });
  });
  server.keepAliveTimeout = 30_000;
  server.requestTimeout = 10_000;
  const listening = await listen(server, address);
  return { ...listening, setMaterial: (m) => server.setSecureContext({ cert: m.cert, key: m.key, minVersion: 'TLSv1.2' }) };
}
