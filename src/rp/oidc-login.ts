import { timingSafeEqual } from 'node:crypto';
import type Router from '@koa/router';
import * as oidc from 'openid-client';
import type { Context } from 'koa';
import { t } from '../i18n/index.js';
import { noHead } from '../http/errors.js';

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
  /**
   * What a browser sees (400) for a callback this sign-in does not finish with: one that is not
   * this sign-in's answer (no sign-in started here, no or another `state`), or a code checkCode
   * refused. The sign-in stays as it was. onError if not given.
   */
  onRefused?: (ctx: Context, message: string) => void;
  /**
   * `began`: when this callback request began (before the code's exchange), on `now`. The exchange
   * checked the sign-in against an end of the account's sessions up to then; a page that keeps
   * something from the sign-in checks the end from `began` on itself (an end landing after the exchange).
   */
  onSignedIn(ctx: Context, tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers, config: oidc.Configuration, began: number): Promise<void>;
  /** The clock `began` is read on (the app's; tests move it). Date.now if not given. */
  now?: () => number;
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

  // The sign-ins under way in this browser, the newest last (red-team: one per browser, so of /account
  // opened in two tabs the first one's sign-in, password and phone done, ended on "not the answer").
  const keep = (ctx: Context, txs: Tx[]) => ctx.cookies.set(cookie, txs.length ? Buffer.from(JSON.stringify(txs)).toString('base64url') : null, { ...cookieOpts, maxAge: 30 * 60_000 });

  router.get('/login', async (ctx) => {
    const c = await discover();
    const verifier = oidc.randomPKCECodeVerifier();
    const tx = { verifier, state: oidc.randomState(), nonce: oidc.randomNonce() };
    keep(ctx, [...readTxs(ctx.cookies.get(cookie, { signed: true })).slice(-(MAX_TXS - 1)), tx]);
    ctx.redirect(oidc.buildAuthorizationUrl(c, {
      redirect_uri: redirectUri, scope: opts.scope, state: tx.state, nonce: tx.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      ...opts.authParams?.(ctx),
    }).href);
  });

  // A HEAD (a link scanner's, a prefetch) would exchange the code and finish the sign-in unseen (review).
  router.get('/callback', noHead('GET'), async (ctx) => {
    const began = (opts.now ?? Date.now)();
    const refuse = (message: string) => { ctx.status = 400; return (opts.onRefused ?? opts.onError)(ctx, message); };
    const txs = readTxs(ctx.cookies.get(cookie, { signed: true }));
    if (!txs.length) return refuse(t('error.rpNotStarted'));
    // Only a sign-in's own answer (its state) ends it. A callback another site sent the browser
    // to leaves them as they were (red-team: any page cancelled a user's SAML sign-in, and the SP got a
    // signed AuthnFailed for it, by a GET of the callback without code or state).
    const tx = txs.find((t) => sameState(ctx.query.state, t.state));
    if (!tx) return refuse(t('error.rpNotThisAnswer'));
    keep(ctx, txs.filter((t) => t !== tx));
    const code = typeof ctx.query.code === 'string' ? ctx.query.code : null;
    const refused = code && opts.checkCode ? await opts.checkCode(ctx, code) : null;
    if (refused) return refuse(refused);
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
    await opts.onSignedIn(ctx, tokens, c, began);
  });

  return { discover };
}

interface Tx { verifier: string; state: string; nonce: string }

/** Sign-ins kept per browser (tabs): the oldest is dropped past this. */
const MAX_TXS = 5;

const isTx = (t: unknown): t is Tx => {
  const tx = t as Partial<Tx> | null;
  return !!tx && typeof tx.verifier === 'string' && typeof tx.state === 'string' && typeof tx.nonce === 'string';
};

/** The cookie's sign-ins: a list, or the one sign-in an earlier version kept. */
function readTxs(raw: string | undefined): Tx[] {
  if (!raw) return [];
  try {
    const kept = JSON.parse(Buffer.from(raw, 'base64url').toString()) as unknown;
    return (Array.isArray(kept) ? kept : [kept]).filter(isTx).slice(-MAX_TXS);
  } catch {
    return [];
  }
}

/** The callback's one `state` is this sign-in's (a repeated parameter is not). */
function sameState(given: unknown, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
