import type { Context, Middleware, Next } from 'koa';
import { HttpError, methodNotAllowed, technical } from './errors.js';
import { CLOSE_AFTER_ANSWER, readBody } from './read-body.js';

/**
 * Hostile-input filter at the edge, before oidc-provider and our routers see a request. What it
 * refuses has no legitimate sender, and each of these answered 500 further in (test/security/hostile-requests.test.ts):
 *
 * - Methods outside what the app serves (TRACE, PROPFIND, MKCOL, LOCK...): koa-router answers
 *   them with a 501 that our error handler logged and turned into a 500. RFC 9110 15.5.6: 405 with
 *   Allow.
 * - A body with a Content-Encoding: no client of ours compresses a request (browsers never do for
 *   forms, the PWA does not), oidc-provider does not decode it at all (it would parse the gzip
 *   bytes as a form), and @koa/bodyparser's failed inflate surfaced as a 500. RFC 7694 3: 415 with
 *   Accept-Encoding naming what we take. Refusing also leaves no decompression bomb to defuse.
 * - NUL, a lone UTF-16 surrogate, or bytes that are not UTF-8 in the path, in a query parameter, in
 *   a form field of oidc-provider's endpoints, or in the Authorization header. PostgreSQL refuses
 *   NUL in text and both NUL and lone surrogates (`\u0000`, `\ud800` escapes) in jsonb, so such a
 *   value reaching a query failed there: `state` on /session/end is saved in the session,
 *   nonce/claims/acr_values travel from /auth (or /request) into the refresh token saved at the
 *   code exchange, a device id in a URL or a refresh token in a form is looked up by id. JSON-valued
 *   parameters (the `claims` parameter) are decoded and checked too: the escapes hide in them.
 *   No person types a NUL, and UTF-8 has no encoding for a lone surrogate (CESU-8's ED A0 80 is
 *   refused as not UTF-8).
 */

/**
 * Every method some route of ours answers; anything else is refused here. PATCH is not used.
 * RFC 9110 9.1 suggests 501 for a method a server does not implement, but a 5xx reads as our fault
 * (to monitoring, and to the audit, which asks for a 4xx); 405 it is. Allow names what the server
 * serves at all: the edge does not know which of them each path takes.
 */
export const SERVED_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'] as const;
const served = new Set<string>(SERVED_METHODS);

/** oidc-provider's endpoints (CIBA's /backchannel too): it reads their bodies itself, so the form fields are checked here. */
const PROVIDER_PATH = /^\/(?:auth|token|me|jwks|request|reg|backchannel|session\/end|\.well-known)(?:\/|$)/;
const PROVIDER_PATH_ANY_CASE = new RegExp(PROVIDER_PATH.source, 'i');

/**
 * Pure: a path that oidc-provider would serve as one of its endpoints, spelt otherwise than it is
 * registered. Its router matches paths without regard to ASCII case (`/Token` is `/token`), while
 * everything we check by path (this file's form checks, POST /auth, POST /session/end) reads the
 * registered spelling (red-team: `POST /Request` took a NUL in `nonce` that `/request` refuses,
 * and the code exchange of the sign-in it started was a 500), nor with a slash after it. Only `/auth/<uid>` and `/reg/<id>`
 * carry a value of their own after the name; every other endpoint path is fixed lower-case words.
 */
export function misspelledProviderPath(path: string): boolean {
  if (!PROVIDER_PATH_ANY_CASE.test(path)) return false;
  // Its router also takes a trailing slash (`/token/`); no endpoint is registered with one.
  if (path.endsWith('/')) return true;
  // The endpoint's own words: the first segment of /auth/<uid> and /reg/<id>, the whole path otherwise.
  const named = /^\/(?:auth|reg)(?:\/|$)/i.test(path) ? path.split('/', 2).join('/') : path;
  return named !== named.toLowerCase();
}

/** oidc-provider's own cap on a body (lib/shared/selective_body.js); we stop at the same size. */
const PROVIDER_BODY_LIMIT = 56 * 1024;

