import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { addUser, CALLBACK, enroll, movableClock, sendPush, startWorld, textOf, signedInToWaitingPage } from './helpers.js';

/**
 * Guards "Send again" against becoming a push-bombing tool: at most one push per 10 s and five per
 * sign-in. The limits say what happened in words, and the passcode stays open.
 */
describe('send again', () => {
  const clock = movableClock();
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld({ idp: { idp: { now: clock.now } } }); });
  afterAll(() => w.close());

  const TOO_SOON = 'A request was sent a moment ago. Wait a few seconds before sending another.';
  const ACCOUNT_LIMIT = 'Several requests to your phone were not approved in the last few minutes, so no more are sent for now. Enter a passcode instead.';
  const TOO_MANY = 'Too many requests were sent for this sign-in. Enter a passcode instead, or start again.';

  it('a second push within 10 s shows too_soon and sends nothing; after 5 pushes, too_many', async () => {
    const { phone, subscription } = await enroll(w, { now: clock.now });
    const { browser, next, uid, verifier, state } = await w.startSignIn();
    let page = await sendPush(browser, next.body);
    const number1 = matchNumberOf(page.body);
    await w.pushService.waitForMessage(subscription!.id);
    const messagesTo = () => w.pushService.messages.filter((m) => m.subscriptionId === subscription!.id).length;
    expect(messagesTo()).toBe(1);

    // At once, and 9 s later: too soon, nothing sent, the same request still pending on the page.
    for (const wait of [0, 9_000]) {
      clock.advance(wait);
      page = await browser.submit(page.body, /\/push$/, {});
      expect(page.url).toMatch(/\/wait\?notice=too_soon$/);
      expect(textOf(page.body, 'notice')).toBe(TOO_SOON);
      expect(matchNumberOf(page.body)).toBe(number1);
    }
    await expect(w.pushService.waitForMessage(subscription!.id, 300)).rejects.toThrow(/no push/);
    expect(messagesTo()).toBe(1);

    // Pushes 2..5, each 10 s after the previous one.
    for (let n = 2; n <= 5; n++) {
      clock.advance(10_000);
      page = await browser.submit(page.body, /\/push$/, {});
      expect(page.url).toMatch(/\/wait$/);
      expect(textOf(page.body, 'notice')).toBeNull();
      await w.pushService.waitForMessage(subscription!.id);
      expect(messagesTo()).toBe(n);
    }

    // The sixth: too many, however long one waits.
    clock.advance(60_000);
    page = await browser.submit(page.body, /\/push$/, {});
    expect(page.url).toMatch(/\/wait\?notice=too_many$/);
    expect(textOf(page.body, 'notice')).toBe(TOO_MANY);
    await expect(w.pushService.waitForMessage(subscription!.id, 300)).rejects.toThrow(/no push/);
    expect(messagesTo()).toBe(5);

    // The passcode still signs in.
    const typed = await browser.go(`/interaction/${uid}/passcode`);
    const done = await browser.submit(typed.body, /\/passcode$/, { passcode: phone.currentTotp() });
    expect(done.url).toMatch(CALLBACK);
    expect((await w.tokens(done.url, verifier, state)).claims()!.amr).toEqual(['pwd', 'otp', 'mfa']);
  });

  it('starting over (or posting the password again) does not lift the limit: at most 5 unapproved pushes per account in 5 minutes', async () => {
    const carolId = await addUser(w, 'carol');
    const { subscription } = await enroll(w, { accountId: carolId, now: clock.now });
    const notices: (string | null)[] = [];
    for (let i = 0; i < 7; i++) {
      const { wait: page } = await signedInToWaitingPage(w, { username: 'carol' });
      notices.push(textOf(page.body, 'notice'));
    }
    expect(notices.slice(0, 5)).toEqual(Array(5).fill(null));
    expect(notices.slice(5)).toEqual([ACCOUNT_LIMIT, ACCOUNT_LIMIT]);
    await new Promise((r) => setTimeout(r, 300));
    expect(w.pushService.messages.filter((m) => m.subscriptionId === subscription!.id)).toHaveLength(5);
  });
});
