import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { CALLBACK, enroll, startWorld, textOf } from './helpers.js';

/**
 * Guards the single-form login (the reference product's agents): username, password and passcode on
 * one form. An empty passcode or any one character means push; 6 or 8 digits are a TOTP checked at
 * once; anything else is refused with words that say what to type.
 */
describe('single-form login', () => {
  let w: PushWorld;
  // Each case enrolls a phone of its own for alice: more than the default cap of 5.
  beforeAll(async () => { w = await startWorld({ login: { form: 'single-form' }, idp: { env: { MAX_DEVICES_PER_ACCOUNT: '20' } } }); });
  afterAll(() => w.close());

  it('the login page has the passcode field', async () => {
    const fresh = await w.startSignIn({ password: 'wrong password' });
    expect(fresh.next.res.status).toBe(401);
    expect(fresh.next.body).toContain('name="passcode"');
    expect(fresh.next.body).toContain('leave empty to get a push');
  });

  it.each([
    ['an empty passcode', ''],
    ['one character', 'x'],
  ])('%s sends a push and shows the waiting page, which the phone approves', async (_label, passcode) => {
    const { phone, subscription } = await enroll(w);
    const { browser, next, uid, verifier, state } = await w.startSignIn({ passcode });
    expect(next.res.status).toBe(200);
    expect(next.url).toMatch(new RegExp(`/interaction/${uid}/wait$`));
    const number = matchNumberOf(next.body)!;
    expect(number).not.toBeNull();
    const cid = (await w.pushService.waitForMessage(subscription!.id)).payload.cid;
    expect((await phone.respond(cid, 'approve', { number })).body).toEqual({ status: 'approved' });
    const done = await browser.go(`/interaction/${uid}/wait`);
    expect(done.url).toMatch(CALLBACK);
    expect((await w.tokens(done.url, verifier, state)).claims()!.amr).toEqual(['pwd', 'otp', 'swk', 'mfa']);
  });

  it('a current 6-digit TOTP signs in directly with amr pwd otp mfa, and sends no push', async () => {
    const { phone, subscription } = await enroll(w);
    const pushesBefore = w.pushService.messages.length;
    const { next, verifier, state } = await w.startSignIn({ passcode: phone.currentTotp() });
    expect(next.url).toMatch(CALLBACK);
    const claims = (await w.tokens(next.url, verifier, state)).claims()!;
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(claims.acr).toBe('urn:pushotp:acr:mfa');
    await expect(w.pushService.waitForMessage(subscription!.id, 300)).rejects.toThrow(/no push/);
    expect(w.pushService.messages.length).toBe(pushesBefore);
  });

  it('a wrong 6-digit passcode is refused on the passcode page, which still offers a push', async () => {
    const { phone } = await enroll(w);
    const wrong = String((Number(phone.currentTotp()) + 1) % 1_000_000).padStart(6, '0');
    const { browser, next, uid } = await w.startSignIn({ passcode: wrong });
    expect(next.res.status).toBe(401);
    expect(next.url).not.toMatch(CALLBACK);
    expect(textOf(next.body, 'passcode-error')).toContain('That passcode is not right.');
    const wait = await browser.submit(next.body, /\/push$/, {});
    expect(wait.url).toMatch(new RegExp(`/interaction/${uid}/wait$`));
  });

  it.each(['12345', '1234567', 'ab', '12345a'])('"%s" is refused with 400 and a clear message, and sends nothing', async (passcode) => {
    const { phone } = await enroll(w);
    const before = (await phone.pending()).map((c) => c.id);
    const { browser, next, uid } = await w.startSignIn({ passcode });
    expect(next.res.status).toBe(400);
    expect(next.url).not.toMatch(CALLBACK);
    expect(textOf(next.body, 'login-error')).toBe('A passcode has 6 or 8 digits. Leave it empty to get a push instead.');
    expect(next.body).toContain('value="alice"');
    expect((await phone.pending()).map((c) => c.id)).toEqual(before);
    // Nothing half-done is left behind: the push and passcode steps need the password again.
    const push = await browser.request(`/interaction/${uid}/push`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=x',
    });
    expect(push.status).toBeGreaterThanOrEqual(400);
    expect((await phone.pending()).map((c) => c.id)).toEqual(before);
  });
});
