/**
 * The webhook's certificates: a CA and a serving certificate it signs, made with node-forge
 * (Node 20's crypto parses X.509 but cannot create it), on RSA keys made by Node's crypto. When to
 * renew is decided by renewal(), a pure function of the material and the time.
 */
import { X509Certificate, generateKeyPair, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import forge from 'node-forge';

const generateRsa = promisify(generateKeyPair);

/** What the webhook's server needs: a certificate (chain) and its key, PEM. */
export interface ServingMaterial {
  cert: string;
  key: string;
}

/** What the Secret (or, with no namespace to keep it in, memory) holds. */
export interface TlsMaterial extends ServingMaterial {
  /** PEM certificates of the CAs the API server must trust: the signing CA first, then older ones not yet expired. */
  caCerts: string[];
  /** PEM private key of the signing CA (the first of caCerts). */
  caKey: string;
  /** PEM serving certificate and its key. */
  cert: string;
  key: string;
}

export interface CertPolicy {
  /** Lifetime of a serving certificate; the CA lives CA_LIFETIMES times as long. */
  validityMs: number;
  /** DNS names and IP addresses the serving certificate names. */
  hosts: readonly string[];
}

/** A CA outlives CA_LIFETIMES serving certificates. */
export const CA_LIFETIMES = 4;
/** Certificates are renewed when less than this share of their lifetime is left. */
export const RENEW_WHEN_LEFT = 1 / 3;
/** notBefore is this far in the past, for clocks a little behind ours. */
const BACKDATE_MS = 60_000;

export type Renewal = { kind: 'none' } | { kind: 'new-ca' | 'new-serving'; reason: string };

/**
 * What to renew now.
 * - No material, or a signing CA near its end: a new CA. The old CAs stay in the bundle until they
 *   expire, and the serving certificate is not reissued by the new CA until the webhook
 *   configuration trusts it (`trusted`), so no request ever meets a certificate the API server
 *   does not trust.
 * - A serving certificate near its end, not naming the hosts, or (once trusted) not issued by the
 *   signing CA: a new serving certificate.
 */
export function renewal(m: TlsMaterial | undefined, now: number, policy: CertPolicy, trusted: boolean): Renewal {
  if (!m) return { kind: 'new-ca', reason: 'no certificates yet' };
  const ca = parse(m.caCerts[0]);
  if (!ca) return { kind: 'new-ca', reason: 'the CA certificate does not parse' };
  if (Date.parse(ca.validTo) - now < policy.validityMs * CA_LIFETIMES * RENEW_WHEN_LEFT) return { kind: 'new-ca', reason: 'the CA expires soon' };
  const cert = parse(m.cert);
  if (!cert) return { kind: 'new-serving', reason: 'the serving certificate does not parse' };
  const left = Date.parse(cert.validTo) - now;
  if (left <= 0) return { kind: 'new-serving', reason: 'the serving certificate has expired' };
  if (!policy.hosts.every((h) => names(cert, h))) return { kind: 'new-serving', reason: 'the serving certificate does not name every host' };
  if (!cert.checkIssued(ca)) return trusted ? { kind: 'new-serving', reason: 'the serving certificate is not issued by the current CA' } : { kind: 'none' };
  if (left < policy.validityMs * RENEW_WHEN_LEFT) return { kind: 'new-serving', reason: 'the serving certificate expires soon' };
  return { kind: 'none' };
}

/** The material after `r`: a new CA (first in the bundle) or a new serving certificate. */
export async function renew(m: TlsMaterial | undefined, r: Renewal, now: number, policy: CertPolicy): Promise<TlsMaterial> {
  if (r.kind === 'none' && m) return m;
  if (r.kind === 'new-ca' || !m) {
    const ca = await makeCa(now, policy.validityMs * CA_LIFETIMES);
    const older = (m?.caCerts ?? []).filter((pem) => {
      const c = parse(pem);
      return c !== undefined && Date.parse(c.validTo) > now;
    });
    // First material: nothing trusts anything yet, so the serving certificate comes from the new CA at once.
    if (!m) return { caCerts: [ca.cert], caKey: ca.key, ...(await makeServing(ca, now, policy)) };
    return { ...m, caCerts: [ca.cert, ...older], caKey: ca.key };
  }
  return { ...m, ...(await makeServing({ cert: m.caCerts[0] ?? '', key: m.caKey }, now, policy)) };
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/** The PEM certificates in a text (a bundle), each normalised to end in one newline. */
export function pemCertificates(text: string): string[] {
  return (text.replace(/\r\n/g, '\n').match(PEM_CERT) ?? []).map((c) => `${c.trim()}\n`);
}

/**
 * The caBundle (base64 of PEM) for a webhook configuration that holds `current`: our CAs first,
 * then every CA already there that has not expired. A replica whose material is a pass behind
 * another's therefore never takes the other's new CA out of the bundle.
 */
export function caBundle(m: TlsMaterial, current: string | undefined = undefined, now = 0): string {
  const there = pemCertificates(Buffer.from(current ?? '', 'base64').toString('utf8')).filter((pem) => {
    const c = parse(pem);
    return c !== undefined && Date.parse(c.validTo) > now;
  });
  const all = [...new Set([...m.caCerts, ...there])];
  return Buffer.from(all.join('')).toString('base64');
}

/** Whether a caBundle (base64 of PEM) holds the signing CA of `m`. */
export function trusts(bundle: string | undefined, m: TlsMaterial): boolean {
  const signing = m.caCerts[0];
  return signing !== undefined && pemCertificates(Buffer.from(bundle ?? '', 'base64').toString('utf8')).includes(signing);
}

/** When the serving certificate and the signing CA (when known) expire (for logs). */
export function expiries(m: ServingMaterial & { caCerts?: string[] }): { cert: string; ca: string } {
  return { cert: parse(m.cert)?.validTo ?? '', ca: parse(m.caCerts?.[0])?.validTo ?? '' };
}

function parse(pem: string | undefined): X509Certificate | undefined {
  if (!pem) return undefined;
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

function names(cert: X509Certificate, host: string): boolean {
  return isIP(host) ? cert.checkIP(host) !== undefined : cert.checkHost(host, { wildcards: false }) !== undefined;
}

async function rsaKeys(): Promise<{ pem: string; forgeKey: forge.pki.rsa.PrivateKey; forgePublic: forge.pki.rsa.PublicKey }> {
  const { privateKey, publicKey } = await generateRsa('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  return {
    pem,
    forgeKey: forge.pki.privateKeyFromPem(pem),
    forgePublic: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
  };
}

function base(publicKey: forge.pki.PublicKey, now: number, lifetimeMs: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // A random positive serial: the leading hex digit 0 keeps the DER integer positive.
  cert.serialNumber = `0${randomBytes(16).toString('hex').slice(1)}`;
  cert.validity.notBefore = new Date(now - BACKDATE_MS);
  cert.validity.notAfter = new Date(now + lifetimeMs);
  return cert;
}

async function makeCa(now: number, lifetimeMs: number): Promise<{ cert: string; key: string }> {
  const k = await rsaKeys();
  const cert = base(k.forgePublic, now, lifetimeMs);
  // PrintableString characters only (no '@'): Go's x509 refuses anything else in a name.
  const subject = [{ name: 'commonName', value: `pullsecret-operator-webhook-ca-${Math.floor(now / 1000)}` }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(k.forgeKey, forge.md.sha256.create());
  return { cert: pemOf(cert), key: k.pem };
}

async function makeServing(ca: { cert: string; key: string }, now: number, policy: CertPolicy): Promise<{ cert: string; key: string }> {
  const k = await rsaKeys();
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const cert = base(k.forgePublic, now, policy.validityMs);
  cert.setSubject([{ name: 'commonName', value: policy.hosts[0] ?? 'pullsecret-operator-webhook' }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: policy.hosts.map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h })) },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(ca.key), forge.md.sha256.create());
  return { cert: pemOf(cert), key: k.pem };
}

/** PEM with LF line ends (forge writes CRLF), so that bundles compare equal as strings. */
function pemOf(cert: forge.pki.Certificate): string {
  return forge.pki.certificateToPem(cert).replace(/\r\n/g, '\n');
}
