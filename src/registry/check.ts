/**
 * The credential check of one registry host, as `docker login` and containerd do it, without
 * pulling anything:
 *
 * 1. GET https://HOST/v2/ without credentials.
 * 2. A `Basic` challenge: the same GET with the credentials; 200 is valid, 401 or 403 rejected.
 * 3. A `Bearer realm=...,service=...` challenge: a token from the realm, as containerd asks for it:
 *    POST the OAuth2 password form first; when that is refused (400, 401, 404, 405), GET the realm
 *    with Basic auth and judge by that GET. Then GET /v2/ with the token, to see that the registry
 *    honours it. The token is dropped when the check returns.
 *
 * Safety, enforced here whatever the request function does: only https URLs; credentials go only
 * to HOST itself and to a realm that passes realmRefusal (https, HOST's own host or site); a
 * redirect is followed only on the same host and port (3 at most), so none carries credentials
 * elsewhere and no other host is contacted. The request function (src/registry/https.ts) gives
 * every request a deadline and caps every body.
 *
 * Results: valid, rejected (401 or 403 for these credentials), unreachable (DNS, TCP, TLS, a
 * timeout, a 5xx: no verdict), unchecked (no verdict for another reason, said in `detail`). No
 * detail ever holds a password, a token or an Authorization header: only hosts, paths and HTTP
 * statuses.
 */
import { type Challenge, displayUrl, parseChallenges, realmRefusal } from './challenge.js';
import type { RegistryCredential } from './credentials.js';

export const CHECK_RESULTS = ['valid', 'rejected', 'unreachable', 'unchecked'] as const;
export type CheckResult = (typeof CHECK_RESULTS)[number];

export interface CheckOutcome {
  result: CheckResult;
  /** One sentence for an admin: what answered what. */
  detail: string;
  /** The HTTP status the verdict rests on, when there is one. */
  status?: number;
}

export interface RegistryRequest {
  method: 'GET' | 'POST';
  url: URL;
  headers: Record<string, string>;
  body?: string;
}

export interface RegistryResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Sends one request and resolves with the answer (never following redirects); rejects on DNS, TCP, TLS errors and timeouts. */
export type RequestFn = (r: RegistryRequest) => Promise<RegistryResponse>;

const MAX_REDIRECTS = 3;
/** containerd's fallback from the OAuth2 POST to the GET with Basic auth. */
const POST_REFUSED = new Set([400, 401, 404, 405]);
export const CLIENT_ID = 'pullsecret-operator';

class NoVerdict extends Error {
  constructor(readonly outcome: CheckOutcome) {
    super(outcome.detail);
  }
}

const basic = (c: Required<RegistryCredential>): string => `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;

/** The error of a failed request in a few words (its code when it has one: ENOTFOUND, ECONNREFUSED, a TLS code). */
function networkDetail(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

/**
 * One request to `url`, following redirects only to the same host and port. Network errors become
 * `unreachable`, a redirect elsewhere `unchecked` (not followed).
 */
async function send(request: RequestFn, r: RegistryRequest): Promise<RegistryResponse & { url: URL }> {
  let url = r.url;
  for (let hops = 0; ; hops++) {
    if (url.protocol !== 'https:') throw new NoVerdict({ result: 'unchecked', detail: `refused to contact ${displayUrl(url)}: not https` });
    let res: RegistryResponse;
    try {
      res = await request({ ...r, url });
    } catch (err) {
      throw new NoVerdict({ result: 'unreachable', detail: `${r.method} ${displayUrl(url)}: ${networkDetail(err)}` });
    }
    if (res.status < 300 || res.status >= 400 || res.status === 304) return { ...res, url };
    const location = header(res, 'location');
    const next = location === undefined ? undefined : safeUrl(location, url);
    if (!next || next.host !== url.host || next.protocol !== 'https:' || hops >= MAX_REDIRECTS || r.method !== 'GET') {
      throw new NoVerdict({ result: 'unchecked', detail: `${displayUrl(url)} redirected (HTTP ${res.status})${next ? ` to ${displayUrl(next)}` : ''}: not followed`, status: res.status });
    }
    url = next;
  }
}

function safeUrl(location: string, base: URL): URL | undefined {
  try {
    return new URL(location, base);
  } catch {
    return undefined;
  }
}

function header(res: RegistryResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The verdict of an answer to a request that carried the credentials (or a token made from them). */
function judge(status: number, what: string): CheckOutcome | undefined {
  if (status === 401 || status === 403) return { result: 'rejected', detail: `${what} answered HTTP ${status}`, status };
  if (status >= 500) return { result: 'unreachable', detail: `${what} answered HTTP ${status}`, status };
  return undefined;
}

/** The token of a token service's JSON answer (`token` or `access_token`), if any. */
function tokenOf(body: Buffer): string | undefined {
  try {
    const j = JSON.parse(body.toString('utf8')) as { token?: unknown; access_token?: unknown };
    const t = typeof j.token === 'string' && j.token !== '' ? j.token : j.access_token;
    return typeof t === 'string' && t !== '' ? t : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the credentials in `cred` would be accepted by the registry at `cred.host`. Never throws. */
export async function checkCredentials(cred: RegistryCredential, request: RequestFn): Promise<CheckOutcome> {
  if (cred.username === undefined || cred.password === undefined) return { result: 'unchecked', detail: 'the entry has no username and password (an identity token is not checked)' };
  const c = cred as Required<RegistryCredential>;
  try {
    return await check(c, request);
  } catch (err) {
    if (err instanceof NoVerdict) return err.outcome;
    return { result: 'unchecked', detail: `check failed: ${networkDetail(err)}` };
  }
}

async function check(c: Required<RegistryCredential>, request: RequestFn): Promise<CheckOutcome> {
  const base = new URL(`https://${c.host}/v2/`);
  const where = `${displayUrl(base)}`;
  const first = await send(request, { method: 'GET', url: base, headers: {} });
  if (first.status === 200) return { result: 'unchecked', detail: `${where} asks for no credentials: nothing to judge them by`, status: 200 };
  if (first.status >= 500) return { result: 'unreachable', detail: `${where} answered HTTP ${first.status}`, status: first.status };
  if (first.status !== 401) return { result: 'unchecked', detail: `${where} answered HTTP ${first.status}, not a registry's 401`, status: first.status };
  const challenges = parseChallenges(first.headers['www-authenticate']);
  const bearer = challenges.find((x) => x.scheme === 'bearer');
  if (bearer) return bearerFlow(c, request, first.url, bearer);
  if (challenges.some((x) => x.scheme === 'basic')) {
    const r = await send(request, { method: 'GET', url: first.url, headers: { Authorization: basic(c) } });
    if (r.status === 200) return { result: 'valid', detail: `${where} accepted the credentials (Basic)`, status: 200 };
    return judge(r.status, `${where} with the credentials (Basic)`) ?? { result: 'unchecked', detail: `${where} with the credentials (Basic) answered HTTP ${r.status}`, status: r.status };
  }
  const schemes = challenges.map((x) => x.scheme).join(', ') || 'none';
  return { result: 'unchecked', detail: `${where} asks for an authentication scheme the check does not speak (${schemes})`, status: 401 };
}