/** NUL anywhere, or a surrogate half not paired (with the u flag, a pair is one code point, not \p{Cs}). */
const FORBIDDEN = /\u0000|\p{Cs}/u;

const refuse = (message: string) => technical(new HttpError(400, 'invalid_request', message));
const USERINFO_PATH = /^\/me$/;
/** At userinfo (RFC 6750 3, 3.1) a refusal of the credentials says how to present them, as oidc-provider's own refusals there do. */
const refuseBearer = (message: string) => technical(new HttpError(400, 'invalid_request', message, { 'WWW-Authenticate': `Bearer error="invalid_request", error_description="${message}"` }));

/** Deeper than any parameter a protocol defines (the claims parameter is 3-4 levels). */
const MAX_JSON_DEPTH = 32;

/**
 * Why a decoded string is refused, or null: it, or any string or key of the JSON it holds, carries a
 * forbidden character ('forbidden'), or that JSON nests deeper than MAX_JSON_DEPTH ('too_deep').
 * The JSON is walked with a stack of its own (red-team: 5,000 nested brackets in any query
 * parameter overflowed the recursive walk's call stack: a 500 on every path, /healthz included).
 */
function holdsForbidden(value: string): 'forbidden' | 'too_deep' | null {
  if (FORBIDDEN.test(value)) return 'forbidden';
  // A JSON-valued parameter (claims) carries NUL and lone surrogates as escapes; JSON.parse makes them real.
  const first = value.trimStart()[0];
  if (first !== '{' && first !== '[') return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return null; // Not JSON: oidc-provider refuses it as such, and the text itself is clean.
  }
  const stack: Array<[unknown, number]> = [[parsed, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v === 'string') {
      if (FORBIDDEN.test(v)) return 'forbidden';
    } else if (v && typeof v === 'object') {
      if (depth >= MAX_JSON_DEPTH) return 'too_deep';
      for (const [k, x] of Object.entries(v)) {
        if (!Array.isArray(v) && FORBIDDEN.test(k)) return 'forbidden';
        stack.push([x, depth + 1]);
      }
    }
  }
  return null;
}

/** Percent-decodes strictly: a malformed escape or bytes that are not UTF-8 (CESU-8 surrogates among them) throw. */
function decodeStrict(s: string): string {
  return decodeURIComponent(s.replace(/\+/g, ' '));
}

/** application/x-www-form-urlencoded (a query string or a form body) → [name, value] pairs, strictly. */
function formPairs(text: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const part of text.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    pairs.push(eq === -1 ? [decodeStrict(part), ''] : [decodeStrict(part.slice(0, eq)), decodeStrict(part.slice(eq + 1))]);
  }
  return pairs;
}

/**
 * Refuses form or query text with a malformed escape, bytes that are not UTF-8, a NUL or a lone
 * surrogate (400 invalid_request naming the parameter). Our own form pages use it too (body.ts).
 */
export function checkPairs(text: string, where: string): Array<[string, string]> {
  let pairs: Array<[string, string]>;
  try {
    pairs = formPairs(text);
  } catch {
    throw refuse(`The ${where} is not valid percent-encoded UTF-8.`);
  }
  for (const [name, value] of pairs) {
    const why = holdsForbidden(name) ?? holdsForbidden(value);
    if (why) {
      const shown = FORBIDDEN.test(name) ? '(unreadable)' : name.slice(0, 40);
      throw refuse(why === 'too_deep'
        ? `The ${where} parameter "${shown}" nests JSON deeper than ${MAX_JSON_DEPTH} levels.`
        : `The ${where} parameter "${shown}" holds a character that is not allowed.`);
    }
  }
  return pairs;
}

/** How long a request's values may be: each, by name where it differs, and all of them together. */
interface RequestCaps {
  readonly what: string;
  readonly each: number;
  readonly of: Readonly<Record<string, number>>;
  readonly total: number;
}

/** All of an authorization request's values together. */
const AUTH_REQUEST_MAX = 24_576;

