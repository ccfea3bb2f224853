import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { auditEvents, CALLBACK, enroll, movableClock, pushStatus, startWorld, textOf, signedInToWaitingPage } from './helpers.js';

/**
 * Guards: "Deny" on the phone stops the sign-in. The waiting page learns it at once and says so,
 * the relying app gets no code, and "Try again" sends a new push only after the resend interval.
 */
describe('deny on the phone', () => {
  const clock = movableClock();
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld({ idp: { idp: { now: clock.now } } }); });
  afterAll(() => w.close());

  it('denied: the status and the page say so, no code is issued, and Try again pushes anew after 10 s', async () => {
    const { phone, subscription } = await enroll(w, { now: clock.now });
    const { browser, uid, verifier, state, wait } = await signedInToWaitingPage(w);
    const number = matchNumberOf(wait.body)!;
    const cid = (await w.pushService.waitForMessage(subscription!.id)).payload.cid;
    const successesBefore = (await auditEvents(w, 'signin.success')).length;

    // The page is long-polling when the denial lands: it wakes with "denied".
    const waiting = pushStatus(browser, uid, { wait: true });
    await new Promise((r) => setTimeout(r, 100));
    const answer = await phone.respond(cid, 'deny');
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ status: 'denied', reason: 'denied' });
    expect(await waiting).toMatchObject({ status: 'denied', reason: 'denied', next: `/interaction/${uid}/wait` });

    // Where the script goes next: the denial, no number, no self-refresh, and a "Try again" form.
    const page = await browser.go(`/interaction/${uid}/wait`);
    expect(page.res.status).toBe(200);
    expect(page.url).toMatch(/\/wait$/);
    expect(textOf(page.body, 'result')).toBe('The request was denied on your phone.');
    expect(matchNumberOf(page.body)).toBeNull();
    expect(page.body).not.toContain('http-equiv="refresh"');
    expect(textOf(page.body, 'send-again')).toBe('Try again');
    expect(page.body).toContain('Enter a passcode instead');

    // A denial is final: approving the same request afterwards is refused, and nothing finishes.
    const late = await phone.respond(cid, 'approve', { number });
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ error: 'challenge_resolved' });
    const still = await browser.go(`/interaction/${uid}/wait`);
    expect(still.url).not.toMatch(CALLBACK);
    expect(textOf(still.body, 'result')).toBe('The request was denied on your phone.');
    expect((await auditEvents(w, 'signin.success')).length).toBe(successesBefore);
    expect((await auditEvents(w, 'push.denied')).some((e) => e.detail.challengeId === cid)).toBe(true);

    // "Try again" within 10 s of the last push: the too_soon notice, and no new push.
    const tooSoon = await browser.submit(page.body, /\/push$/, {});
    expect(tooSoon.url).toMatch(/\/wait\?notice=too_soon$/);
    expect(textOf(tooSoon.body, 'notice')).toBe('A request was sent a moment ago. Wait a few seconds before sending another.');
    expect(textOf(tooSoon.body, 'result')).toBe('The request was denied on your phone.');
    await expect(w.pushService.waitForMessage(subscription!.id, 300)).rejects.toThrow(/no push/);

    // Ten seconds later: a new request, with its own number, that the phone can approve.
    clock.advance(10_000);
    const again = await browser.submit(tooSoon.body, /\/push$/, {});
    expect(again.url).toMatch(/\/wait$/);
    const number2 = matchNumberOf(again.body);
    expect(number2).not.toBeNull();
    const cid2 = (await w.pushService.waitForMessage(subscription!.id)).payload.cid;
    expect(cid2).not.toBe(cid);
    expect(await pushStatus(browser, uid)).toMatchObject({ status: 'pending' });
    expect((await phone.respond(cid2, 'approve', { number: number2! })).body).toEqual({ status: 'approved' });
    const done = await browser.go(`/interaction/${uid}/wait`);
    expect(done.url).toMatch(CALLBACK);
    expect((await w.tokens(done.url, verifier, state)).claims()!.amr).toEqual(['pwd', 'otp', 'swk', 'mfa']);
  });
});
