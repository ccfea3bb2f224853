import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { FormBrowser } from '../support/web-browser.js';
import { CB, PASSWORD, atCallback, authorize, isLoginPage, newUser, startSessionWorld, type SessionWorld } from './session-helpers.js';

/**
 * An ended SSO session is a marked row (src/oidc/adapters.ts), and oidc-provider gives a session a
 * new id, keeping its uid, each time the same browser signs in again. Red-team (sessions round,
 * 2026-12-05), against the first version of the mark: a look-up by uid found the ended row of the
 * old id and answered "no session", so a sign-in again in the same browser killed every token
 * bound to the session, looped /account, lost the next login page, and made /account's "Sign out"
 * skip the session it should end. Also: a busy copy of the cookie (or a second tab's silent renew)
 * saved the session back without the /session/end form's secret, so the owner's "yes, sign me
 * out" was refused; and `user sign-out` counted sessions already signed out.
 */
describe('the same browser signing in again, and signing out, with the session ended by a mark', () => {
  let w: SessionWorld;
  beforeAll(async () => { w = await startSessionWorld(); }, 60_000);
  afterAll(() => w.close());

  const authUrl = async (extra: Record<string, string> = {}) => oidc.buildAuthorizationUrl(w.open, {
    redirect_uri: CB, scope: 'openid', state: 's', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256', ...extra,
  }).href;

  async function signIn(browser: FormBrowser, username: string, extra: Record<string, string> = {}) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(w.open, { redirect_uri: CB, scope: 'openid', state, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...extra });
    const page = await browser.go(url.href);
    expect(isLoginPage(page)).toBe(true);
    const at = (await browser.submit(page.body, /\/login$/, { username, password: PASSWORD })).url;
    expect(atCallback(at)).toBe(true);
    return oidc.authorizationCodeGrant(w.open, new URL(at), { pkceCodeVerifier: verifier, expectedState: state });
  }
  const me = async (token: string) => (await fetch(`${w.t.url}/me`, { headers: { authorization: `Bearer ${token}` } })).status;
  const refreshed = (token: string) => oidc.refreshTokenGrant(w.open, token).then(() => 'ok', (e: { error?: string }) => e.error ?? 'failed');

  it('after a sign-in again (prompt=login), both sign-ins\' tokens work, SSO works, and a third sign-in shows its page', async () => {
    await newUser(w, 'rot-a');
    const browser = new FormBrowser(w.t.url);
    const first = await signIn(browser, 'rot-a');
    const second = await signIn(browser, 'rot-a', { prompt: 'login' });
    expect(atCallback((await authorize(w.open, browser, { prompt: 'none', scope: 'openid' })).page.url)).toBe(true);
    expect([await me(first.access_token), await me(second.access_token)]).toEqual([200, 200]);
    expect([await refreshed(first.refresh_token!), await refreshed(second.refresh_token!)]).toEqual(['ok', 'ok']);
    await signIn(browser, 'rot-a', { prompt: 'login' });
  }, 60_000);

  it('/account opens after its own "sign in again", and its "Sign out" then ends the SSO session', async () => {
    await newUser(w, 'rot-b');
    const browser = new FormBrowser(w.t.url);
    const login = await browser.go('/account');
    expect((await browser.submit(login.body, /\/login$/, { username: 'rot-b', password: PASSWORD })).url).toBe(`${w.t.url}/account`);
    const again = await browser.go('/account/login?reauth=1');
    await browser.submit(again.body, /\/login$/, { username: 'rot-b', password: PASSWORD });
    const page = await browser.go('/account');
    expect(page.url).toBe(`${w.t.url}/account`);
    expect(page.body).toContain('rot-b');
    // Another tab signs in again to an app; then "Sign out" on the /account page.
    const app = await browser.go(await authUrl({ prompt: 'login' }));
    expect(atCallback((await browser.submit(app.body, /\/login$/, { username: 'rot-b', password: PASSWORD })).url)).toBe(true);
    const csrf = page.body.match(/name="csrf" value="([^"]+)"/)![1]!;
    const out = await browser.request('/account/logout', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${encodeURIComponent(csrf)}` });
    expect(out.status).toBe(303);
    const sso = new URL((await browser.request(await authUrl({ prompt: 'none' }))).headers.get('location')!);
    expect(sso.searchParams.get('error')).toBe('login_required');
  }, 60_000);

  it('the owner signs out at /session/end while a copy of the cookie keeps busy', async () => {
    await newUser(w, 'rot-c');
    const owner = new FormBrowser(w.t.url);
    await signIn(owner, 'rot-c');
    const copy = new FormBrowser(w.t.url);
    copy.adoptCookies(owner, '');
    const cookie = copy.cookieHeader();
    const silent = await authUrl({ prompt: 'none' });
    let stop = false;
    const worker = async () => { while (!stop) await fetch(silent, { headers: { cookie }, redirect: 'manual' }).then((r) => r.arrayBuffer()).catch(() => undefined); };
    const workers = Array.from({ length: 25 }, worker);
    await new Promise((r) => setTimeout(r, 300));
    const page = await owner.go('/session/end');
    await new Promise((r) => setTimeout(r, 200)); // the copy's requests save the session meanwhile
    const done = await owner.submit(page.body, /\/session\/end\/confirm$/, { logout: 'yes' });
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(workers);
    expect(done.res.status).toBe(200);
    for (const c of [owner.cookieHeader(), cookie]) {
      const after = await fetch(silent, { headers: { cookie: c }, redirect: 'manual' });
      expect(new URL(after.headers.get('location')!).searchParams.get('error')).toBe('login_required');
    }
  }, 60_000);

  it('`user sign-out` counts only sessions not already signed out', async () => {
    const id = await newUser(w, 'rot-d');
    const browser = new FormBrowser(w.t.url);
    const login = await browser.go('/account');
    const inside = await browser.submit(login.body, /\/login$/, { username: 'rot-d', password: PASSWORD });
    const csrf = inside.body.match(/name="csrf" value="([^"]+)"/)![1]!;
    expect((await browser.request('/account/logout', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${encodeURIComponent(csrf)}` })).status).toBe(303);
    expect((await w.t.idp.endAccountSessions(id)).sessions).toBe(0);
  }, 60_000);
});