/**
 * An authorization request (GET or POST /auth, PAR's /request) is kept as sent, in its interaction,
 * for up to an hour before anyone signs in: each value is held to 4 KB (a signed request object to
 * 16 KB, an id_token_hint only by the whole) and all of them to 24 KB (red-team: three 15 KB values made each
 * cookieless POST /auth keep 66 KB in Redis for an hour; the plain request keeps under 1 KB).
 * An id_token_hint is held by the whole request's cap only: the MFA-only door refuses an oversized
 * one itself, answered to Entra or the broker as access_denied (docs/entra.md), not as our page.
 */
const AUTHORIZATION_CAPS: RequestCaps = { what: 'authorization request', each: 4096, of: { request: 16_384, id_token_hint: AUTH_REQUEST_MAX }, total: AUTH_REQUEST_MAX };

/**
 * A logout request (RP-Initiated Logout, GET or POST /session/end): a POST is sent on as a 303 to the
 * GET with the same parameters, so the whole request must fit in a Location header a browser follows
 * and in the 16 KB of headers Node takes (red-team: a 40 KB id_token_hint or state was answered with a
 * 53 KB Location the browser could not follow, a 431 on our own server). Its `state` is kept in the
 * session until the user confirms. An ID token of ours is well under 2 KB.
 */
const LOGOUT_CAPS: RequestCaps = { what: 'logout request', each: 4096, of: { id_token_hint: 8192 }, total: 12_288 };

/** Pure: why a request's parameters are over their caps, or null. */
function overCaps(pairs: ReadonlyArray<readonly [string, string]>, caps: RequestCaps): string | null {
  let total = 0;
  for (const [name, value] of pairs) {
    total += name.length + value.length;
    const max = Object.hasOwn(caps.of, name) ? caps.of[name]! : caps.each;
    if (value.length > max) return `The parameter "${name.slice(0, 40)}" is longer than ${max} characters.`;
  }
  return total > caps.total ? `The ${caps.what} is longer than ${caps.total} characters.` : null;
}

export const authorizationRequestTooLarge = (pairs: ReadonlyArray<readonly [string, string]>): string | null => overCaps(pairs, AUTHORIZATION_CAPS);
export const logoutRequestTooLarge = (pairs: ReadonlyArray<readonly [string, string]>): string | null => overCaps(pairs, LOGOUT_CAPS);

const CAPS_OF_PATH: ReadonlyMap<string, RequestCaps> = new Map([['/auth', AUTHORIZATION_CAPS], ['/request', AUTHORIZATION_CAPS], ['/session/end', LOGOUT_CAPS]]);

/** An authorization or logout request's parameters (in its query or its form) over their caps: a 400. */
function checkRequestSize(ctx: Context, pairs: ReadonlyArray<readonly [string, string]>): void {
  const caps = CAPS_OF_PATH.get(ctx.path);
  const tooLarge = caps ? overCaps(pairs, caps) : null;
  if (tooLarge) throw refuse(tooLarge);
}

function checkPath(ctx: Context): void {
  let path: string;
  try {
    path = decodeURIComponent(ctx.path);
  } catch {
    throw refuse('The address is not valid percent-encoded UTF-8.');
  }
  // No path of ours holds a control character; a NUL in an id reached a database lookup.
  if (/[\u0000-\u001f\u007f]/.test(path)) throw refuse('The address holds a character that is not allowed.');
}

/**
 * The credentials of Authorization. Node already refuses raw NUL in a header; what is left is what
 * the credentials decode to. Bearer, Device (a compact JWS) and DPoP credentials are token68
 * (RFC 9110 11.4); Basic decodes to client_id:secret, each form-urlencoded (RFC 6749 2.3.1).
 */
