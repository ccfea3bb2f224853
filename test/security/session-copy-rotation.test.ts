import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { FormBrowser } from '../support/web-browser.js';
import { atCallback, authorize, isLoginPage, newUser, signIn, startSessionWorld, type SessionWorld } from './session-helpers.js';

/**
 * Red-team (sessions): oidc-provider gave a loaded session a new id when the user answered "No" on
 * the sign-out page for an app, and at every resume (a consent's too), ending the old id's row. A
 * copy of the cookie did that first, so only the copy held the live id: the owner's sign-out at the
 * app found no session, ended nothing, and the copy stayed signed in (codes by single sign-on,
 * /account). Now the id changes only when a sign-in is applied; every cookie names the one row.
 */
describe('a copied SSO cookie cannot keep the session alive past the owner\'s sign-out', () => {
  let w: SessionWorld;
  beforeAll(async () => { w = await startSessionWorld(); }, 60_000);
  afterAll(() => w.close());

  const sessionIds = async (accountId: string) => (await w.t.idp.db.query<{ id: string }>(
    `SELECT id FROM oidc_payloads WHERE model = 'Session' AND payload->>'accountId' = $1 AND consumed_at IS NULL`, [accountId])).map((r) => r.id);

  it('the copy answers "No, stay signed in" for an app, then the owner signs out at the app: the copy is signed out too', async () => {
    const accountId = await newUser(w, 'copy-owner');
    const owner = new FormBrowser(w.t.url);
    const tokens = await signIn(w.open, owner, 'copy-owner');
    const before = await sessionIds(accountId);
    expect(before).toHaveLength(1);
    const thief = new FormBrowser(w.t.url);
    thief.adoptCookies(owner, '');

    const page = await thief.go('/session/end?client_id=strict-rp');
    expect(page.body).toContain('op.logoutForm');
    expect((await thief.submit(page.body, /\/session\/end\/confirm$/, {})).res.status).toBe(200);
    expect(await sessionIds(accountId)).toEqual(before); // the same session, under the same id

    const endUrl = oidc.buildEndSessionUrl(w.open, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'http://127.0.0.1:1/bye', state: 'st' });
    const logout = await owner.go(endUrl.href);
    const posted = await owner.submit(logout.body, /\/session\/end\/confirm$/, { logout: 'yes' });
    expect(posted.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/bye\?state=st/);
    expect(await sessionIds(accountId)).toEqual([]);
    expect(isLoginPage((await authorize(w.open, thief, { prompt: 'login' })).page)).toBe(true);
    expect(new URL((await authorize(w.open, thief, { prompt: 'none' })).page.url).searchParams.get('error')).toBe('login_required');
    expect((await thief.go('/account')).url).not.toBe(`${w.t.url}/account`);
  }, 60_000);

  it('a consent resume keeps the session\'s id; a new sign-in in the same browser gives a new one', async () => {
    const accountId = await newUser(w, 'copy-consent');
    const owner = new FormBrowser(w.t.url);
    await signIn(w.open, owner, 'copy-consent');
    const before = await sessionIds(accountId);
    const consent = await authorize(w.open, owner, { prompt: 'consent' });
    const done = consent.page.body.includes('/confirm') ? await owner.submit(consent.page.body, /\/confirm$/, {}) : consent.page;
    expect(atCallback(done.url)).toBe(true);
    expect(await sessionIds(accountId)).toEqual(before);

    const again = await authorize(w.open, owner, { prompt: 'login' });
    const signedIn = await owner.submit(again.page.body, /\/login$/, { username: 'copy-consent', password: 'session test password 1' });
    expect(atCallback(signedIn.url)).toBe(true);
    const after = await sessionIds(accountId);
    expect(after).toHaveLength(1);
    expect(after).not.toEqual(before);
  }, 60_000);
});
