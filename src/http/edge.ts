import type { Middleware } from 'koa';
import type { Logger } from '../log.js';
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
 * Pins the Host to the issuer's: oidc-provider builds absolute URLs from the request's Host, so a
 * forged Host header must not change what discovery advertises. X-Forwarded-Host is never trusted.
 */
export function pinHost(issuer: string): Middleware {
  const host = new URL(issuer).host;
  return async (ctx, next) => {
    ctx.req.headers.host = host;
    delete ctx.req.headers['x-forwarded-host'];
    await next();
  };
}
