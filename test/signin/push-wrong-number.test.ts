import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { auditEvents, CALLBACK, enroll, pushStatus, startWorld, textOf, signedInToWaitingPage } from './helpers.js';

/**
 * Guards number matching, the push-fatigue defence: a user tapping through a request without
 * looking at the login page picks a wrong number, and that denies the sign-in for good.
 */
describe('number matching', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld(); });
  afterAll(() => w.close());

  it('a wrong number denies the sign-in with reason wrong_number, and the page says so', async () => {
    const { phone, subscription } = await enroll(w);
    const { browser, uid, wait } = await signedInToWaitingPage(w);
    const number = matchNumberOf(wait.body)!;
    const cid = (await w.pushService.waitForMessage(subscription!.id)).payload.cid;
    const view = await phone.challenge(cid);
    expect(view.numberMatching).toBe(true);
    expect(view.numberChoices).toHaveLength(3);
    expect(view.numberChoices).toContain(number);
    const decoy = view.numberChoices!.find((n) => n !== number)!;

    const answer = await phone.respond(cid, 'approve', { number: decoy });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ status: 'denied', reason: 'wrong_number' });
    expect(await pushStatus(browser, uid)).toMatchObject({ status: 'denied', reason: 'wrong_number' });

    const page = await browser.go(`/interaction/${uid}/wait`);
    expect(page.url).not.toMatch(CALLBACK);
    expect(textOf(page.body, 'result')).toBe('The number chosen on the phone did not match. The request was denied.');
    expect(textOf(page.body, 'send-again')).toBe('Try again');

    // No second guess: the right number afterwards is refused, and the sign-in stays denied.
    const second = await phone.respond(cid, 'approve', { number });
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({ error: 'challenge_resolved' });
    expect(await pushStatus(browser, uid)).toMatchObject({ status: 'denied', reason: 'wrong_number' });
    expect((await browser.go(`/interaction/${uid}/wait`)).url).not.toMatch(CALLBACK);
    expect((await auditEvents(w, 'push.denied')).find((e) => e.detail.challengeId === cid)?.detail.reason).toBe('wrong_number');
  });

  it('an approval without any number is refused (number_required) and leaves the request pending', async () => {
    const { phone, subscription } = await enroll(w);
    const { browser, uid, wait } = await signedInToWaitingPage(w);
    const cid = (await w.pushService.waitForMessage(subscription!.id)).payload.cid;
    const answer = await phone.respond(cid, 'approve');
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'number_required' });
    expect(await pushStatus(browser, uid)).toMatchObject({ status: 'pending' });
    // With the number it goes through.
    expect((await phone.respond(cid, 'approve', { number: matchNumberOf(wait.body)! })).body).toEqual({ status: 'approved' });
    expect((await browser.go(`/interaction/${uid}/wait`)).url).toMatch(CALLBACK);
  });
});
