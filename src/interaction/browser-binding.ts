import { createHash, randomBytes } from 'node:crypto';
import type { Context } from 'koa';

/*
 * The browser a sign-in was started in. oidc-provider's interaction and resume cookies are bound to
 * their paths (/interaction/<uid>, /auth/<uid>), so they cannot be __Host- cookies, and a sibling
 * host (wiki.corp.example next to idp.corp.example) can plant them with Domain=corp.example:
 * red-team, (1) an interaction the planter started, in the user's browser: the user signed in on it
 * and the planter resumed it in their own browser, with a code and an SSO session for the user;
 * (2) the planter's finished interaction resumed in the user's browser, signing the user in as the
 * planter. Each browser gets a random key in a __Host- cookie (Path=/, no Domain: no other host can
 * set it) when it starts its first sign-in; the interaction keeps the key's hash among its stored
 * parameters (written with the interaction: no round trip of its own; oidc-provider's resume picks
 * only the parameters it knows), and its pages, its long-poll and its resume go on only in the
 * browser holding that key. Under an http issuer (development) the cookie has no prefix.
 */

/** Where the interaction keeps the hash (not an OAuth parameter: the resume drops it). */
export const BINDING_PARAM = '__browser';
const KEY = /^[A-Za-z0-9_-]{43}$/;

export const bindingCookieName = (issuer: string) => (issuer.startsWith('https:') ? '__Host-browser' : 'browser');
/**
 * The key of sign-ins started by a cross-site POST (Entra ID's External MFA, any site's form): such a
 * request carries no SameSite=Lax cookie, so the browser's own key was unseen and a new one was set
 * over it, and every sign-in under way in that browser stopped (red-team: any site could end them,
 * the waiting page never finished). Those get a key of their own instead, under this name.
 */
export const crossSiteCookieName = (issuer: string) => `${bindingCookieName(issuer)}-x`;
/**
 * Each cross-site start's key has a cookie of its own, named after the key's hash (which its
 * interaction keeps): a cross-site POST carries none of the browser's Lax cookies, so one shared
 * name was set anew by every such start, and another site's auto-POST ended the Entra sign-in under
 * way in the same browser (red-team, broker round). It lives as long as a sign-in may.
 */
export const crossSiteKeyCookie = (issuer: string, hash: string) => `${crossSiteCookieName(issuer)}.${hash.slice(0, 12)}`;
const CROSS_SITE_KEY_MS = 3600_000;

/** Pure: what the interaction keeps of a browser's key. */
export const keyHash = (key: string): string => createHash('sha256').update(key).digest('base64url');

/** Pure: whether a browser holding `key` (its cookie's value) started the interaction with these parameters. */
export function startedBy(key: string | undefined, params: Record<string, unknown> | undefined): boolean {
  const kept = params?.[BINDING_PARAM];
  return typeof key === 'string' && KEY.test(key) && typeof kept === 'string' && keyHash(key) === kept;
}

/** Pure: a cookie's value from a raw Cookie header (the first one of that name, as Koa's cookies reads it). */
export function cookieFromHeader(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Pure: whether a request is a cross-site one (Fetch Metadata), which carries no SameSite=Lax cookie when it is a POST. */
export const crossSite = (secFetchSite: string | undefined): boolean => secFetchSite === 'cross-site';

export function browserBinding(issuer: string) {
  const name = bindingCookieName(issuer);
  const crossName = crossSiteCookieName(issuer);
  const secure = issuer.startsWith('https:');
  /** The cookie a cross-site start of this interaction set its key in (named after the hash the interaction keeps). */
  const crossCookieOf = (params: Record<string, unknown> | undefined): string | null => {
    const kept = params?.[BINDING_PARAM];
    return typeof kept === 'string' && kept.length >= 12 ? crossSiteKeyCookie(issuer, kept) : null;
  };
  return {
    name,
    /**
     * As oidc-provider starts an interaction, before it is saved (its ttl.Interaction hook): this
     * browser's key (made and set now if it has none) goes into the interaction, by its hash. A
     * cross-site request without the key gets the cross-site key instead (crossSiteCookieName).
     */
    bind(ctx: Pick<Context, 'cookies' | 'get'>, interaction: { params: Record<string, unknown> }): void {
      let key = ctx.cookies.get(name);
      if (!key || !KEY.test(key)) {
        key = randomBytes(32).toString('base64url');
        if (crossSite(ctx.get('sec-fetch-site'))) {
          ctx.cookies.set(crossSiteKeyCookie(issuer, keyHash(key)), key, { path: '/', httpOnly: true, sameSite: 'lax', secure, overwrite: true, maxAge: CROSS_SITE_KEY_MS });
        } else {
          ctx.cookies.set(name, key, { path: '/', httpOnly: true, sameSite: 'lax', secure, overwrite: true, maxAge: 365 * 86_400_000 });
        }
      }
      interaction.params[BINDING_PARAM] = keyHash(key);
    },
    /** Whether this browser started the interaction with these parameters. */
    startedHere(ctx: Pick<Context, 'cookies'>, params: Record<string, unknown> | undefined): boolean {
      const own = crossCookieOf(params);
      return startedBy(ctx.cookies.get(name), params) || (own !== null && startedBy(ctx.cookies.get(own), params)) || startedBy(ctx.cookies.get(crossName), params);
    },
    /** The same for a raw request (the long-poll held before Koa). */
    startedHereRaw(cookieHeader: string | undefined, params: Record<string, unknown> | undefined): boolean {
      const own = crossCookieOf(params);
      return startedBy(cookieFromHeader(cookieHeader, name), params) || (own !== null && startedBy(cookieFromHeader(cookieHeader, own), params))
        || startedBy(cookieFromHeader(cookieHeader, crossName), params);
    },
  };
}