async function bearerFlow(c: Required<RegistryCredential>, request: RequestFn, base: URL, challenge: Challenge): Promise<CheckOutcome> {
  const realm = challenge.params['realm'] ?? '';
  const refusal = realmRefusal(c.host, realm);
  if (refusal !== undefined) {
    const shown = safeUrl(realm, base);
    return { result: 'unchecked', detail: `token realm ${shown ? displayUrl(shown) : JSON.stringify(realm.slice(0, 100))} refused: ${refusal}; no credentials sent` };
  }
  const realmUrl = new URL(realm);
  const shownRealm = displayUrl(realmUrl);
  const service = challenge.params['service'];
  const scope = challenge.params['scope'];

  // 1. The OAuth2 password grant, as containerd sends it first.
  const form = new URLSearchParams();
  if (scope) form.set('scope', scope);
  if (service) form.set('service', service);
  form.set('client_id', CLIENT_ID);
  form.set('grant_type', 'password');
  form.set('username', c.username);
  form.set('password', c.password);
  const post = await send(request, { method: 'POST', url: realmUrl, headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8', Accept: 'application/json' }, body: form.toString() });
  let token: string | undefined;
  let how = 'OAuth2 POST';
  if (post.status === 200) {
    token = tokenOf(post.body);
    if (token === undefined) return { result: 'unchecked', detail: `${shownRealm} answered the OAuth2 POST with HTTP 200 but no token`, status: 200 };
  } else if (POST_REFUSED.has(post.status)) {
    // 2. containerd's fallback: GET the realm with Basic auth; its answer is the verdict.
    const url = new URL(realmUrl);
    if (service) url.searchParams.set('service', service);
    if (scope) url.searchParams.set('scope', scope);
    how = 'GET with Basic auth';
    const get = await send(request, { method: 'GET', url, headers: { Authorization: basic(c), Accept: 'application/json' } });
    if (get.status !== 200) {
      return judge(get.status, `token realm ${shownRealm} (${how}, after the OAuth2 POST got HTTP ${post.status})`) ?? {
        result: 'unchecked',
        detail: `token realm ${shownRealm} (${how}) answered HTTP ${get.status}`,
        status: get.status,
      };
    }
    token = tokenOf(get.body);
    if (token === undefined) return { result: 'unchecked', detail: `${shownRealm} answered HTTP 200 but no token`, status: 200 };
  } else {
    return judge(post.status, `token realm ${shownRealm} (OAuth2 POST)`) ?? { result: 'unchecked', detail: `token realm ${shownRealm} answered the OAuth2 POST with HTTP ${post.status}`, status: post.status };
  }

  // 3. Does the registry honour the token?
  const withToken = await send(request, { method: 'GET', url: base, headers: { Authorization: `Bearer ${token}` } });
  if (withToken.status === 200) return { result: 'valid', detail: `token realm ${shownRealm} issued a token (${how}) and ${displayUrl(base)} accepted it`, status: 200 };
  return judge(withToken.status, `${displayUrl(base)} with the token from ${shownRealm}`) ?? { result: 'unchecked', detail: `${displayUrl(base)} with the token answered HTTP ${withToken.status}`, status: withToken.status };
}