function checkAuthorization(ctx: Context): void {
  const header = ctx.get('authorization');
  if (!header) return;
  // Red-team: at userinfo the edge's 400 carried no WWW-Authenticate.
  const deny = USERINFO_PATH.test(ctx.path) ? refuseBearer : refuse;
  // Every scheme we take (Basic, Bearer, Device, DPoP) is ASCII; Node hands other bytes on as latin1.
  if (/[^\t\x20-\x7e]/.test(header)) throw deny('The Authorization header holds characters that are not allowed.');
  const m = /^(\S+) +(\S+)$/.exec(header);
  if (!m) return; // Malformed headers are each scheme's own refusal (a 401 with its WWW-Authenticate).
  const [, scheme, credentials] = m as unknown as [string, string, string];
  // A Device credential that is not token68 is the device API's own 401 invalid_token, with its
  // WWW-Authenticate (docs/device-api.md section 2), not a 400 here.
  if (/^(?:bearer|dpop)$/i.test(scheme) && !/^[A-Za-z0-9\-._~+/]+=*$/.test(credentials)) {
    throw deny('The Authorization header holds characters that are not allowed.');
  }
  if (/^basic$/i.test(scheme)) {
    let text: string;
    try {
      text = STRICT_UTF8.decode(Buffer.from(credentials, 'base64'));
      for (const part of text.split(':')) if (holdsForbidden(decodeStrict(part))) throw new Error('forbidden');
    } catch {
      throw deny('The Basic credentials are not valid UTF-8 or hold a character that is not allowed.');
    }
  }
}

/**
 * A DPoP proof (RFC 9449 4.2) with an empty `nonce`: oidc-provider, which issues no nonces here,
 * answered it by setting an undefined DPoP-Nonce header, a 500 (red-team). Refused as the proof
 * error it is; every other shape of proof is oidc-provider's to judge.
 */
function checkDpop(ctx: Context): void {
  const proof = ctx.get('dpop');
  if (!proof) return;
  const payload = proof.split('.')[1];
  if (!payload) return;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return;
  }
  if (claims && typeof claims === 'object' && (claims as { nonce?: unknown }).nonce === '') {
    throw technical(new HttpError(400, 'invalid_dpop_proof', 'The DPoP proof has an empty nonce; this server issues none: leave it out.'));
  }
}

/** A body is there when a length above 0 or a chunked transfer says so. */
const hasBody = (ctx: Context) => Number(ctx.get('content-length') || 0) > 0 || ctx.get('transfer-encoding') !== '';

/** One strict decoder for every request: decode() without `stream` keeps no state between calls. */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The body of an oidc-provider endpoint, at most `limit` bytes (src/http/read-body.ts). */
function readLimited(ctx: Context, limit: number): Promise<Buffer> {
  return readBody(ctx.req, ctx.request.length, limit, {
    tooLarge: () => technical(new HttpError(413, 'invalid_request', 'The body is too large.', CLOSE_AFTER_ANSWER)),
    unreadable: () => refuse('The body could not be read.'),
  });
}

/**
 * Checks the form body of an oidc-provider endpoint (its token, introspection and revocation
 * endpoints looked a NUL-holding token up in PostgreSQL; /auth and /request carried one into the
 * code) and hands the text on: oidc-provider reads `ctx.request.body` when the stream is already
 * consumed (selective_body.js) and parses it as it would have parsed the stream. It says so once
 * per process on stderr ("already parsed request body detected"): that line is this, and expected.
 */
async function checkProviderForm(ctx: Context): Promise<void> {
  const raw = await readLimited(ctx, PROVIDER_BODY_LIMIT);
  let text: string;
  try {
    text = STRICT_UTF8.decode(raw);
  } catch {
    throw refuse('The form is not valid UTF-8.');
  }
  checkRequestSize(ctx, checkPairs(text, 'form'));
  ctx.request.body = text;
}

/**
 * The device API's paths: its router answers a method a path does not take with that path's own
 * Allow (RFC 9110 15.5.6; red-team: PATCH on /api/device/enroll listed six methods, GET there
 * `Allow: POST`), and its refusals use its own error codes (docs/device-api.md: a 415 is
 * invalid_request).
 */
