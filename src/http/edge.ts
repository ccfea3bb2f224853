import type { Context, Middleware } from 'koa';
import { clientAddress, type TrustProxy } from './client-ip.js';
import { currentLocale, DEFAULT_LOCALE, t } from '../i18n/index.js';
import { FAULT, HttpError, methodNotAllowed, isStorageOutage, SeeOther, isTechnical, technical, RETRY_AFTER_SECONDS, toAppError, UNAVAILABLE, type AppError } from './errors.js';
import type { Views } from './views.js';

/** Where faults of ours go (a pino logger fits). Never given a secret. */
export interface ErrorLog {
  error(obj: object, msg?: string): void;
}

/** How an error is answered: `{ error, error_description }` JSON, or the error page. */
export type ErrorFormat = 'json' | 'html';

/**
 * Where every error is answered as JSON, whatever the Accept header: the APIs. A new JSON API
 * opts in with one line here (a path prefix), or by putting `jsonErrors()` first on its router.
 */
export const JSON_API_PREFIXES: readonly string[] = ['/api/'];

/**
 * JSON for the API prefixes and for every client that does not ask for text/html; the error page
 * for browsers. oidc-provider answers its own endpoints' errors in its OAuth format itself (the
 * edge only sees what fails before it, answered as JSON to any non-browser caller).
 */
export function formatFor(ctx: Pick<Context, 'path' | 'get'>, jsonPrefixes: readonly string[] = JSON_API_PREFIXES): ErrorFormat {
  if (jsonPrefixes.some((p) => ctx.path.startsWith(p))) return 'json';
  return ctx.get('accept').includes('text/html') ? 'html' : 'json';
}

/** The error page's words, in the request's language (src/i18n/), with the way back to the app when known. */
/** The error page's fields for a refusal (views/error.eta), in the request's language. */
export function errorPage(e: AppError, app: { name: string; url: string | null } | undefined): Record<string, unknown> {
  const unavailable = e.code === 'temporarily_unavailable';
  const heading = unavailable ? t('error.unavailableTitle') : !e.expose ? t('error.faultTitle') : e.code === 'session_not_found' ? t('error.endedTitle') : t('error.title');
  // A message for developers (English) leads a page in another language only as its detail.
  const detail = e.expose && isTechnical(e) && currentLocale() !== DEFAULT_LOCALE ? e.message : null;
  const description = unavailable ? t('error.unavailable') : !e.expose ? t('error.fault') : e.code === 'not_found' ? t('error.not_found') : detail !== null ? t('error.technical') : e.message;
  return { title: heading, heading, error: e.code, description, detail, app: app ?? null };
}

export interface ErrorEdgeOptions {
  /** Where 5xx faults are logged. */
  log?: ErrorLog;
  /** Renders the error page; without it every answer is JSON. */
  views?: Views;
  /** Picks the format per request; default formatFor(ctx). */
  format?: (ctx: Context) => ErrorFormat;
  /** Before an error page is rendered without an app (`ctx.state.app`): may set one for its "Back to" button. */
  appFor?: (ctx: Context) => Promise<void>;
}

/**
 * The one edge (docs/architecture.md, "Errors and the edge"): every error, of ours (src/http/errors.ts)
 * or of a library, becomes a clear answer with its status and stable code. A 4xx says why; only a
 * fault of ours is a 5xx, logged, answered 500 with nothing of the fault in it (no message, no
 * stack). Nothing it answers is cached, and no request takes the process down.
 * It also turns a request that nothing answered (oidc-provider's bare 404) into a not_found.
 */
