import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import type { FormBrowser } from '../support/web-browser.js';
import { CALLBACK, enroll, movableClock, sendPush, startWorld, textOf } from './helpers.js';

/**
 * Guards the passcode against guessing by someone who has the password. One sign-in allows five
 * wrong passcodes, but starting over (or posting the password again on the same page) costs
 * nothing, so wrong passcodes are also counted per account, as wrong passwords are: a growing delay
 * after three, a 15-minute lockout after ten, during which the phone's approval still works.
 */
describe('passcode guessing', () => {
  const clock = movableClock();
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld({ idp: { idp: { now: clock.now } } }); });
  afterAll(() => w.close());

  const wrongCode = (right: string, i: number) => String((Number(right) + 1000 + i) % 1_000_000).padStart(6, '0');

  async function guess(browser: FormBrowser, uid: string, passcode: string) {
    const page = await browser.go(`/interaction/${uid}/passcode`);
    if (page.res.status !== 200) return page;
    return browser.submit(page.body, /\/passcode$/, { passcode });
  }

  it('per sign-in five, per account ten wrong passcodes; then even the right one waits, and push still works', async () => {
    const { phone, subscription } = await enroll(w, { now: clock.now });
    let n = 0;
    const wrong = () => wrongCode(phone.currentTotp(), n++);

    // Three free failures, then a delay that the page states.
    const one = await w.startSignIn();
    for (let i = 0; i < 3; i++) expect((await guess(one.browser, one.uid, wrong())).res.status).toBe(401);
    const hasty = await guess(one.browser, one.uid, wrong());
    expect(hasty.res.status).toBe(429);
    // One second, singular (issue 16, item 4); the page counts it down (views/scripts/page.ts).
    expect(textOf(hasty.body, 'throttle')).toBe('Too many wrong passcodes. Wait 1 second and try again.');
    expect(hasty.body).toContain('Or approve the request on your phone.');
    expect(hasty.body).toContain('Send a push instead');

    // Waiting out each delay: the fourth failure, then the fifth ends this sign-in.
    clock.advance(1_000);
    expect((await guess(one.browser, one.uid, wrong())).res.status).toBe(401);
    clock.advance(2_000);
    const fifth = await guess(one.browser, one.uid, wrong());
    expect(fifth.res.status).toBe(429);
    expect(fifth.body).toContain('Too many wrong passcodes. Go back to the app and sign in again.');
    expect((await one.browser.go(`/interaction/${one.uid}/passcode`)).res.status).toBe(400);

    // Posting the password again on the same page does not buy fresh guesses: its five are spent.
    const again = await one.browser.go(`/interaction/${one.uid}`);
    const relogin = await one.browser.submit(again.body, /\/login$/, { username: 'alice', password: PushWorld.password });
    expect(relogin.url).toMatch(/\/second-factor$/);
    clock.advance(4_000);
    const spent = await guess(one.browser, one.uid, wrong());
    expect(spent.res.status).toBe(429);
    expect(spent.body).toContain('Too many wrong passcodes. Go back to the app and sign in again.');
    // A new sign-in goes on with the account's count and its growing waits.
    const two = await w.startSignIn();
    for (const delay of [0, 8_000, 16_000, 30_000]) {
      clock.advance(delay);
      expect((await guess(two.browser, two.uid, wrong())).res.status).toBe(401);
    }
    // Ten failures on the account (5 + 4 + this one, from a fresh sign-in): locked.
    clock.advance(30_000);
    const tenth = await w.startSignIn();
    expect((await guess(tenth.browser, tenth.uid, wrong())).res.status).toBe(401);

    // Now even the right code waits; the page says for how long and points to the phone.
    clock.advance(60_000);
    const three = await w.startSignIn();
    const right = await guess(three.browser, three.uid, phone.currentTotp());
    expect(right.res.status).toBe(429);
    expect(right.url).not.toMatch(CALLBACK);
    expect(textOf(right.body, 'throttle')).toBe('Too many wrong passcodes. Passcodes are locked for 14 minutes: approve the request on your phone instead.');

    // The user's own phone still gets them in.
    const wait = await sendPush(three.browser, right.body);
    const cid = (await w.pushService.waitForMessage(subscription!.id)).payload.cid;
    expect((await phone.respond(cid, 'approve', { number: matchNumberOf(wait.body)! })).body).toEqual({ status: 'approved' });
    expect((await three.browser.go(`/interaction/${three.uid}/wait`)).url).toMatch(CALLBACK);

    // After the lockout, the passcode works again.
    clock.advance(15 * 60_000);
    const four = await w.startSignIn();
    const done = await guess(four.browser, four.uid, phone.currentTotp());
    expect(done.url).toMatch(CALLBACK);
  });
});
