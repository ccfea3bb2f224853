import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createUsedHints } from '../../src/upstream/replay.js';
import { SAME_SIGN_IN_WAIT_MS, sameSignInStarted } from '../../src/interaction/upstream.js';
import type { Redis } from '../../src/storage/redis.js';
import { dropAndQuit, openTestRedis } from '../support/challenge-redis.js';

/**
 * One use of an upstream's hint (src/upstream/replay.ts), and the wait of a second request of the
 * sign-in that used it. Red-team (today's fixes): a hint naming an unknown user saves no sign-in
 * state, and each of thousands of parallel reloads of its page held 2 s and 47 Redis reads; the
 * wait now only runs within SAME_SIGN_IN_WAIT_MS of the hint's first use.
 */
describe.each(['real', 'stand-in'] as const)('used hints on %s Redis', (kind) => {
  let redis: Redis;
  beforeAll(() => { redis = openTestRedis(kind, 'used-hints'); });
  afterAll(() => dropAndQuit(redis));

  it('first use, the same sign-in again (with how long ago), any other sign-in replayed; the signature\'s spelling does not matter', async () => {
    const used = createUsedHints(redis);
    const hint = `h.${Math.random().toString(36).slice(2)}.sig`;
    expect(await used.use(hint, 60, 'sign-in-1')).toEqual({ kind: 'first' });
    await new Promise((r) => setTimeout(r, 30));
    const again = await used.use(`${hint}X`, 60, 'sign-in-1');
    expect(again).toEqual({ kind: 'same-sign-in', msAgo: expect.any(Number) });
    expect((again as { msAgo: number }).msAgo).toBeGreaterThanOrEqual(25);
    expect(await used.use(hint, 60, 'sign-in-2')).toEqual({ kind: 'replayed' });
    // A sign-in id that is a prefix of the first's is another sign-in.
    expect(await used.use(hint, 60, 'sign-in-')).toEqual({ kind: 'replayed' });
  });
});

describe('a second request of the sign-in that used the hint', () => {
  const reader = (answers: unknown[]) => {
    let reads = 0;
    return { read: async () => answers[Math.min(reads++, answers.length - 1)], reads: () => reads };
  };

  it('long after the first use, it reads the state once and does not wait', async () => {
    const r = reader([null]);
    expect(await sameSignInStarted(r.read, 'uid', SAME_SIGN_IN_WAIT_MS + 1)).toBe(false);
    expect(r.reads()).toBe(1);
  });

  it('right after it, it follows the first request once that saves the state', async () => {
    const r = reader([null, null, { accountId: 'acc' }]);
    expect(await sameSignInStarted(r.read, 'uid', 0)).toBe(true);
    expect(r.reads()).toBe(3);
  });

  it('right after it, a first request that saves no state ends the wait within the window', async () => {
    const r = reader([null]);
    expect(await sameSignInStarted(r.read, 'uid', SAME_SIGN_IN_WAIT_MS - 150)).toBe(false);
    expect(r.reads()).toBeLessThanOrEqual(3);
  });
});
