import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AuthenticatorHttpError } from '../support/authenticator.js';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { CALLBACK, dispatched, enroll, pushStatus, sendPush, startWorld, signedInToWaitingPage } from './helpers.js';

/**
 * Guards: revoking a device (a lost or stolen phone) takes effect at once. It gets no more pushes,
 * its answers are refused (device_revoked) even to a request it saw before the revocation, it can
 * no longer read requests, and its passcodes no longer sign in.
 */
describe('a revoked device', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld(); });
  afterAll(() => w.close());

  it('gets no push, its answer is refused, and its passcode no longer works', async () => {
    const keeper = await enroll(w, { name: 'Keeper' }); // the user's other, still trusted phone
    const lost = await enroll(w, { name: 'Lost phone' });

    // A request the lost phone has seen (nonce and all) before it is revoked.
    const one = await signedInToWaitingPage(w);
    const wait1 = one.wait;
    const number1 = matchNumberOf(wait1.body)!;
    const cid1 = (await w.pushService.waitForMessage(lost.subscription!.id)).payload.cid;
    const seen = await lost.phone.challenge(cid1);
    await w.pushService.waitForMessage(keeper.subscription!.id);

    const revoked = await w.t.idp.deviceService.revokeDevice(w.accountId, lost.phone.deviceId);
    expect(revoked.status).toBe('revoked');

    const answer = await lost.phone.respond(cid1, 'approve', { number: number1, nonce: seen.nonce });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'device_revoked' });
    // The revoke ended the account's sessions, and with them this sign-in (begun before it): its
    // request is withdrawn from every phone, the keeper's too (pending-push-after-end.test.ts).
    expect(await pushStatus(one.browser, one.uid)).toMatchObject({ status: 'expired' });
    expect((await keeper.phone.pending()).map((c) => c.id)).not.toContain(cid1);
    expect((await one.browser.go(`/interaction/${one.uid}/wait`)).url).not.toMatch(CALLBACK);
    // Nor can it read requests any more.
    const list = await lost.phone.request('GET', '/api/device/challenges');
    expect(list.status).toBe(401);
    expect(list.body).toMatchObject({ error: 'device_revoked' });
    await expect(lost.phone.pending()).rejects.toBeInstanceOf(AuthenticatorHttpError);

    // Its passcode is refused on the login page of a sign-in begun after the revoke.
    const three = await w.startSignIn();
    const typed = await three.browser.go(`/interaction/${three.uid}/passcode`);
    const refused = await three.browser.submit(typed.body, /\/passcode$/, { passcode: lost.phone.currentTotp() });
    expect(refused.res.status).toBe(401);
    expect(refused.url).not.toMatch(CALLBACK);
    expect(refused.body).toContain('That passcode is not right.');

    // A new sign-in: the push goes to the keeper only; the revoked phone's subscription hears nothing.
    const lostRequestsBefore = w.pushService.requests.filter((r) => r.subscriptionId === lost.subscription!.id).length;
    const two = await w.startSignIn();
    // The page names no phone before the second factor (audit item 8); the revoked one gets no push below.
    expect(two.next.body).not.toContain('Lost phone');
    const wait2 = await sendPush(two.browser, two.next.body);
    const cid2 = (await w.pushService.waitForMessage(keeper.subscription!.id)).payload.cid;
    const result = await dispatched(w, cid2);
    expect(result).toMatchObject({ sent: 1, gone: 0, failed: 0, pollOnly: 0 });
    expect(w.pushService.requests.filter((r) => r.subscriptionId === lost.subscription!.id)).toHaveLength(lostRequestsBefore);

    // Its answer to the new request is refused too, even with the nonce learnt elsewhere.
    const nonce2 = (await keeper.phone.challenge(cid2)).nonce;
    const late = await lost.phone.respond(cid2, 'approve', { number: matchNumberOf(wait2.body)!, nonce: nonce2 });
    expect(late.body).toMatchObject({ error: 'device_revoked' });
    expect(await pushStatus(two.browser, two.uid)).toMatchObject({ status: 'pending' });

    // The keeper still signs in.
    expect((await keeper.phone.respond(cid2, 'approve', { number: matchNumberOf(wait2.body)! })).body).toEqual({ status: 'approved' });
    expect((await two.browser.go(`/interaction/${two.uid}/wait`)).url).toMatch(CALLBACK);
  });
});
