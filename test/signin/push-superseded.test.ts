import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { CALLBACK, enroll, movableClock, startWorld, signedInToWaitingPage } from './helpers.js';

/**
 * Guards: a request that no longer stands for anything is withdrawn, so the phone never shows (and
 * the user never approves) a request whose approval would do nothing: the one "Send again" replaced,
 * and the one left pending when the passcode finished the sign-in.
 */
describe('superseded push requests', () => {
  const clock = movableClock();
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld({ idp: { idp: { now: clock.now } } }); });
  afterAll(() => w.close());

  it('after Send again, only the newest request is pending on the phone; the old one is refused 410', async () => {
    const { phone, subscription } = await enroll(w, { now: clock.now });
    const { browser, uid } = await signedInToWaitingPage(w);
    const old = (await w.pushService.waitForMessage(subscription!.id)).payload.cid;
    const oldView = await phone.challenge(old);
    clock.advance(10_000);
    const page = await browser.submit((await browser.go(`/interaction/${uid}/wait`)).body, /\/push$/, {});
    const number = matchNumberOf(page.body)!;
    const cid = (await w.pushService.waitForMessage(subscription!.id)).payload.cid;
    expect(cid).not.toBe(old);

    const pending = (await phone.pending()).map((c) => c.id);
    expect(pending).toEqual([cid]);
    expect((await phone.challenge(old)).status).toBe('expired');
    const stale = await phone.respond(old, 'approve', { number: oldView.numberChoices![0]!, nonce: oldView.nonce });
    expect(stale.status).toBe(410);
    expect(stale.body).toMatchObject({ error: 'challenge_expired' });
    const still = await browser.go(`/interaction/${uid}/wait`);
    expect(still.url).not.toMatch(CALLBACK);
    expect(matchNumberOf(still.body)).toBe(number);

    expect((await phone.respond(cid, 'approve', { number })).body).toEqual({ status: 'approved' });
    expect((await browser.go(`/interaction/${uid}/wait`)).url).toMatch(CALLBACK);
  });

  it('after the passcode signs in, the pending push request is withdrawn from the phone', async () => {
    const { phone, subscription } = await enroll(w, { now: clock.now });
    const { browser, uid } = await signedInToWaitingPage(w);
    const cid = (await w.pushService.waitForMessage(subscription!.id)).payload.cid;
    const typed = await browser.go(`/interaction/${uid}/passcode`);
    const done = await browser.submit(typed.body, /\/passcode$/, { passcode: phone.currentTotp() });
    expect(done.url).toMatch(CALLBACK);

    expect((await phone.pending()).map((c) => c.id)).not.toContain(cid);
    expect((await phone.challenge(cid)).status).toBe('expired');
  });

  it('Send again after the phone approved (before the page noticed) finishes the sign-in, and sends nothing', async () => {
    const { phone, subscription } = await enroll(w, { now: clock.now });
    const { browser, verifier, state, wait } = await signedInToWaitingPage(w);
    const cid = (await w.pushService.waitForMessage(subscription!.id)).payload.cid;
    expect((await phone.respond(cid, 'approve', { number: matchNumberOf(wait.body)! })).body).toEqual({ status: 'approved' });
    clock.advance(10_000);
    const done = await browser.submit(wait.body, /\/push$/, {});
    expect(done.url).toMatch(CALLBACK);
    expect((await w.tokens(done.url, verifier, state)).claims()!.amr).toEqual(['pwd', 'otp', 'swk', 'mfa']);
    await expect(w.pushService.waitForMessage(subscription!.id, 300)).rejects.toThrow(/no push/);
  });
});
