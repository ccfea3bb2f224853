import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { auditEvents, CALLBACK, enroll, movableClock, pushStatus, startWorld, textOf, signedInToWaitingPage } from './helpers.js';

/**
 * Guards: "Deny and report" (the reference product's fraud report) denies the sign-in, tells the
 * person at the browser that it was reported, and leaves an audit event an operator can act on.
 */
describe('deny and report', () => {
  const clock = movableClock();
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld({ idp: { idp: { now: clock.now } } }); });
  afterAll(() => w.close());

  it('a reported request is denied with the same words as a plain deny on the computer, and a push.reported audit event', async () => {
    const { phone, subscription } = await enroll(w, { now: clock.now });
    const { browser, uid, wait } = await signedInToWaitingPage(w);
    expect(matchNumberOf(wait.body)).not.toBeNull();
    const cid = (await w.pushService.waitForMessage(subscription!.id)).payload.cid;

    const answer = await phone.respond(cid, 'report');
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ status: 'denied', reason: 'reported' });
    // The computer hears only "denied": it may be whoever knows the password.
    expect(await pushStatus(browser, uid)).toMatchObject({ status: 'denied', reason: 'denied' });

    const page = await browser.go(`/interaction/${uid}/wait`);
    expect(page.url).not.toMatch(CALLBACK);
    expect(textOf(page.body, 'result')).toBe('The request was denied on your phone.');

    const reported = (await auditEvents(w, 'push.reported')).filter((e) => e.detail.challengeId === cid);
    expect(reported).toHaveLength(1);
    expect(reported[0]).toMatchObject({ account_id: w.accountId, client_id: 'test-rp', detail: { deviceId: phone.deviceId, reason: 'reported' } });
    expect((await auditEvents(w, 'push.approved')).filter((e) => e.detail.challengeId === cid)).toHaveLength(0);
    expect((await auditEvents(w, 'signin.success')).filter((e) => e.account_id === w.accountId)).toHaveLength(0);
  });

  it('after a report, "Try again" sends no further push to the user for that sign-in', async () => {
    const { phone, subscription } = await enroll(w, { now: clock.now });
    clock.advance(21 * 60_000); // past the account-wide mute that the first test's report set
    const { browser, uid } = await signedInToWaitingPage(w);
    const cid = (await w.pushService.waitForMessage(subscription!.id)).payload.cid;
    expect((await phone.respond(cid, 'report')).body).toEqual({ status: 'denied', reason: 'reported' });
    const page = await browser.go(`/interaction/${uid}/wait`);

    clock.advance(60_000); // well past the resend interval
    const again = await browser.submit(page.body, /\/push$/, {});
    expect(again.url).toMatch(/\/wait\?notice=reported$/);
    expect(textOf(again.body, 'notice')).toBe('No more requests are sent to your phone for this sign-in. Enter a passcode instead.');
    expect(textOf(again.body, 'result')).toBe('The request was denied on your phone.');
    expect(again.body).not.toMatch(/report/i);
    await expect(w.pushService.waitForMessage(subscription!.id, 300)).rejects.toThrow(/no push/);
    expect(await phone.pending()).toEqual([]);
  });
});