export function errorEdge(opts: ErrorEdgeOptions = {}): Middleware {
  const pick = opts.format ?? ((ctx: Context) => formatFor(ctx));
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && (ctx.body == null || ctx.body === 'Not Found')) {
        throw new HttpError(404, 'not_found', `Nothing here: ${ctx.method} ${ctx.path}.`);
      }
      // A router's 405 (@koa/router's allowedMethods: the status and Allow, no body) as every refusal
      // is answered. Red-team (pages round): thrown instead, it lost its Allow (RFC 9110 15.5.6: MUST).
      if (ctx.status === 405 && ctx.body == null) throw methodNotAllowed(ctx.method, ctx.response.get('Allow'));
    } catch (err) {
      if (err instanceof SeeOther) {
        ctx.status = 303;
        ctx.set('Cache-Control', 'no-store');
        ctx.redirect(err.location);
        return;
      }
      const e = toAppError(err);
      if (e.status === 503) opts.log?.error({ err: { name: (err as Error)?.name, message: (err as Error)?.message }, path: ctx.path, method: ctx.method }, 'storage unavailable');
      else if (e.status >= 500) opts.log?.error({ err, path: ctx.path, method: ctx.method }, 'request failed');
      const format = opts.views ? pick(ctx) : 'json';
      ctx.status = e.status;
      for (const [name, value] of Object.entries(e.headers)) ctx.set(name, value);
      ctx.set('Cache-Control', 'no-store');
      if (format === 'json') {
        ctx.body = { error: e.code, error_description: e.expose ? e.message : FAULT };
      } else {
        if (!ctx.state.app) await opts.appFor?.(ctx).catch(() => undefined);
        ctx.type = 'html';
        ctx.body = opts.views!.render('error', errorPage(e, ctx.state.app as { name: string; url: string | null } | undefined));
      }
    } finally {
      // An answer given before the request's body was read whole (a 413 or 415 of a form, a 405, a
      // refusal before the body): the connection ends with it, as readBody's refusals do. Red-team
      // (hostile input): Node kept reading a trickled body after the answer, and at the request
      // timeout wrote a second, unasked-for 408 on the same connection.
      if (!ctx.req.complete && !ctx.headerSent) ctx.set('Connection', 'close');
    }
  };
}

/**
 * oidc-provider answers its own endpoints' faults itself (a 500 server_error) and then emits
 * `server_error`: when the fault is a storage outage (isStorageOutage), this listener turns that
 * answer into the edge's 503 temporarily_unavailable with Retry-After (RFC 6749 4.1.2.1 names the
 * code), as a page for a browser and as OAuth JSON otherwise. Other faults stay as they are.
 */
export function providerOutageAnswer(views?: Views) {
  return (ctx: Context, err: unknown): void => {
    if (!isStorageOutage(err)) return;
    ctx.status = 503;
    ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
    ctx.set('Cache-Control', 'no-store');
    // The choice oidc-provider made for its own answer (its error handler): a page when HTML is preferred.
    if (views && ctx.accepts('json', 'html') === 'html') {
      ctx.type = 'html';
      ctx.body = views.render('error', { title: t('error.unavailableTitle'), heading: t('error.unavailableTitle'), error: 'temporarily_unavailable', description: t('error.unavailable'), app: null });
    } else {
      ctx.body = { error: 'temporarily_unavailable', error_description: UNAVAILABLE };
    }
  };
}

/** The edge of one JSON API's router: every error of its routes as `{ error, error_description }`. */
export const jsonErrors = (log?: ErrorLog): Middleware => errorEdge({ ...(log ? { log } : {}), format: () => 'json' });

/**
 * Security headers on every response, set before the handler runs: a handler may replace them (the
 * PWA sets its own CSP), and oidc-provider adds the hash of its form_post script to this CSP, which
 * it can only do when the header is already there.
 */
export function securityHeaders(opts: { hsts: boolean }): Middleware {
  const headers = securityHeaderList(opts);
  return async (ctx, next) => {
    for (const [name, value] of headers) ctx.set(name, value);
    await next();
  };
}