const DEVICE_API_PATH = /^\/api\/device(?:\/|$)/;
/** The paths the device router itself answers for any method (its fallback: no trailing slash, no empty segment). */
const DEVICE_ROUTER_PATH = /^\/api\/device(?:\/[^/]+)*$/;
/** Where an error's code must be one of the OAuth registry's or the device API's (invalid_request): not unsupported_media_type. */
const INVALID_REQUEST_PATHS = (path: string) => DEVICE_API_PATH.test(path) || PROVIDER_PATH.test(path);

/**
 * oidc-provider's endpoints and the methods its router serves on each (HEAD with GET; OPTIONS where
 * it answers a browser's CORS preflight). Another method there was its 404 `not_found` (red-team),
 * as if the endpoint did not exist: it is a 405 with Allow (RFC 9110 15.5.6). An OPTIONS that is no
 * preflight (no Access-Control-Request-Method), which its router leaves unanswered, is answered
 * here with the Allow list (RFC 9110 9.3.7).
 */
const PROVIDER_METHODS: ReadonlyArray<readonly [RegExp, readonly string[]]> = [
  [/^\/(?:\.well-known\/(?:openid-configuration|oauth-authorization-server)|jwks)$/, ['GET', 'HEAD', 'OPTIONS']],
  [/^\/auth$/, ['GET', 'HEAD', 'POST', 'OPTIONS']],
  [/^\/auth\/[^/]+$/, ['GET', 'HEAD', 'OPTIONS']],
  [/^\/me$/, ['GET', 'HEAD', 'POST', 'OPTIONS']],
  [/^\/(?:token|token\/introspection|token\/revocation|request|backchannel)$/, ['POST', 'OPTIONS']],
  [/^\/session\/end$/, ['GET', 'HEAD', 'POST', 'OPTIONS']],
  [/^\/session\/end\/confirm$/, ['POST', 'OPTIONS']],
  [/^\/session\/end\/success$/, ['GET', 'HEAD', 'OPTIONS']],
];

/** Pure: the methods oidc-provider serves at this path, or null for a path that is not one of its endpoints. */
export function providerMethods(path: string): readonly string[] | null {
  for (const [pattern, methods] of PROVIDER_METHODS) if (pattern.test(path)) return methods;
  return null;
}

export function hostileInput(): Middleware {
  const allow = SERVED_METHODS.join(', ');
  return async (ctx: Context, next: Next) => {
    if (!served.has(ctx.method) && !DEVICE_ROUTER_PATH.test(ctx.path)) {
      throw methodNotAllowed(ctx.method, allow);
    }
    const endpoint = providerMethods(ctx.path);
    if (endpoint && !endpoint.includes(ctx.method)) throw methodNotAllowed(ctx.method, endpoint.join(', '));
    if (endpoint && ctx.method === 'OPTIONS' && !ctx.get('access-control-request-method')) {
      ctx.status = 204;
      ctx.set('Allow', endpoint.join(', '));
      return;
    }
    if (hasBody(ctx)) {
      const encoding = ctx.get('content-encoding').trim().toLowerCase();
      if (encoding !== '' && encoding !== 'identity') {
        const code = INVALID_REQUEST_PATHS(ctx.path) ? 'invalid_request' : 'unsupported_media_type';
        throw technical(new HttpError(415, code, 'Send the body without a Content-Encoding.', { 'Accept-Encoding': 'identity' }));
      }
    }
    checkPath(ctx);
    if (misspelledProviderPath(ctx.path)) throw new HttpError(404, 'not_found', `Nothing here: ${ctx.method} ${ctx.path}.`);
    if (ctx.querystring) checkRequestSize(ctx, checkPairs(ctx.querystring, 'query'));
    checkAuthorization(ctx);
    checkDpop(ctx);
    if (PROVIDER_PATH.test(ctx.path) && hasBody(ctx) && ctx.is('application/x-www-form-urlencoded')) await checkProviderForm(ctx);
    await next();
  };
}
