import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { CALLBACK, dispatched, enroll, newestChallenge, pushStatus, startWorld, signedInToWaitingPage } from './helpers.js';

/**
 * Guards the poll mode (docs/device-api.md section 3): a phone that could not subscribe to Web Push
 * finds the sign-in request by asking for pending requests, approves it, and the sign-in completes.
 */
describe('poll mode', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld(); });
  afterAll(() => w.close());

  it('a phone without push finds the request with pending() and approves it', async () => {
    const { phone, subscription } = await enroll(w, { push: false });
    expect(subscription).toBeNull();
    expect(phone.policy?.pollIntervalSeconds).toBe(5);
    expect(await phone.pending()).toEqual([]);

    const { browser, uid, verifier, state, wait } = await signedInToWaitingPage(w);
    const number = matchNumberOf(wait.body)!;

    const found = await newestChallenge(phone);
    expect(found).toMatchObject({ app: 'Test RP', status: 'pending', numberMatching: true });
    expect(found.numberChoices).toContain(number);
    expect(found.expiresAt - found.createdAt).toBe(120_000);
    expect(await dispatched(w, found.id)).toMatchObject({ sent: 0, pollOnly: 1 });
    expect(w.pushService.messages).toHaveLength(0);

    // The page is long-polling when the polled phone answers; it wakes.
    const waiting = pushStatus(browser, uid, { wait: true });
    await new Promise((r) => setTimeout(r, 100));
    expect((await phone.respond(found.id, 'approve', { number })).body).toEqual({ status: 'approved' });
    const status = await waiting;
    expect(status.status).toBe('approved');
    expect(await phone.pending()).toEqual([]);

    const done = await browser.go(status.next);
    expect(done.url).toMatch(CALLBACK);
    const claims = (await w.tokens(done.url, verifier, state)).claims()!;
    expect(claims.amr).toEqual(['pwd', 'otp', 'swk', 'mfa']);
    expect(claims.sub).toBe(w.accountId);
  });
});
