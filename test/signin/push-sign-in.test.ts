import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { matchNumberOf, PushWorld } from '../support/push-world.js';

/**
 * The heart of the product, end to end: password, push through the local push-service double
 * (VAPID verified, aes128gcm decrypted), the simulated phone approves with a signed answer, the
 * waiting page continues, and openid-client gets tokens with an honest amr.
 */
describe('push sign-in', () => {
  let w: PushWorld;
  // The embedded default (PGlite), end to end: other worlds run on the PostgreSQL server.
  beforeAll(async () => { w = await PushWorld.start({ idp: { storage: 'pglite' } }); });
  afterAll(() => w.close());

  it('approving the push signs the user in with amr pwd otp swk mfa', async () => {
    const { phone, subscription } = await w.enrollPhone();
    const { browser, next, uid, verifier, state } = await w.startSignIn();
    expect(next.url).toMatch(/\/second-factor$/);
    expect(next.body).toContain('Send a push to my phone');
    const wait = await browser.submit(next.body, /\/push$/, {});
    expect(wait.url).toMatch(/\/wait$/);
    const number = matchNumberOf(wait.body);
    expect(number).toBeGreaterThanOrEqual(10);
    expect(wait.body).toContain('Enter a passcode instead');

    const message = await w.pushService.waitForMessage(subscription!.id, 5000);
    expect(message.payload).toMatchObject({ type: 'challenge', app: 'Test RP', issuer: w.t.url, deviceId: phone.deviceId, numberMatching: true });
    expect(message.headers.urgency).toBe('high');
    expect(Number(message.headers.ttl)).toBeGreaterThan(100);
    expect(Number(message.headers.ttl)).toBeLessThanOrEqual(120);
    // The push grants nothing: no nonce, no number to match.
    expect(Object.keys(message.payload as object)).not.toEqual(expect.arrayContaining(['nonce']));
    expect(Object.keys(message.payload as object)).not.toEqual(expect.arrayContaining(['matchNumber']));

    const cid = (message.payload as { cid: string }).cid;
    const seen = await phone.challenge(cid);
    expect(seen.numberChoices).toContain(number);
    expect(seen.numberChoices).toHaveLength(3);

    // The page is waiting (long-poll) when the approval lands; it wakes at once.
    const waiting = browser.request(`/interaction/${uid}/push/status`, { headers: { accept: 'application/json' } });
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    expect((await phone.respond(cid, 'approve', { number: number! })).status).toBe(200);
    const answer = await waiting;
    // Held outside the middleware chain, the answer still carries the headers every response has.
    expect(answer.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
    expect(answer.headers.get('x-frame-options')).toBe('DENY');
    const status = await answer.json() as { status: string; next: string };
    expect(status.status).toBe('approved');
    expect(Date.now() - started).toBeLessThan(1000);

    const done = await browser.go(status.next);
    expect(done.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
    const tokens = await w.tokens(done.url, verifier, state);
    expect(tokens.claims()!.amr).toEqual(['pwd', 'otp', 'swk', 'mfa']);
    expect(tokens.claims()!.acr).toBe('urn:pushotp:acr:mfa');
    expect(tokens.claims()!.sub).toBe(w.accountId);
  });

  it('a typed passcode signs in with amr pwd otp mfa, and the same passcode does not work twice', async () => {
    const { phone } = await w.enrollPhone({ push: false });
    const first = await w.startSignIn();
    const page = await first.browser.go(`/interaction/${first.uid}/passcode`);
    const code = phone.currentTotp();
    const done = await first.browser.submit(page.body, /\/passcode$/, { passcode: code });
    expect(done.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
    const tokens = await w.tokens(done.url, first.verifier, first.state);
    expect(tokens.claims()!.amr).toEqual(['pwd', 'otp', 'mfa']);

    const second = await w.startSignIn();
    const again = await second.browser.go(`/interaction/${second.uid}/passcode`);
    const replay = await second.browser.submit(again.body, /\/passcode$/, { passcode: code });
    expect(replay.res.status).toBe(401);
    expect(replay.body).toContain('already used');
  });
});
