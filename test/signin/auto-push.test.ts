import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DEFAULT_PUSH_FATIGUE } from '../../src/defences/push-fatigue.js';
import * as oidc from 'openid-client';
import { matchNumberOf, PushWorld, RP_CALLBACK } from '../support/push-world.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { FormBrowser } from '../support/web-browser.js';
import { addUser, auditEvents, CALLBACK, enroll, startWorld, textOf, waitUntil } from './helpers.js';

/**
 * `login.autoPush`: the two-step form without its choice page. A right password sends the push at
 * once and shows the waiting page (number and all), which still offers the passcode, as Microsoft
 * Authenticator's default method and Duo's "automatically send a push" do. What must hold: the
 * push goes only after a right password, the push-fatigue limits hold as when "Send a push" is
 * pressed (an attacker with the password now rings the phone by posting it, in parallel too), and
 * the passcode on the waiting page still finishes the sign-in and voids the push.
 */
describe('two-step form with autoPush', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld({ login: { autoPush: true }, idp: { env: { MAX_DEVICES_PER_ACCOUNT: '20' } } }); });
  afterAll(() => w.close());

  /** The login page of a new sign-in, not yet posted. */
  async function loginPage(browser = new FormBrowser(w.t.url)) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(w.rp, {
      redirect_uri: RP_CALLBACK, scope: 'openid', state, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const login = await browser.go(url.href);
    expect(login.body).toContain('name="password"');
    return { browser, page: login.body, uid: login.url.match(/\/interaction\/([^/?]+)/)![1]!, verifier, state };
  }

  it('a right password goes straight to the waiting page with the number, the phone gets the push, and its approval signs in', async () => {
    const { phone, subscription } = await enroll(w);
    const { browser, next, uid, verifier, state } = await w.startSignIn();
    expect(next.res.status).toBe(200);
    expect(next.url).toMatch(new RegExp(`/interaction/${uid}/wait$`));
    expect(next.body).not.toContain('id="send-push"');
    expect(next.body).toContain('id="use-passcode"');
    const number = matchNumberOf(next.body)!;
    expect(number).not.toBeNull();
    const message = await w.pushService.waitForMessage(subscription!.id);
    expect(message.payload.numberMatching).toBe(true);
    expect((await phone.respond(message.payload.cid, 'approve', { number })).body).toEqual({ status: 'approved' });
    const done = await browser.go(`/interaction/${uid}/wait`);
    expect(done.url).toMatch(CALLBACK);
    const claims = (await w.tokens(done.url, verifier, state)).claims()!;
    expect(claims.amr).toEqual(['pwd', 'otp', 'swk', 'mfa']);
    expect(claims.acr).toBe('urn:pushotp:acr:mfa');
  });

  it.each([
    ['a wrong password', 'not the password', 401],
    ['a password of odd bytes', 'guess\u0000\u202E\uFFFF', 400],
  ])('%s rings nothing: the login page again, no push, no challenge on the phone', async (_what, password, status) => {
    const { phone, subscription } = await enroll(w);
    const before = w.pushService.messages.length;
    const { next } = await w.startSignIn({ password });
    expect(next.res.status).toBe(status);
    expect(next.body).toContain(status === 401 ? 'name="password"' : 'invalid_request');
    await expect(w.pushService.waitForMessage(subscription!.id, 300)).rejects.toThrow(/no push/);
    expect(w.pushService.messages.length).toBe(before);
    expect(await phone.pending()).toEqual([]);
  });

  it('the passcode on the waiting page signs in with amr pwd otp mfa, and the push it replaces can no longer be approved', async () => {
    const { phone, subscription } = await enroll(w);
    const { browser, next, uid, verifier, state } = await w.startSignIn();
    const cid = (await w.pushService.waitForMessage(subscription!.id)).payload.cid;
    const passcodePage = await browser.go(`/interaction/${uid}/passcode`);
    const done = await browser.submit(passcodePage.body, /\/passcode$/, { passcode: phone.currentTotp() });
    expect(done.url).toMatch(CALLBACK);
    expect((await w.tokens(done.url, verifier, state)).claims()!.amr).toEqual(['pwd', 'otp', 'mfa']);
    const late = await phone.respond(cid, 'approve', { number: matchNumberOf(next.body)! });
    expect(late.status).toBeGreaterThanOrEqual(400);
    expect((late.body as { status?: string }).status).not.toBe('approved');
  });

  it('the password posted twice at once on one page sends one push, and the page still finishes on its approval', async () => {
    const { phone, subscription } = await enroll(w);
    const { browser, page, uid, verifier, state } = await loginPage();
    const fields = { username: 'alice', password: PushWorld.password };
    const landed = await Promise.all([browser.submit(page, /\/login$/, fields), browser.submit(page, /\/login$/, fields)]);
    for (const l of landed) expect(l.url).toMatch(new RegExp(`/interaction/${uid}/wait`));
    const message = await w.pushService.waitForMessage(subscription!.id);
    await new Promise((r) => setTimeout(r, 300)); // a second push would be on its way by now
    expect(w.pushService.messages.filter((m) => m.subscriptionId === subscription!.id)).toHaveLength(1);
    const number = landed.map((l) => matchNumberOf(l.body)).find((n) => n !== null)!;
    expect((await phone.respond(message.payload.cid, 'approve', { number })).body).toEqual({ status: 'approved' });
    const done = await browser.go(`/interaction/${uid}/wait`);
    expect(done.url).toMatch(CALLBACK);
    expect((await w.tokens(done.url, verifier, state)).claims()!.amr).toEqual(['pwd', 'otp', 'swk', 'mfa']);
  });

  it('12 sign-ins post the password, three at a time: PUSH_LIMIT pushes, the rest land on the waiting page told why, with the passcode field and the recovery link', async () => {
    const bobId = await addUser(w, 'bob');
    const { subscription } = await enroll(w, { accountId: bobId });
    const pages = [];
    for (let i = 0; i < 12; i++) pages.push(await loginPage());
    // Three at once: more would meet the password throttle's three free attempts, each reserved before its check.
    const landed = [];
    for (let i = 0; i < pages.length; i += 3) {
      landed.push(...await Promise.all(pages.slice(i, i + 3).map((p) => p.browser.submit(p.page, /\/login$/, { username: 'bob', password: PushWorld.password }))));
    }
    for (const l of landed) expect(l.url).toMatch(/\/wait(\?notice=limit&until=\d+)?$/);
    const notices = landed.map((l) => new URL(l.url).searchParams.get('notice'));
    const sent = notices.filter((n) => n === null).length;
    expect(sent).toBe(DEFAULT_PUSH_FATIGUE.limit);
    expect(notices.filter((n) => n === 'limit')).toHaveLength(12 - DEFAULT_PUSH_FATIGUE.limit);
    for (const l of landed.filter((_, i) => notices[i] === 'limit')) {
      expect(l.res.status).toBe(200);
      expect(textOf(l.body, 'notice')).toBeTruthy();
      expect(l.body).toContain('id="paused-passcode"');
      expect(l.body).toContain('id="use-recovery"');
    }
    await waitUntil(async () => (await auditEvents(w, 'push.sent')).filter((r) => r.account_id === bobId).length >= sent, 10_000, 'the pushes to go out');
    await new Promise((r) => setTimeout(r, 300));
    expect(w.pushService.messages.filter((m) => m.subscriptionId === subscription!.id)).toHaveLength(DEFAULT_PUSH_FATIGUE.limit);
  });

  it('12 password posts at the same instant: never more than PUSH_LIMIT pushes; each post lands on the waiting page or is throttled, none fails', async () => {
    const carlId = await addUser(w, 'carl');
    const { subscription } = await enroll(w, { accountId: carlId });
    const pages = [];
    for (let i = 0; i < 12; i++) pages.push(await loginPage());
    const landed = await Promise.all(pages.map((p) => p.browser.submit(p.page, /\/login$/, { username: 'carl', password: PushWorld.password })));
    for (const l of landed) expect([200, 429]).toContain(l.res.status);
    const sent = landed.filter((l) => /\/wait$/.test(l.url)).length;
    expect(sent).toBeGreaterThanOrEqual(1);
    expect(sent).toBeLessThanOrEqual(DEFAULT_PUSH_FATIGUE.limit);
    await waitUntil(async () => (await auditEvents(w, 'push.sent')).filter((r) => r.account_id === carlId).length >= sent, 10_000, 'the pushes to go out');
    await new Promise((r) => setTimeout(r, 300));
    expect(w.pushService.messages.filter((m) => m.subscriptionId === subscription!.id)).toHaveLength(sent);
  });

  it('a user whose phone is lost finds "I lost my phone" on the waiting page, and a recovery code signs in and voids the push', async () => {
    const erinId = await addUser(w, 'erin');
    const offer = await w.t.idp.deviceService.issueEnrollment(erinId, 'test');
    const subscription = w.pushService.createSubscription();
    const lost = await SimulatedAuthenticator.enroll(w.t.url, offer.code, { push: { endpoint: subscription.endpoint, keys: subscription.keys }, confirm: true });
    const { browser, next, uid, verifier, state } = await w.startSignIn({ username: 'erin' });
    expect(next.url).toMatch(new RegExp(`/interaction/${uid}/wait$`));
    const cid = (await w.pushService.waitForMessage(subscription.id)).payload.cid;
    const link = /<a href="([^"]+)" id="use-recovery">/.exec(next.body)?.[1];
    expect(link).toBe(`/interaction/${uid}/recovery`);
    const recovery = await browser.go(link!);
    expect(recovery.res.status).toBe(200);
    const done = await browser.submit(recovery.body, /\/recovery$/, { code: offer.recoveryCodes![0]! });
    expect(done.url).toMatch(CALLBACK);
    const claims = (await w.tokens(done.url, verifier, state)).claims()!;
    expect(claims.amr).toContain('pwd');
    expect(claims.amr).not.toContain('swk');
    // Whoever holds the lost phone can no longer approve this sign-in.
    const late = await lost.respond(cid, 'approve', { number: matchNumberOf(next.body)! });
    expect((late.body as { status?: string }).status).not.toBe('approved');
  });

  it('an account without an authenticator signs in with the password alone (noDevice password-only): nothing to push to', async () => {
    await addUser(w, 'dora');
    const { next, verifier, state } = await w.startSignIn({ username: 'dora' });
    expect(next.url).toMatch(CALLBACK);
    expect((await w.tokens(next.url, verifier, state)).claims()!.amr).toEqual(['pwd']);
  });
});
