import type { Middleware } from 'koa';
import type { Logger } from '../log.js';
import { clientAddress, type TrustProxy } from './client-ip.js';
import type { Views } from './views.js';

/** A page for browsers (they ask for text/html), JSON for everyone else and for every /api/ path. */
const wantsJson = (ctx: { path: string; get(h: string): string }) => ctx.path.startsWith('/api/') || !ctx.get('accept').includes('text/html');

/**
 * The edge of the app: turns every error into a clear response (JSON for APIs, a page for
 * browsers), keeps 5xx for real faults only, and never lets one request take the process down.
 */
export function errorHandler(views: Views, logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      // Nothing answered (an unknown path or method that fell through to oidc-provider's bare 404).
      if (ctx.status === 404 && (ctx.body == null || ctx.body === 'Not Found')) {
        throw Object.assign(new Error(`Nothing here: ${ctx.method} ${ctx.path}.`), { status: 404, expose: true, code: 'not_found' });
      }
    } catch (err) {
      const e = err as { status?: number; statusCode?: number; expose?: boolean; code?: string; message?: string; headers?: Record<string, string> };
      const status = e.status ?? e.statusCode ?? 500;
      const clientError = status >= 400 && status < 500;
      if (!clientError) logger.error({ err, path: ctx.path, method: ctx.method }, 'request failed');
      const code = clientError ? (typeof e.code === 'string' && /^[a-z_]+$/.test(e.code) ? e.code : 'invalid_request') : 'server_error';
      const message = clientError && e.expose !== false ? (e.message ?? 'Bad request.') : 'Something went wrong on our side. Try again in a moment.';
      ctx.status = clientError ? status : 500;
      for (const [k, v] of Object.entries(e.headers ?? {})) ctx.set(k, v);
      ctx.set('Cache-Control', 'no-store');
      if (wantsJson(ctx)) {
        ctx.body = { error: code, error_description: message };
      } else {
        ctx.type = 'html';
        ctx.body = views.render('error', { title: clientError ? 'This did not work' : 'Something went wrong', error: code, description: message });
      }
    }
  };
}

/**
 * Security headers on every response, set before the handler runs: a handler may replace them (the
 * PWA sets its own CSP), and oidc-provider adds the hash of its form_post script to this CSP, which
 * it can only do when the header is already there.
 */
export function securityHeaders(opts: { hsts: boolean }): Middleware {
  return async (ctx, next) => {
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    if (opts.hsts) ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    ctx.set('Content-Security-Policy', "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'");
    ctx.set('X-Frame-Options', 'DENY');
    await next();
  };
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
        throw Object.assign(new Error('The request target must be a path.'), { status: 400, expose: true, code: 'invalid_request' });
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
