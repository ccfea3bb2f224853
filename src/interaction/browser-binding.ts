import type { Context } from 'koa';

/*
 * The browser a sign-in was started in. oidc-provider's interaction and resume cookies are bound to
 * their paths (/interaction/<uid>, /auth/<uid>), so they cannot be __Host- cookies, and a sibling
 * host (wiki.corp.example next to idp.corp.example) can plant them with Domain=corp.example:
 * red-team, (1) an interaction the planter started, in the user's browser: the user signed in on it
 * and the planter resumed it in their own browser, with a code and an SSO session for the user;
 * (2) the planter's finished interaction resumed in the user's browser, signing the user in as the
 * planter. The /auth response that starts an interaction also lists its uid in a __Host- cookie
 * (Path=/, no Domain: no other host can set it), and the interaction pages and the resume go on only
 * in a browser whose list holds the uid. Under an http issuer (development) the cookie has no prefix.
 */

/** The uids of the last sign-ins started in this browser, newest last. */
const KEEP = 8;
const UID = /^[A-Za-z0-9_-]{1,64}$/;

export const bindingCookieName = (issuer: string) => (issuer.startsWith('https:') ? '__Host-signins' : 'signins');

/** Pure: the cookie's list with `uid` added (newest last, at most KEEP, anything odd dropped). */
export function withUid(list: string | undefined, uid: string): string {
  const kept = (list ?? '').split('.').filter((u) => UID.test(u) && u !== uid);
  return [...kept, uid].slice(-KEEP).join('.');
}

/** Pure: whether the cookie's list names `uid`. */
export function listsUid(list: string | undefined, uid: string): boolean {
  return UID.test(uid) && (list ?? '').split('.').includes(uid);
}

export function browserBinding(issuer: string) {
  const name = bindingCookieName(issuer);
  const secure = issuer.startsWith('https:');
  return {
    /** Called as oidc-provider starts an interaction (its interactions.url), on the response that sets its cookies. */
    bind(ctx: Pick<Context, 'cookies'>, uid: string): void {
      ctx.cookies.set(name, withUid(ctx.cookies.get(name), uid), { path: '/', httpOnly: true, sameSite: 'lax', secure, overwrite: true, maxAge: 24 * 3_600_000 });
    },
    /** Whether this browser started the sign-in `uid`. */
    startedHere(ctx: Pick<Context, 'cookies'>, uid: string): boolean {
      return listsUid(ctx.cookies.get(name), uid);
    },
  };
}
