import type Router from '@koa/router';
import * as oidc from 'openid-client';
import type { Context } from 'koa';

/**
 * Sign-in to this IdP as an ordinary relying app would: authorization code + PKCE through
 * openid-client, over HTTP, by discovery. Used by the demo app and the self-service page.
 */
export interface RpLoginOptions {
  issuer: string;
  clientId: string;
  basePath: string;
  scope: string;
  /** Extra authorization parameters for this sign-in (prompt, acr_values). */
  authParams?: (ctx: Context) => Record<string, string>;
  /** Before the code is spent: why this browser may not finish with it, or null. */
  checkCode?: (ctx: Context, code: string) => Promise<string | null>;
  /** What a browser refused by checkCode sees (400); onError if not given. */
  onCodeRefused?: (ctx: Context, message: string) => void;
  onSignedIn(ctx: Context, tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers, config: oidc.Configuration): Promise<void>;
  onError(ctx: Context, message: string): void;
}

export function rpLogin(router: Router, opts: RpLoginOptions): { discover: () => Promise<oidc.Configuration> } {
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

  router.get('/login', async (ctx) => {
    const c = await discover();
    const verifier = oidc.randomPKCECodeVerifier();
    const tx = { verifier, state: oidc.randomState(), nonce: oidc.randomNonce() };
    ctx.cookies.set(cookie, Buffer.from(JSON.stringify(tx)).toString('base64url'), { ...cookieOpts, maxAge: 30 * 60_000 });
    ctx.redirect(oidc.buildAuthorizationUrl(c, {
      redirect_uri: redirectUri, scope: opts.scope, state: tx.state, nonce: tx.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      ...opts.authParams?.(ctx),
    }).href);
  });

  router.get('/callback', async (ctx) => {
    const raw = ctx.cookies.get(cookie, { signed: true });
    if (!raw) {
      ctx.status = 400;
      return opts.onError(ctx, 'This sign-in was not started here (or took too long). Try again.');
    }
    ctx.cookies.set(cookie, null, cookieOpts);
    let tx: { verifier: string; state: string; nonce: string };
    try {
      tx = JSON.parse(Buffer.from(raw, 'base64url').toString()) as typeof tx;
    } catch {
      ctx.status = 400;
      return opts.onError(ctx, 'This sign-in was not started here. Try again.');
    }
    const code = typeof ctx.query.code === 'string' ? ctx.query.code : null;
    const refused = code && opts.checkCode ? await opts.checkCode(ctx, code) : null;
    if (refused) {
      ctx.status = 400;
      return (opts.onCodeRefused ?? opts.onError)(ctx, refused);
    }
    const c = await discover();
    let tokens;
    try {
      tokens = await oidc.authorizationCodeGrant(c, new URL(ctx.originalUrl, opts.issuer), {
        pkceCodeVerifier: tx.verifier, expectedState: tx.state, expectedNonce: tx.nonce,
      });
    } catch (err) {
      ctx.status = 400;
      const e = err as { error?: string; error_description?: string; message: string };
      return opts.onError(ctx, e.error_description ?? e.error ?? e.message);
    }
    await opts.onSignedIn(ctx, tokens, c);
  });

  return { discover };
}
