/**
 * When the webhook renews what (renewal, pure), and that what renew() makes is what a TLS client
 * trusting the bundle accepts, for the hosts asked (an IP SAN for an IP address).
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { before, test } from 'node:test';
import { type TlsMaterial, CA_LIFETIMES, caBundle, renew, renewal, trusts } from '../../src/webhook/certs.js';

const V = 90 * 24 * 3600_000;
const NOW = Date.parse('2026-01-01T00:00:00Z');
const P = { validityMs: V, hosts: ['127.0.0.1', 'pso.example'] };
let m: TlsMaterial;

before(async () => {
  m = await renew(undefined, { kind: 'new-ca', reason: 'first' }, NOW, P);
});

test('renewal: nothing yet makes a CA', () => {
  assert.deepEqual(renewal(undefined, NOW, P, false), { kind: 'new-ca', reason: 'no certificates yet' });
});

test('renew: first material names the hosts and chains to the CA', () => {
  const cert = new X509Certificate(m.cert);
  const ca = new X509Certificate(m.caCerts[0] ?? '');
  assert.ok(cert.checkIssued(ca));
  assert.ok(cert.verify(ca.publicKey));
  assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
  assert.equal(cert.checkHost('pso.example'), 'pso.example');
  assert.ok(ca.ca);
  assert.ok(!cert.ca);
  assert.equal(Date.parse(cert.validTo), Math.floor((NOW + V) / 1000) * 1000);
  assert.equal(Date.parse(ca.validTo), Math.floor((NOW + CA_LIFETIMES * V) / 1000) * 1000);
});

const cases: { name: string; at: number; trusted?: boolean; hosts?: string[]; want: string }[] = [
  { name: 'fresh nothing', at: NOW, want: 'none' },
  { name: 'serving past two thirds', at: NOW + V * 0.7, want: 'new-serving' },
  { name: 'serving before two thirds', at: NOW + V * 0.6, want: 'none' },
  { name: 'CA past two thirds', at: NOW + CA_LIFETIMES * V * 0.7, want: 'new-ca' },
  { name: 'new host', at: NOW, hosts: ['10.0.0.1'], want: 'new-serving' },
];
for (const c of cases) {
  test(`renewal: ${c.name}`, () => {
    assert.equal(renewal(m, c.at, { ...P, hosts: c.hosts ?? P.hosts }, c.trusted ?? true).kind, c.want);
  });
}

test('renewal: serving of a new CA waits until the bundle is trusted', async () => {
  const next = await renew(m, { kind: 'new-ca', reason: 'x' }, NOW + 1000, P);
  assert.equal(next.caCerts.length, 2, 'the old CA stays in the bundle');
  assert.equal(next.cert, m.cert, 'the serving certificate is kept');
  assert.deepEqual(renewal(next, NOW + 2000, P, false), { kind: 'none' });
  assert.equal(renewal(next, NOW + 2000, P, true).kind, 'new-serving');
  const served = await renew(next, renewal(next, NOW + 2000, P, true), NOW + 2000, P);
  assert.ok(new X509Certificate(served.cert).checkIssued(new X509Certificate(served.caCerts[0] ?? '')));
});

test('caBundle: keeps cas another replica added', async () => {
  const other = await renew(m, { kind: 'new-ca', reason: 'x' }, NOW + 1000, P);
  const there = caBundle(other);
  const merged = caBundle(m, there, NOW + 2000);
  assert.ok(trusts(merged, other), "the other replica's new CA stays");
  assert.ok(trusts(merged, m));
  assert.ok(!trusts(caBundle(m), other));
});
