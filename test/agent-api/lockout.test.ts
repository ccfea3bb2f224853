import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ACCOUNT_POLICY } from '../../src/defences/throttle.js';
import type { PushWorld } from '../support/push-world.js';
import { auditEvents, movableClock } from '../signin/helpers.js';
import { authenticate, freshIp, freshUser, PASSWORD, startAgentWorld } from './helpers.js';

/**
 * Guards: password guessing through a gateway meets the same counters as the login page
 * (src/defences/throttle.ts, ACCOUNT_POLICY, counted by the sign-in core): a growing delay, then a
 * 15-minute lockout, seen alike by the agent API and the browser sign-in, whichever door the
 * guesses came through and from whichever address.
 */
describe('agent API: lockout shared with the login page', () => {
  const clock = movableClock();
  let w: PushWorld;
  beforeAll(async () => { w = await startAgentWorld({ now: clock.now }); });
  afterAll(() => w.close());

  it('guesses through the gateway lock the account: 429 with Retry-After, and the login page refuses the right password too', async () => {
    const { username, accountId } = await freshUser(w);
    // Each guess from a new address: the account's own count is what locks.
    for (let i = 0; i < ACCOUNT_POLICY.lockoutAfter; i++) {
      const res = await authenticate(w, { username, password: `guess ${i}`, client_ip: freshIp() });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: 'access_denied' });
      clock.advance(ACCOUNT_POLICY.maxDelayMs + 1000); // past any delay, never past the window
    }
    expect((await auditEvents(w, 'signin.failure')).filter((e) => e.account_id === accountId)).toHaveLength(ACCOUNT_POLICY.lockoutAfter);

    // Locked now: even the right password is refused, and not checked.
    const locked = await authenticate(w, { username, password: PASSWORD, client_ip: freshIp() });
    expect(locked.status).toBe(429);
    expect(locked.body).toMatchObject({ error: 'rate_limited' });
    const retryAfter = Number(locked.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(ACCOUNT_POLICY.maxDelayMs / 1000);
    expect(retryAfter).toBeLessThanOrEqual(ACCOUNT_POLICY.lockoutMs / 1000);

    // The login page of a relying app sees the very same lockout.
    const page = await w.startSignIn({ username });
    expect(page.next.res.status).toBe(429);
    expect(page.next.body).toContain('Sign-in is locked');

    // Past the lockout, the right password works again through the gateway.
    clock.advance(ACCOUNT_POLICY.lockoutMs + 1000);
    const after = await authenticate(w, { username, password: PASSWORD, passcode: '', client_ip: freshIp(), wait: 1 });
    expect(after.body).toMatchObject({ error: 'timeout' }); // the password passed; the push went unanswered
  });

  it('failures at the login page count for the gateway too', async () => {
    const { username } = await freshUser(w);
    for (let i = 0; i < ACCOUNT_POLICY.freeFailures; i++) {
      const page = await w.startSignIn({ username, password: `page guess ${i}` });
      expect(page.next.res.status).toBe(401);
    }
    const res = await authenticate(w, { username, password: PASSWORD, client_ip: freshIp() });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
