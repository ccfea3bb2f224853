import type { Middleware } from 'koa';

/**
 * OIDC Core 3.1.2.1: the authorization endpoint takes GET and POST, and Entra ID POSTs its External
 * MFA request (docs/entra.md). oidc-provider serves POST only with its session cookie made
 * SameSite=None for every app; instead a form POST to /auth is handed to it as the GET with the
 * same parameters, inside this process (no redirect: the hint never lands in a URL the browser
 * keeps). The session cookie stays SameSite=Lax: a cross-site POST carries none, so such a request
 * always signs in afresh, which is what an MFA-only app needs anyway. The same serves
 * RP-Initiated Logout 1.0 section 2 at /session/end (GET and POST): the logout page it shows asks
 * the user to confirm by a same-site form, which carries the session.
 *
 * Runs after hostileInput (src/http/hostile.ts), which has read and checked the form (size,
 * UTF-8, NUL, repeated names) and left its text in ctx.request.body.
 */
export function authorizeByPost(path = '/auth'): Middleware {
  return async (ctx, next) => {
    if (ctx.method === 'POST' && ctx.path === path && ctx.is('application/x-www-form-urlencoded') && typeof ctx.request.body === 'string') {
      if (ctx.querystring) {
        throw Object.assign(new Error('Send the authorization request\'s parameters in the query or in the form, not both.'), { status: 400, expose: true, code: 'invalid_request' });
      }
      ctx.method = 'GET';
      ctx.querystring = ctx.request.body;
      ctx.request.body = undefined;
    }
    await next();
  };
}
