import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ACCOUNT_POLICY } from '../../src/defences/throttle.js';
import { PASSCODE_MAX_FAILURES } from '../../src/signin/limits.js';
import { PushWorld } from '../support/push-world.js';
import { auditEvents, enroll, startWorld } from './helpers.js';

/**
 * Someone with the password sends hundreds of passcode guesses at once on one sign-in, hoping they
 * are all checked before any is counted (audit: 261 of 300 parallel wrong passcodes were checked,
 * against a cap of 5). Each guess is reserved before the check, per account and per sign-in, so
 * only the free failures of each wait are checked and never more than 5 on one sign-in.
 * The clock moves only when the test moves it, so no delay runs out during a burst.
 */
describe('passcode guessing in parallel', () => {
  let t = Date.now();
  const now = () => t;
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld({ idp: { idp: { now } } }); });
  afterAll(() => w.close());

  it('300 wrong passcodes at once, then bursts after each wait: 5 checked in all, then the sign-in is over', async () => {
    const { phone } = await enroll(w, { now });
    const right = phone.currentTotp();
    const wrong = (i: number) => String((Number(right) + 1 + i) % 1_000_000).padStart(6, '0');
    const { browser, uid } = await w.startSignIn();
    const form = (await browser.go(`/interaction/${uid}/passcode`)).body;
    const checked = async () => (await auditEvents(w, 'signin.passcode.failure')).length;

    const burst = async (n: number) => {
      const pages = await Promise.all(Array.from({ length: n }, (_, i) => browser.submit(form, /\/passcode$/, { passcode: wrong(i) })));
      const count: Record<number, number> = {};
      for (const p of pages) count[p.res.status] = (count[p.res.status] ?? 0) + 1;
      return count;
    };

    // The account's free failures, and not one more.
    expect(await burst(300)).toEqual({ 401: ACCOUNT_POLICY.freeFailures, 429: 300 - ACCOUNT_POLICY.freeFailures });
    expect(await checked()).toBe(ACCOUNT_POLICY.freeFailures);

    // Each delay waited out lets exactly one more through, until this sign-in's cap of 5.
    t += 1_000;
    expect(await burst(100)).toEqual({ 401: 1, 429: 99 });
    t += 2_000;
    const last = await burst(100);
    expect(await checked()).toBe(PASSCODE_MAX_FAILURES);
    expect(last[401] ?? 0).toBe(0); // the fifth failure ends the sign-in (429); the rest wait or find it gone
    expect((last[429] ?? 0) + (last[400] ?? 0)).toBe(100);

    // The sign-in is over: even after every wait, nothing more is checked on it.
    t += 60_000;
    const after = await burst(50);
    expect(after[401] ?? 0).toBe(0);
    expect(await checked()).toBe(PASSCODE_MAX_FAILURES);
    expect(PASSCODE_MAX_FAILURES).toBeGreaterThan(ACCOUNT_POLICY.freeFailures); // else the bursts above test nothing new
  });
});
