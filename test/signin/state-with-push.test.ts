import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createRedisChallengeStore, type RedisChallengeStore } from '../../src/challenge/redis-store.js';
import { challengeLink, createSignInStateStore, type SignInStateStore } from '../../src/signin/state.js';
import { openRedis, type Redis } from '../../src/storage/redis.js';
import { dropAndQuit, makeChallenge } from '../support/challenge-redis.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/env.js';

/*
 * The waiting page, its long-poll and the finishing page read a sign-in's state and its push in one
 * script (signin/state.ts getWithPush): what it answers must be what the two reads answered, under
 * the client's key prefix, on real Redis and on the in-process stand-in (which prefixes keys inside
 * Lua itself).
 */
const T0 = 1_764_370_000_000;

describe.each(['real', 'standin'] as const)('sign-in state with its push, one read (%s)', (kind) => {
  let redis: Redis;
  let states: SignInStateStore;
  let challenges: RedisChallengeStore;

  beforeAll(() => {
    redis = openRedis(kind === 'real' ? TEST_REDIS_URL : null, uniquePrefix('statepush'));
    states = createSignInStateStore(redis);
    challenges = createRedisChallengeStore(redis);
  });
  afterAll(async () => {
    await dropAndQuit(redis);
  });

  const first = { accountId: 'acct-alice', firstFactor: { method: 'pwd' as const, at: T0 } };

  it('answers null for a sign-in that has no state', async () => {
    expect(await states.getWithPush('no-such-sign-in', T0)).toBeNull();
  });

  it('answers the state and no challenge before any push', async () => {
    await states.begin('s-none', first, 60);
    expect(await states.getWithPush('s-none', T0)).toEqual({ state: { ...first, challengeId: null }, challenge: null });
  });

  it('answers the challenge the state points at, as the challenge store reads it, pending and then resolved', async () => {
    await states.begin('s-push', first, 60);
    const ch = makeChallenge({ now: T0, signInId: 's-push' });
    await challenges.create(ch, challengeLink('s-push', { ...first, challengeId: ch.id }, 60));
    const before = await states.getWithPush('s-push', T0 + 1);
    expect(before?.state).toEqual({ ...first, challengeId: ch.id });
    expect(before?.challenge).toEqual(await challenges.get(ch.id, T0 + 1));
    expect(before?.challenge?.status).toBe('pending');
    const resolution = { status: 'approved' as const, deviceId: 'dev_1', decision: 'approve' as const, reason: null, amr: ['otp', 'swk'], at: T0 + 2 };
    expect(await challenges.resolve(ch.id, resolution, T0 + 2)).toBe('resolved');
    const after = await states.getWithPush('s-push', T0 + 3);
    expect(after?.challenge?.status).toBe('approved');
    expect(after?.challenge?.resolution).toEqual(resolution);
    // Past its expiry a pending one reads as expired, as get() reads it.
    const late = makeChallenge({ now: T0, signInId: 's-late', ttlMs: 60_000 });
    await states.begin('s-late', first, 60);
    await challenges.create(late, challengeLink('s-late', { ...first, challengeId: late.id }, 60));
    expect((await states.getWithPush('s-late', late.expiresAt + 1))?.challenge?.status).toBe('expired');
  });

  // A page reads its interaction with the state (readBeside: the key beside it, under the same
  // prefix); what it answers for the state is what getWithPush answers, and the key's value is
  // given whether or not there is a state.
  it('reads a key beside the state and its push: its value, null when missing, undefined when not a string', async () => {
    await states.begin('s-beside', first, 60);
    const ch = makeChallenge({ now: T0, signInId: 's-beside' });
    await challenges.create(ch, challengeLink('s-beside', { ...first, challengeId: ch.id }, 60));
    await redis.set('front:s-beside', '{"uid":"s-beside","x":"a \\"quoted\\" {value}"}', 'EX', 60);
    const both = await states.readBeside('s-beside', T0 + 1, 'front:s-beside');
    expect(both).toEqual({ found: await states.getWithPush('s-beside', T0 + 1), beside: '{"uid":"s-beside","x":"a \\"quoted\\" {value}"}' });
    expect(both.found?.challenge?.id).toBe(ch.id);
    expect(await states.readBeside('s-beside', T0 + 1, 'front:none')).toEqual({ found: both.found, beside: null });
    await redis.set('front:alone', 'x', 'EX', 60);
    expect(await states.readBeside('no-such-sign-in', T0, 'front:alone')).toEqual({ found: null, beside: 'x' });
    await redis.hset('front:hash', 'payload', '{}');
    await redis.expire('front:hash', 60);
    expect(await states.readBeside('s-beside', T0 + 1, 'front:hash')).toEqual({ found: both.found, beside: undefined });
    // Never a take: an approved push leaves the state where it was.
    await challenges.resolve(ch.id, { status: 'approved', deviceId: 'dev_1', decision: 'approve', reason: null, amr: ['otp'], at: T0 + 2 }, T0 + 2);
    expect((await states.readBeside('s-beside', T0 + 3, 'front:none')).found?.taken).toBeUndefined();
    expect(await states.getWithPush('s-beside', T0 + 3)).not.toBeNull();
  });

  // The page that finishes the sign-in takes the state with its read once the push is approved
  // (one script: of parallel finishing requests one gets it); before that, and for a push that is
  // not this sign-in's, the read takes nothing.
  it('takes the state with the read only when asked and the push is this sign-in\'s and approved', async () => {
    const approve = { status: 'approved' as const, deviceId: 'dev_1', decision: 'approve' as const, reason: null, amr: ['otp', 'swk'], at: T0 + 2 };
    await states.begin('s-take', first, 60);
    const ch = makeChallenge({ now: T0, signInId: 's-take' });
    await challenges.create(ch, challengeLink('s-take', { ...first, challengeId: ch.id }, 60));
    expect((await states.getWithPush('s-take', T0 + 1, { takeIfApproved: true }))?.taken).toBeUndefined();
    expect(await challenges.resolve(ch.id, approve, T0 + 2)).toBe('resolved');
    expect((await states.getWithPush('s-take', T0 + 3))?.taken).toBeUndefined();
    expect(await states.get('s-take')).not.toBeNull();
    const taken = await states.getWithPush('s-take', T0 + 3, { takeIfApproved: true });
    expect(taken).toMatchObject({ state: { ...first, challengeId: ch.id }, taken: true, challenge: { id: ch.id, status: 'approved' } });
    expect(await states.get('s-take')).toBeNull();
    expect(await states.getWithPush('s-take', T0 + 4, { takeIfApproved: true })).toBeNull();

    // An approved push made for another sign-in, or another account, takes nothing.
    for (const [id, made] of [['s-other', { signInId: 's-elsewhere' }], ['s-acct', { signInId: 's-acct', accountId: 'acct-mallory' }]] as const) {
      await states.begin(id, first, 60);
      const other = makeChallenge({ now: T0, ...made });
      await challenges.create(other);
      await states.put(id, { ...first, challengeId: other.id }, 60);
      expect(await challenges.resolve(other.id, approve, T0 + 2)).toBe('resolved');
      expect((await states.getWithPush(id, T0 + 3, { takeIfApproved: true }))?.taken).toBeUndefined();
      expect(await states.get(id)).not.toBeNull();
    }
  });

  it('answers no challenge when the one the state points at is gone', async () => {
    await states.put('s-gone', { ...first, challengeId: 'ch_gone_0123456789' }, 60);
    expect(await states.getWithPush('s-gone', T0)).toEqual({ state: { ...first, challengeId: 'ch_gone_0123456789' }, challenge: null });
  });
});
