import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { CALLBACK, enroll, movableClock, pushStatus, startWorld, textOf, signedInToWaitingPage } from './helpers.js';

/**
 * Guards: a push request lives PUSH_CHALLENGE_TTL seconds and no longer. Past it the page says it
 * expired and offers "Try again", the phone sees it expired, and a late approval is refused with
 * 410 challenge_expired: an old notification found later cannot let anyone in.
 */
describe('push challenge expiry', () => {
  const clock = movableClock();
  let w: PushWorld;
  beforeAll(async () => {
    w = await startWorld({ idp: { env: { PUSH_CHALLENGE_TTL: '15' }, idp: { now: clock.now } } });
  });
  afterAll(() => w.close());

  it('past its TTL: the page says expired and offers Try again; a late approval gets 410', async () => {
    const { phone, subscription } = await enroll(w, { now: clock.now });
    const { browser, uid, verifier, state, wait } = await signedInToWaitingPage(w);
    const number = matchNumberOf(wait.body)!;
    expect(textOf(wait.body, 'seconds-left')).toBe('15');
    const message = await w.pushService.waitForMessage(subscription!.id);
    const cid = message.payload.cid;
    expect(Number(message.headers.ttl)).toBeLessThanOrEqual(15);
    expect(message.payload.expiresAt - message.payload.createdAt).toBe(15_000);

    clock.advance(15_001);
    expect(await pushStatus(browser, uid)).toMatchObject({ status: 'expired', reason: 'expired' });
    const page = await browser.go(`/interaction/${uid}/wait`);
    expect(page.url).toMatch(/\/wait$/);
    expect(textOf(page.body, 'result')).toBe('The request expired before it was answered.');
    expect(matchNumberOf(page.body)).toBeNull();
    expect(page.body).not.toContain('http-equiv="refresh"');
    expect(textOf(page.body, 'send-again')).toBe('Try again');

    // The phone sees it expired and no longer lists it; its approval comes too late.
    expect((await phone.challenge(cid)).status).toBe('expired');
    expect((await phone.pending()).map((c) => c.id)).not.toContain(cid);
    const late = await phone.respond(cid, 'approve', { number });
    expect(late.status).toBe(410);
    expect(late.body).toMatchObject({ error: 'challenge_expired' });
    const after = await browser.go(`/interaction/${uid}/wait`);
    expect(after.url).not.toMatch(CALLBACK);
    expect(textOf(after.body, 'result')).toBe('The request expired before it was answered.');

    // Try again: a fresh request (the last push was over 10 s ago) that does sign in.
    const again = await browser.submit(page.body, /\/push$/, {});
    expect(again.url).toMatch(/\/wait$/);
    const number2 = matchNumberOf(again.body)!;
    const cid2 = (await w.pushService.waitForMessage(subscription!.id)).payload.cid;
    expect(cid2).not.toBe(cid);
    expect((await phone.respond(cid2, 'approve', { number: number2 })).body).toEqual({ status: 'approved' });
    const done = await browser.go(`/interaction/${uid}/wait`);
    expect(done.url).toMatch(CALLBACK);
    expect((await w.tokens(done.url, verifier, state)).claims()!.amr).toEqual(['pwd', 'otp', 'swk', 'mfa']);
  });

  it('a page long-polling when the request expires is told "expired" at once, not after the long-poll time', async () => {
    await enroll(w, { now: clock.now });
    const { browser, uid } = await signedInToWaitingPage(w);
    clock.advance(14_500); // half a second of life left
    const started = Date.now();
    expect(await pushStatus(browser, uid, { wait: true })).toMatchObject({ status: 'expired', reason: 'expired' });
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
