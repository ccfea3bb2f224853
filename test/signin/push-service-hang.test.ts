import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { CALLBACK, enroll, pushStatus, sendPush, startWorld, waitUntil } from './helpers.js';

/**
 * Guards: push delivery is never on the sign-in's path. A push service that accepts the connection
 * and never answers must not slow the waiting page down, break the passcode, or take the process
 * with it (privacyIDEA's users met worker threads blocked by server-side waiting).
 */
describe('a push service that hangs', () => {
  let w: PushWorld;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => { unhandled.push(reason); };
  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    w = await startWorld();
  });
  afterAll(async () => {
    await w.close();
    process.off('unhandledRejection', onUnhandled);
  });

  it('the waiting page answers at once, the passcode works, and the IdP keeps serving', async () => {
    const { phone, subscription } = await enroll(w);
    w.pushService.force(subscription!.id, { hang: true, times: 10 });

    const { browser, next, uid, verifier, state } = await w.startSignIn();
    const started = Date.now();
    const wait = await sendPush(browser, next.body);
    const elapsed = Date.now() - started;
    expect(wait.res.status).toBe(200);
    expect(wait.url).toMatch(/\/wait$/);
    expect(matchNumberOf(wait.body)).not.toBeNull();
    expect(elapsed).toBeLessThan(1500); // the sender waits 5 s per attempt: it is not on this path

    // The push really is stuck at the push service while all this goes on.
    await waitUntil(async () => w.pushService.requests.some((r) => r.subscriptionId === subscription!.id && r.status === 'hang'), 3000, 'the hanging request');
    expect(await pushStatus(browser, uid)).toMatchObject({ status: 'pending' });
    const again = await browser.go(`/interaction/${uid}/wait`);
    expect(again.res.status).toBe(200);

    // Other requests are served meanwhile.
    const health = await fetch(`${w.t.url}/healthz`);
    expect(health.status).toBe(200);
    const other = await w.startSignIn();
    expect(other.next.url).toMatch(/\/second-factor$/);

    // The passcode signs in while the push is still hanging.
    const typed = await browser.go(`/interaction/${uid}/passcode`);
    const done = await browser.submit(typed.body, /\/passcode$/, { passcode: phone.currentTotp() });
    expect(done.url).toMatch(CALLBACK);
    expect((await w.tokens(done.url, verifier, state)).claims()!.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(w.pushService.requests.filter((r) => r.subscriptionId === subscription!.id).every((r) => r.status === 'hang')).toBe(true);
    expect(unhandled).toEqual([]);
  });
});
