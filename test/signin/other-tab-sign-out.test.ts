import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { hashPassword } from '../../src/accounts/passwords.js';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';
import { addUser, auditEvents, CALLBACK, enroll, sendPush, startWorld, type Phone } from './helpers.js';

/**
 * Red-team (browser journeys): one tab signed out (`/session/end`) while another tab of the same
 * browser was signing in again (`prompt=login`) over that session. The other tab's sign-in was
 * bound to the session just ended: its every page said "This sign-in has ended", the app never got
 * an answer, and the phone's approval was answered "approved" for nothing. A sign-in again is a
 * whole sign-in (password and second factor): it now finishes into a new session. A consent page
 * of a session that was signed out meanwhile sends the app `login_required` (it may start again)
 * rather than leave it without an answer.
 */
async function authorizeAt(w: PushWorld, browser: FormBrowser, extra: Record<string, string> = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(w.rp, {
    redirect_uri: 'http://127.0.0.1:1/cb', scope: 'openid', state,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...extra,
  });
  const page = await browser.go(url.href);
  return { page, verifier, state, uid: page.url.match(/\/interaction\/([^/?]+)/)?.[1] };
}

/** "Sign out" at /session/end, and "Yes" on its page. */
async function signOutAt(browser: FormBrowser) {
  const page = await browser.go('/session/end');
  return browser.submit(page.body, /\/session\/end\/confirm$/, { logout: 'yes' });
}

