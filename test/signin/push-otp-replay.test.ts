import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { totpAt, totpStep } from '../../src/otp/totp.js';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { CALLBACK, enroll, pushStatus, startWorld, signedInToWaitingPage } from './helpers.js';

/**
 * Guards RFC 6238 5.2 in push answers: a TOTP step, once accepted from a device's answer, is never
 * accepted again in another answer. (Typed passcodes count their steps apart: the code the phone
 * shows stays typeable once, passcode-after-approval.test.ts.)
 */
describe('TOTP step replay in push answers', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld(); });
  afterAll(() => w.close());

  it('an answer carrying the step already accepted is refused with otp_replayed; the request stays pending', async () => {
    const { phone, subscription } = await enroll(w);

    const one = await signedInToWaitingPage(w);
    const wait1 = one.wait;
    const cid1 = (await w.pushService.waitForMessage(subscription!.id)).payload.cid;
    const usedStep = totpStep(Date.now());
    const otp = totpAt(phone.totpSecret, usedStep * 30_000);
    expect((await phone.respond(cid1, 'approve', { number: matchNumberOf(wait1.body)!, otp })).body).toEqual({ status: 'approved' });
    expect((await one.browser.go(`/interaction/${one.uid}/wait`)).url).toMatch(CALLBACK);

    const two = await signedInToWaitingPage(w);
    const wait2 = two.wait;
    const number2 = matchNumberOf(wait2.body)!;
    const cid2 = (await w.pushService.waitForMessage(subscription!.id)).payload.cid;

    // A new, validly signed answer, but with the passcode of the step already used.
    const replay = await phone.respond(cid2, 'approve', { number: number2, otp });
    expect(replay.status).toBe(400);
    expect(replay.body).toMatchObject({ error: 'otp_replayed' });
    // An older step (still inside the drift window) is no better.
    const older = await phone.respond(cid2, 'approve', { number: number2, otp: totpAt(phone.totpSecret, (usedStep - 1) * 30_000) });
    expect(older.status).toBe(400);
    expect(older.body).toMatchObject({ error: expect.stringMatching(/^(otp_replayed|invalid_otp)$/) });
    // A denial needs a fresh step too: a replayed step cannot even deny someone else's request.
    const deny = await phone.respond(cid2, 'deny', { otp });
    expect(deny.body).toMatchObject({ error: 'otp_replayed' });

    expect(await pushStatus(two.browser, two.uid)).toMatchObject({ status: 'pending' });
    expect((await two.browser.go(`/interaction/${two.uid}/wait`)).url).not.toMatch(CALLBACK);

    // Typed by hand, that code still works once (audit item 10): typed passcodes keep their own
    // replay counter; see passcode-after-approval.test.ts.

    // The next step is fresh and approves.
    const fresh = totpAt(phone.totpSecret, (usedStep + 1) * 30_000);
    expect((await phone.respond(cid2, 'approve', { number: number2, otp: fresh })).body).toEqual({ status: 'approved' });
    expect((await two.browser.go(`/interaction/${two.uid}/wait`)).url).toMatch(CALLBACK);
  });
});
