/**
 * What a registry's 401 asks for, and where credentials may go. Pure: no I/O.
 *
 * - parseChallenges reads `WWW-Authenticate` tolerantly: quoted or unquoted values, commas with or
 *   without spaces, several challenges in one header or in several headers. icr.io's challenge is
 *   reported as `Bearer realm=https://icr.io/oauth/token, service=registry` (no quotes).
 * - realmRefusal is the rule for the token realm a registry names: https only, and on the
 *   registry's own host or its site (docs/credentials.md, "Where credentials go").
 */
import { isIP } from 'node:net';

export interface Challenge {
  /** Lower case: `basic`, `bearer`, ... */
  scheme: string;
  /** Parameter names in lower case; values as sent, unquoted. */
  params: Record<string, string>;
}

const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;

/** Every challenge of the `WWW-Authenticate` header(s) of an answer. Never throws. */
export function parseChallenges(header: string | readonly string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  if (typeof header !== 'string') return header.flatMap((h) => parseChallenges(h));
  const s = header;
  let i = 0;
  const skip = (chars: RegExp): void => {
    while (i < s.length && chars.test(s[i] ?? '')) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < s.length && TOKEN.test(s[i] ?? '')) i++;
    return s.slice(start, i);
  };
  const out: Challenge[] = [];
  while (i < s.length) {
    skip(/[\s,]/);
    const scheme = token();
    if (scheme === '') {
      i++; // not a token character: skip it
      continue;
    }
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    for (;;) {
      skip(/[\s,]/);
      const at = i;
      const name = token();
      skip(/[ \t]/);
      if (name === '' || s[i] !== '=') {
        i = at; // the next challenge's scheme (or the end)
        break;
      }
      i++;
      skip(/[ \t]/);
      let value = '';
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        i++;
      } else {
        const start = i;
        while (i < s.length && !/[\s,]/.test(s[i] ?? '')) i++;
        value = s.slice(start, i);
      }
      challenge.params[name.toLowerCase()] = value;
    }
  }
  return out;
}

/** The host part of a host[:port] (IPv6 brackets removed), lower case. */
export function hostnameOf(address: string): string {
  const a = address.toLowerCase();
  if (a.startsWith('[')) return a.slice(1, a.indexOf(']'));
  return a.replace(/:\d+$/, '');
}

/**
 * The site of a registry host, for the realm rule: the host without its first label when that
 * leaves at least two labels (`us.icr.io` -> `icr.io`, `registry-1.docker.io` -> `docker.io`),
 * else the host itself (`icr.io`, `localhost`). An IP address is its own site, and nothing else is in it.
 */
export function siteOf(hostname: string): string {
  if (isIP(hostname) !== 0) return hostname;
  const labels = hostname.split('.');
  return labels.length >= 3 ? labels.slice(1).join('.') : hostname;
}

/**
 * Why credentials for `registry` (host[:port]) may not be sent to the token realm `realm`, or
 * undefined when they may. The realm must be an https URL without user info, on the registry's
 * own host (any port) or on a host of its site: the site itself or a name under it. So
 * `us.icr.io` may name `https://icr.io/oauth/token` and `registry-1.docker.io` may name
 * `https://auth.docker.io/token`, while `127.0.0.1:5000` may name only `https://127.0.0.1:<port>/...`.
 */
export function realmRefusal(registry: string, realm: string): string | undefined {
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    return 'the realm is not a URL';
  }
  if (url.protocol !== 'https:') return `the realm is not https (${url.protocol.replace(/:$/, '')})`;
  if (url.username !== '' || url.password !== '') return 'the realm carries user info';
  const host = hostnameOf(registry);
  const realmHost = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (realmHost === host) return undefined;
  const site = siteOf(host);
  if (isIP(host) === 0 && isIP(realmHost) === 0 && (realmHost === site || realmHost.endsWith(`.${site}`))) return undefined;
  return `the realm's host ${realmHost} is neither ${host} nor in its site ${site}`;
}

/** A URL as it may appear in a detail, an Event or a log line: no query (a token service's parameters) and no user info. */
export function displayUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}