describe('a sign-in in one tab while another tab signs out', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld(); });
  afterAll(() => w.close());

  const authorize = (browser: FormBrowser, extra: Record<string, string> = {}) => authorizeAt(w, browser, extra);
  const signOut = signOutAt;
  /** Tab A: signed in (password, then the passcode). */
  async function signedIn(browser: FormBrowser, phone: Phone['phone'], username = 'alice') {
    const a = await authorize(browser);
    await browser.submit(a.page.body, /\/login$/, { username, password: PushWorld.password });
    const typed = await browser.go(`/interaction/${a.uid}/passcode`);
    expect((await browser.submit(typed.body, /\/passcode$/, { passcode: phone.currentTotp() })).url).toMatch(CALLBACK);
  }

  it('the sign-in again finishes into a new session when its push is approved after the sign-out', async () => {
    const { phone, subscription } = await enroll(w);
    const browser = new FormBrowser(w.t.url);
    await signedIn(browser, phone); // tab A

    // Tab B: the app asks for a sign-in again; the password, then a push.
    const b = await authorize(browser, { prompt: 'login' });
    expect(b.page.body).toContain('name="password"');
    const choice = await browser.submit(b.page.body, /\/login$/, { username: 'alice', password: PushWorld.password });
    const wait = await sendPush(browser, choice.body);
    const cid = (await w.pushService.waitForMessage(subscription!.id)).payload.cid as string;

    // Tab A: "Sign out". The browser has no session now.
    await signOut(browser);
    const silent = await browser.request(oidc.buildAuthorizationUrl(w.rp, { redirect_uri: 'http://127.0.0.1:1/cb', scope: 'openid', prompt: 'none' }).href);
    expect(new URL(silent.headers.get('location')!).searchParams.get('error')).toBe('login_required');

    // The phone approves tab B's request; tab B's waiting page goes on to the app.
    expect(await phone.respond(cid, 'approve', { number: matchNumberOf(wait.body)! })).toMatchObject({ status: 200 });
    const done = await browser.go(`/interaction/${b.uid}/wait`);
    expect(done.url).toMatch(CALLBACK);
    const tokens = await w.tokens(done.url, b.verifier, b.state);
    expect(tokens.claims()).toMatchObject({ sub: w.accountId, amr: expect.arrayContaining(['pwd', 'mfa']) });
    // It made a session again: a silent sign-in now works.
    const sso = await browser.request(oidc.buildAuthorizationUrl(w.rp, { redirect_uri: 'http://127.0.0.1:1/cb', scope: 'openid', prompt: 'none' }).href);
    expect(sso.headers.get('location')).toMatch(/[?&]code=/);
  });

  it('a sign-in again whose password is typed after the sign-out also finishes, with its whole second factor', async () => {
    const { phone, subscription } = await enroll(w);
    const browser = new FormBrowser(w.t.url);
    await signedIn(browser, phone); // tab A

    const b = await authorize(browser, { prompt: 'login' });
    await signOut(browser);
    // The login page of tab B, submitted after the sign-out: the password alone does not finish it.
    const choice = await browser.submit(b.page.body, /\/login$/, { username: 'alice', password: PushWorld.password });
    expect(choice.url).toBe(`${w.t.url}/interaction/${b.uid}/second-factor`);
    const wait = await sendPush(browser, choice.body);
    expect(wait.url).not.toMatch(CALLBACK);
    const cid = (await w.pushService.waitForMessage(subscription!.id)).payload.cid as string;
    expect(await phone.respond(cid, 'approve', { number: matchNumberOf(wait.body)! })).toMatchObject({ status: 200 });
    const done = await browser.go(`/interaction/${b.uid}/wait`);
    expect(done.url).toMatch(CALLBACK);
    expect((await w.tokens(done.url, b.verifier, b.state)).claims()!.amr).toEqual(expect.arrayContaining(['pwd', 'mfa']));
  });

  it("the tab's pages loaded at once right after the sign-out all go on (none says the sign-in has ended)", async () => {
    for (let round = 0; round < 3; round += 1) {
      const username = `tabs-${round}-${Math.random().toString(36).slice(2, 8)}`;
      const { phone } = await enroll(w, { accountId: await addUser(w, username), push: false });
      const browser = new FormBrowser(w.t.url);
      await signedIn(browser, phone, username);
      const b = await authorize(browser, { prompt: 'login' });
      await browser.submit(b.page.body, /\/login$/, { username, password: PushWorld.password });
      await signOut(browser);
      const pages = await Promise.all(Array.from({ length: 8 }, () => browser.request(`/interaction/${b.uid}/passcode`)));
      expect([round, pages.map((p) => p.status)]).toEqual([round, Array(8).fill(200)]);
    }
  }, 30_000);

  it('another browser cannot take over the sign-in that lost its session', async () => {
    const { phone } = await enroll(w);
    const browser = new FormBrowser(w.t.url);
    await signedIn(browser, phone); // tab A
    const b = await authorize(browser, { prompt: 'login' });
    await signOut(browser);
    const other = new FormBrowser(w.t.url);
    const page = await other.request(`/interaction/${b.uid}`);
    expect(page.status).toBe(400);
    const stolen = await other.request(`/interaction/${b.uid}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `username=alice&password=${encodeURIComponent(PushWorld.password)}` });
    expect(stolen.status).toBeGreaterThanOrEqual(400);
    expect(stolen.status).toBeLessThan(500);
    // Its own browser still has it.
    expect((await browser.go(`/interaction/${b.uid}`)).body).toContain('name="password"');
  });
});

describe('a consent page in one tab while another tab signs out', () => {
  let c: PushWorld;
  beforeAll(async () => { c = await startWorld({ login: { consent: 'explicit' } }); });
  afterAll(() => c.close());

  it('a consent page whose session was signed out meanwhile sends the app login_required', async () => {
    const username = `consent-${Math.random().toString(36).slice(2, 8)}`;
    const account = await c.t.idp.accounts.create({ username, displayName: 'C', email: `${username}@example.com`, passwordHash: await hashPassword(PushWorld.password) });
    const browser = new FormBrowser(c.t.url);
    const { page, state } = await authorizeAt(c, browser, { claims: JSON.stringify({ id_token: { email: { essential: true } } }) });
    const consent = await browser.submit(page.body, /\/login$/, { username, password: PushWorld.password });
    if (!consent.body.includes("/confirm")) throw new Error(`no consent page: ${consent.url} ${consent.body.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").slice(0, 600)}`);
    await signOutAt(browser);
    // Reloaded, as often as you like, it leads on to the app; Allow grants nothing (red-team: the
    // second load showed the form for no one, and Allow was a 500).
    const uid = /\/interaction\/([^/]+)\/confirm/.exec(consent.body)![1]!;
    for (let i = 0; i < 2; i += 1) expect((await browser.request(`/interaction/${uid}`)).status).toBe(303);
    const csrf = /name="csrf" value="([^"]+)"/.exec(consent.body)![1]!;
    const allow = await browser.request(`/interaction/${uid}/confirm`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${encodeURIComponent(csrf)}` });
    expect(allow.status).toBe(303);
    const back = await browser.submit(consent.body, /\/confirm$/, {});
    const url = new URL(back.url);
    expect(`${url.origin}${url.pathname}`).toBe('http://127.0.0.1:1/cb');
    expect(url.searchParams.get('error')).toBe('login_required');
    expect(url.searchParams.get('state')).toBe(state);
    expect((await auditEvents(c, 'consent.granted')).filter((e) => e.account_id === account.id)).toHaveLength(0);
  });
});
