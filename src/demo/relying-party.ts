import Router from '@koa/router';
import * as oidc from 'openid-client';
import type { Context } from 'koa';
import type { Views } from '../http/views.js';

/**
 * A small relying app that signs in to this IdP with authorization code + PKCE through
 * openid-client, exactly as an outside app would (over HTTP, by discovery). The quickstart's demo.
 */
export function demoRelyingParty(opts: { issuer: string; clientId: string; basePath: string; views: Views; appName: string }): Router {
  const router = new Router({ prefix: opts.basePath });
  const redirectUri = `${opts.issuer}${opts.basePath}/callback`;
  let config: Promise<oidc.Configuration> | null = null;
  const discover = () => {
    config ??= oidc.discovery(new URL(opts.issuer), opts.clientId, undefined, oidc.None(), {
      execute: opts.issuer.startsWith('http:') ? [oidc.allowInsecureRequests] : [],
    }).catch((err) => { config = null; throw err; });
    return config;
  };
  const cookie = `${opts.clientId}_tx`;
  const cookieOpts = { httpOnly: true, sameSite: 'lax' as const, signed: true, path: opts.basePath, secure: opts.issuer.startsWith('https:'), overwrite: true };
  const render = (ctx: Context, data: Record<string, unknown>) => {
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = opts.views.render('demo', { title: opts.appName, appName: opts.appName, basePath: opts.basePath, ...data });
  };

  router.get('/', (ctx) => render(ctx, { claims: null }));

  router.get('/login', async (ctx) => {
    const c = await discover();
    const verifier = oidc.randomPKCECodeVerifier();
    const tx = { verifier, state: oidc.randomState(), nonce: oidc.randomNonce() };
    ctx.cookies.set(cookie, Buffer.from(JSON.stringify(tx)).toString('base64url'), { ...cookieOpts, maxAge: 30 * 60_000 });
    const url = oidc.buildAuthorizationUrl(c, {
      redirect_uri: redirectUri,
      scope: 'openid profile email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: tx.state,
      nonce: tx.nonce,
    });
    ctx.redirect(url.href);
  });

  router.get('/callback', async (ctx) => {
    const raw = ctx.cookies.get(cookie, { signed: true });
    if (!raw) {
      ctx.status = 400;
      return render(ctx, { error: 'This sign-in was not started here (or took too long). Try again.' });
    }
    const tx = JSON.parse(Buffer.from(raw, 'base64url').toString()) as { verifier: string; state: string; nonce: string };
    ctx.cookies.set(cookie, null, cookieOpts);
    const c = await discover();
    try {
      const tokens = await oidc.authorizationCodeGrant(c, new URL(ctx.originalUrl, opts.issuer), {
        pkceCodeVerifier: tx.verifier, expectedState: tx.state, expectedNonce: tx.nonce,
      });
      const claims = tokens.claims()!;
      const userinfo = await oidc.fetchUserInfo(c, tokens.access_token, claims.sub);
      const logout = oidc.buildEndSessionUrl(c, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${opts.issuer}${opts.basePath}` });
      return render(ctx, { claims, userinfo, logoutUrl: logout.href });
    } catch (err) {
      ctx.status = 400;
      const e = err as { error?: string; error_description?: string; message: string };
      return render(ctx, { error: e.error_description ?? e.error ?? e.message });
    }
  });

  return router;
}