/** Pure: the security headers every response carries (securityHeaders, and the raw long-poll route, src/http/long-poll.ts). */
export function securityHeaderList(opts: { hsts: boolean }): ReadonlyArray<readonly [string, string]> {
  return [
    ['X-Content-Type-Options', 'nosniff'],
    ['Referrer-Policy', 'no-referrer'],
    ...(opts.hsts ? [['Strict-Transport-Security', 'max-age=31536000; includeSubDomains'] as const] : []),
    ['Content-Security-Policy', "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"],
    ['X-Frame-Options', 'DENY'],
  ];
}

/** oidc-provider's own endpoints: they go straight to it, past our routers (the token endpoint's hot path). */
const PROVIDER_PATH = /^\/(?:auth|token|me|jwks|session\/end|\.well-known\/openid-configuration)(?:\/|$)/;

export function providerFastPath(provider: Middleware): Middleware {
  return (ctx, next) => (PROVIDER_PATH.test(ctx.path) ? provider(ctx, next) : next());
}

/**
 * Every URL the IdP emits comes from ISSUER. oidc-provider builds absolute URLs (discovery, redirects,
 * form_post) from Koa's ctx.href, that is from the request's protocol, Host and target; each of
 * those is the sender's to write, so each is pinned here, before anything reads it:
 * - Host is set to the issuer's; X-Forwarded-Host and X-Forwarded-Proto are dropped, trusted proxy
 *   or not (a proxy's idea of them is ISSUER's to state);
 * - the protocol is the issuer's, whatever the socket or X-Forwarded-Proto: behind a TLS-terminating
 *   proxy an https issuer stays https on a plain socket, and an http issuer cannot be made https;
 * - an absolute-form target (`GET http://evil.example/x HTTP/1.1`, RFC 9112 3.2.2), which Koa's
 *   href would return as is, becomes its origin form (`/x`); the asterisk form and anything else
 *   not starting with "/" is refused with 400.
 */
export function pinOrigin(issuer: string): Middleware {
  const { host, protocol } = new URL(issuer);
  const scheme = protocol.slice(0, -1);
  return async (ctx, next) => {
    const target = ctx.req.url ?? '/';
    if (!target.startsWith('/')) {
      const originForm = absoluteToOriginForm(target);
      if (originForm === null) {
        throw technical(new HttpError(400, 'invalid_request', 'The request target must be a path.'));
      }
      // Koa copied the target into originalUrl when it made the context: replace it there too.
      ctx.req.url = originForm;
      ctx.originalUrl = originForm;
      ctx.request.originalUrl = originForm;
    }
    ctx.req.headers.host = host;
    delete ctx.req.headers['x-forwarded-host'];
    delete ctx.req.headers['x-forwarded-proto'];
    // An own property shadows Koa's getter (socket.encrypted / X-Forwarded-Proto) for this request;
    // ctx.secure, ctx.origin, ctx.href and the cookies' Secure flag all read it.
    Object.defineProperty(ctx.request, 'protocol', { value: scheme, enumerable: true });
    await next();
  };
}

/** `http://any.host:1/p?q` -> `/p?q`; null when the target is not an absolute http(s) URL. */
export function absoluteToOriginForm(target: string): string | null {
  if (!/^https?:\/\//i.test(target)) return null;
  try {
    const url = new URL(target);
    return `${url.pathname}${url.search}`;
  } catch {
    return null;
  }
}

/**
 * The client's IP for everything downstream (throttle keys, the requester IP the phone shows, the
 * audit log, oidc-provider's ctx.ip): decided once by ./client-ip.ts from the socket peer,
 * X-Forwarded-For and TRUST_PROXY. Koa's own reading (app.proxy) stays off: it would believe the
 * left-most entry, which the client writes.
 */
export function clientIp(trust: TrustProxy): Middleware {
  return async (ctx, next) => {
    const xff = ctx.req.headers['x-forwarded-for'];
    ctx.request.ip = clientAddress(ctx.req.socket.remoteAddress, Array.isArray(xff) ? xff.join(',') : xff, trust);
    await next();
  };
}
