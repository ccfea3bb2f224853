import type { Middleware } from 'koa';

/**
 * OIDC Core 3.1.2.1: the authorization endpoint takes GET and POST, and Entra ID POSTs its External
 * MFA request (docs/entra.md). oidc-provider serves POST only with its session cookie made
 * SameSite=None for every app; instead a form POST to /auth is handed to it as the GET with the
 * same parameters, inside this process (no redirect: the hint never lands in a URL the browser
 * keeps). The session cookie stays SameSite=Lax: a cross-site POST carries none, so such a request
 * always signs in afresh, which is what an MFA-only app needs anyway.
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

/**
 * RP-Initiated Logout 1.0 section 2: /session/end takes GET and POST. A POST is sent on as the GET
 * with the same parameters (303), not served in place: a cross-site POST carries no SameSite=Lax
 * session cookie, and oidc-provider, finding none, made a new session and set its cookie over the
 * user's (red-team: any page signed the user out of the IdP with no click, past the confirmation).
 * The GET is a top-level navigation that carries the session, and its page asks the user to confirm.
 */
export function logoutByPost(path = '/session/end'): Middleware {
  return async (ctx, next) => {
    if (ctx.method === 'POST' && ctx.path === path && ctx.is('application/x-www-form-urlencoded') && typeof ctx.request.body === 'string') {
      if (ctx.querystring) {
        throw Object.assign(new Error('Send the logout request\'s parameters in the query or in the form, not both.'), { status: 400, expose: true, code: 'invalid_request' });
      }
      ctx.status = 303;
      ctx.set('Cache-Control', 'no-store');
      ctx.redirect(`${path}?${ctx.request.body}`);
      return;
    }
    await next();
  };
}
