import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SimulatedAuthenticator, wrongTotp } from '../support/authenticator.js';
import { PushWorld } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';
import { ACCOUNT_POLICY } from '../../src/defences/throttle.js';
import { addUser, auditEvents, CALLBACK, enroll, movableClock, startWorld, waitUntil } from '../signin/helpers.js';

/**
 * Threat (audit item 3): the second factor removed without beating it. With a device's key alone
 * `DELETE /api/device` revoked the last authenticator, and then the password alone opened
 * `/account` and enrolled the attacker's phone; a lost phone, revoked, did the same for anyone
 * with the password. Here: unregistering proves a fresh TOTP; an account that has had an
 * authenticator never falls back to the password alone; the way back is a one-time recovery code
 * (or an admin's enrollment code); a new authenticator is announced to the others.
 */
describe('removing the second factor', () => {
  let w: PushWorld;
  // The relying app lets users without any device in with the password (noDevice 'password-only').
  beforeAll(async () => { w = await startWorld({ login: { noDevice: 'password-only' } }); });
  afterAll(() => w.close());

  /** Signs in to /account with the password; returns where that lands. */
  async function accountSignIn(username: string) {
    const browser = new FormBrowser(w.t.url);
    const login = await browser.go('/account');
    return { browser, page: await browser.submit(login.body, /\/login$/, { username, password: PushWorld.password }) };
  }

  it('the device key alone cannot unregister: without a TOTP, or with a wrong one, it is refused and the device stays', async () => {
    const { phone } = await enroll(w, { push: false });
    expect(await phone.unregister({ otp: null })).toMatchObject({ status: 400, body: { error: 'invalid_otp' } });
    expect(await phone.unregister({ otp: wrongTotp(phone.totpSecret, Date.now()) })).toMatchObject({ status: 400, body: { error: 'invalid_otp' } });
    expect((await w.t.idp.devices.get(phone.deviceId))!.status).toBe('active');
    expect((await auditEvents(w, 'device.revoked')).filter((e) => e.detail.deviceId === phone.deviceId)).toHaveLength(0);
    // With the TOTP it works, once: the same step again is a replay.
    const otp = phone.currentTotp();
    expect(await phone.unregister({ otp })).toMatchObject({ status: 200, body: { status: 'revoked' } });
    expect((await w.t.idp.devices.get(phone.deviceId))!.status).toBe('revoked');
  });

  it('losing the last authenticator does not open the password alone: the sign-in asks for a recovery code, /account stays shut', async () => {
    const userId = await addUser(w, 'lost');
    const { phone } = await enroll(w, { accountId: userId, push: false, confirm: true });
    await w.t.idp.deviceService.revokeDevice(userId, phone.deviceId); // a lost phone, revoked

    const { next } = await w.startSignIn({ username: 'lost' });
    expect(next.url).toMatch(/\/recovery$/);
    expect(next.url).not.toMatch(CALLBACK);
    expect(next.body).toContain('You have no working authenticator any more');
    expect(next.body).toContain('ask your administrator for an enrollment code');

    const { browser, page } = await accountSignIn('lost');
    expect(page.url).toMatch(/\/recovery$/);
    const account = await browser.go('/account');
    expect(account.url).not.toBe(`${w.t.url}/account`);
    expect(account.body).not.toContain('add-device');
    // Nothing an attacker could enroll with was issued.
    expect((await auditEvents(w, 'device.enroll_code.issued')).filter((e) => e.account_id === userId)).toHaveLength(1);
  });

  it('a recovery code from the first enrollment signs in once (amr pwd, otp, mfa) and lets the user enroll a new phone', async () => {
    const userId = await addUser(w, 'carol');
    // First enrollment, from /account: the page shows the recovery codes, once.
    const first = await accountSignIn('carol');
    expect(first.page.url).toBe(`${w.t.url}/account`);
    const offer = await first.browser.submit(first.page.body, '/account/enroll', {});
    const recoveryCodes = [...offer.body.matchAll(/<li><code>([0-9A-Z-]+)<\/code><\/li>/g)].map((m) => m[1]!);
    expect(recoveryCodes).toHaveLength(10);
    const code = offer.body.match(/id="enroll-code">([^<]+)</)![1]!;
    const old = await SimulatedAuthenticator.enroll(w.t.url, code, { name: 'Old phone' });
    // The app's first signed request confirms it (docs/device-api.md 1b), then the phone is lost.
    expect((await old.request('GET', '/api/device/challenges')).status).toBe(200);
    await w.t.idp.deviceService.revokeDevice(userId, old.deviceId);

    // A wrong code is refused; a right one finishes the sign-in as a second factor.
    const signIn = await w.startSignIn({ username: 'carol' });
    const wrong = await signIn.browser.submit(signIn.next.body, /\/recovery$/, { code: 'AAAA-BBBB-CCCC-DDDD' });
    expect(wrong.res.status).toBe(401);
    expect(wrong.body).toContain('That recovery code is not right');
    const right = await signIn.browser.submit(wrong.body, /\/recovery$/, { code: recoveryCodes[0]! });
    expect(right.url).toMatch(CALLBACK);
    const claims = (await w.tokens(right.url, signIn.verifier, signIn.state)).claims()!;
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(claims.sub).toBe(userId);
    expect((await auditEvents(w, 'recovery_code.used')).at(-1)).toMatchObject({ account_id: userId, detail: { remaining: 9 } });

    // The same code does not work twice.
    const again = await w.startSignIn({ username: 'carol' });
    const replay = await again.browser.submit(again.next.body, /\/recovery$/, { code: recoveryCodes[0]! });
    expect(replay.res.status).toBe(401);
    expect(replay.url).not.toMatch(CALLBACK);

    // Another code opens /account, where a new phone is enrolled (no new recovery codes this time).
    const back = await accountSignIn('carol');
    const inside = await back.browser.submit(back.page.body, /\/recovery$/, { code: recoveryCodes[1]! });
    expect(inside.url).toBe(`${w.t.url}/account`);
    const offer2 = await back.browser.submit(inside.body, '/account/enroll', {});
    expect(offer2.body).not.toContain('recovery-codes');
    const fresh = await SimulatedAuthenticator.enroll(w.t.url, offer2.body.match(/id="enroll-code">([^<]+)</)![1]!, { name: 'New phone' });
    expect((await w.t.idp.devices.get(fresh.deviceId))!.status).toBe('active');
  });

  it('enrolling a new phone tells the existing ones and writes an audit event', async () => {
    const userId = await addUser(w, 'dora');
    const first = await enroll(w, { accountId: userId, name: 'First phone' });
    const second = await enroll(w, { accountId: userId, name: 'Second phone' });
    const notice = await waitUntil(async () => w.pushService.notices.find((m) => m.subscriptionId === first.subscription!.id), 5000, 'the notice');
    expect(notice.payload).toMatchObject({ type: 'notice', kind: 'device_added', deviceId: first.phone.deviceId, title: 'A new authenticator was added' });
    expect((notice.payload as unknown as { body: string }).body).toContain('Second phone');
    expect(w.pushService.notices.filter((m) => m.subscriptionId === second.subscription!.id)).toHaveLength(0);
    expect((await auditEvents(w, 'device.enrolled')).filter((e) => e.account_id === userId).map((e) => e.detail.name)).toEqual(['First phone', 'Second phone']);
  });
});

