import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ACCOUNT_POLICY, throttleDecision } from '../../src/defences/throttle.js';
import { PushWorld } from '../support/push-world.js';

/**
 * An attacker guessing passwords: per-account and per-IP throttling with a growing delay and a
 * temporary lockout, the same answer (and the same time) for unknown and known users.
 */
describe('throttle decision', () => {
  const p = ACCOUNT_POLICY;
  it('lets the first failures through, then delays with a doubling wait, then locks', () => {
    expect(throttleDecision(null, p, 0)).toEqual({ allowed: true });
    expect(throttleDecision({ failures: 2, lastFailureAt: 0 }, p, 1)).toEqual({ allowed: true });
    expect(throttleDecision({ failures: 3, lastFailureAt: 0 }, p, 500)).toEqual({ allowed: false, retryAfterMs: 500, reason: 'delay' });
    expect(throttleDecision({ failures: 3, lastFailureAt: 0 }, p, 1000)).toEqual({ allowed: true });
    expect(throttleDecision({ failures: 5, lastFailureAt: 0 }, p, 1000)).toEqual({ allowed: false, retryAfterMs: 3000, reason: 'delay' });
    expect(throttleDecision({ failures: 7, lastFailureAt: 0 }, p, 0)).toMatchObject({ allowed: false, retryAfterMs: 16_000 });
    expect(throttleDecision({ failures: 9, lastFailureAt: 0 }, p, 0)).toMatchObject({ allowed: false, retryAfterMs: p.maxDelayMs });
    expect(throttleDecision({ failures: 10, lastFailureAt: 0 }, p, 60_000)).toEqual({ allowed: false, retryAfterMs: p.lockoutMs - 60_000, reason: 'lockout' });
    expect(throttleDecision({ failures: 10, lastFailureAt: 0 }, p, p.lockoutMs)).toEqual({ allowed: true });
  });
});

describe('password guessing against the login page', () => {
  let w: PushWorld;
  let clock = Date.now();
  beforeAll(async () => { w = await PushWorld.start({ idp: { storage: 'postgres', idp: { now: () => clock } } }); });
  afterAll(() => w.close());

  const attempt = async (username: string, password: string) => {
    const s = await w.startSignIn({ username, password });
    return { status: s.next.res.status, message: (s.next.body.match(/<p class="alert"[^>]*>([\s\S]*?)<\/p>/)?.[1] ?? '').replace(/<[^>]+>/g, '') };
  };

  it('slows down, then locks an account, even for the right password, and says the same for an unknown user', async () => {
    for (const username of ['alice', 'ghost']) {
      for (let i = 0; i < 3; i++) expect((await attempt(username, 'wrong guess!')).status).toBe(401);
      const blocked = await attempt(username, username === 'alice' ? PushWorld.password : 'wrong guess!');
      expect(blocked.status).toBe(429);
      // "Wait 1 second", "Wait 2 seconds": the plural follows the number (issue 16, item 4).
      expect(blocked.message).toMatch(/Wait (?:1 second|(?:[02-9]|\d\d+) seconds) and try again/);
    }
    clock += 1500;
    // After the wait the right password works and resets the count.
    const ok = await w.startSignIn();
    expect(ok.next.url).toMatch(/\/cb\?code=/);

    for (let i = 0; i < 10; i++) {
      clock += 31_000;
      expect((await attempt('alice', 'wrong guess!')).status).toBe(401);
    }
    const locked = await attempt('alice', PushWorld.password);
    expect(locked.status).toBe(429);
    expect(locked.message).toMatch(/locked for 15 minutes/);
    clock += 15 * 60_000;
    expect((await w.startSignIn()).next.url).toMatch(/\/cb\?code=/);
  });

  it('costs an unknown user about as much time as a known one (a dummy hash is checked)', async () => {
    const time = async (username: string) => {
      const runs: number[] = [];
      for (let i = 0; i < 5; i++) {
        clock += 60_000;
        const t0 = performance.now();
        await attempt(username, `wrong password ${i}`);
        runs.push(performance.now() - t0);
      }
      return runs.sort((a, b) => a - b)[2]!;
    };
    await time('alice'); // warm-up
    const known = await time('alice');
    const unknown = await time(`nobody-${Date.now()}`);
    expect(unknown / known).toBeGreaterThan(0.4);
    expect(unknown / known).toBeLessThan(2.5);
  });
});