describe('guessing recovery codes', () => {
  const clock = movableClock();
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld({ idp: { idp: { now: clock.now } } }); });
  afterAll(() => w.close());

  it('wrong codes count toward the passcode limit of the account, not of one sign-in: ten lock it, even for a right code', async () => {
    const userId = await addUser(w, 'guesser');
    const offer = await w.t.idp.deviceService.issueEnrollment(userId, 'test');
    const phone = await SimulatedAuthenticator.enroll(w.t.url, offer.code, { confirm: true });
    await w.t.idp.deviceService.revokeDevice(userId, phone.deviceId);
    for (let i = 0; i < ACCOUNT_POLICY.lockoutAfter; i++) {
      const s = await w.startSignIn({ username: 'guesser' }); // a new sign-in each time
      expect((await s.browser.submit(s.next.body, /\/recovery$/, { code: 'AAAA-BBBB-CCCC-DDDD' })).res.status).toBe(401);
      clock.advance(ACCOUNT_POLICY.maxDelayMs + 1_000); // past any growing delay: only the count matters
    }
    const s = await w.startSignIn({ username: 'guesser' });
    const locked = await s.browser.submit(s.next.body, /\/recovery$/, { code: offer.recoveryCodes![0]! });
    expect(locked.res.status).toBe(429);
    expect(locked.url).not.toMatch(CALLBACK);
    expect(locked.body).toContain('Too many wrong codes. Wait 15 minutes and try again.');
  });
});

