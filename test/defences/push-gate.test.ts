import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DEFAULT_PUSH_FATIGUE, pushFatigueDecision, type PushFatigueState } from '../../src/defences/push-fatigue.js';
import { createPushFatigueStore, type PushFatigueStore, type PushReservation } from '../../src/defences/push-fatigue-store.js';
import { canSendPush, PUSH_MAX_PER_SIGNIN, PUSH_RESEND_MIN_INTERVAL_MS } from '../../src/signin/limits.js';
import { createSignInStateStore, SIGNIN_COUNTERS, signInKey } from '../../src/signin/state.js';
import { openRedis, type Redis } from '../../src/storage/redis.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/env.js';

/**
 * The push gate: one script decides a push per sign-in ("Send again" count and spacing) then per
 * account (mute, limit, forced number matching) and records it. It must decide as the pure
 * canSendPush and pushFatigueDecision do (the specification), on real Redis and on the stand-in,
 * and parallel pushes must see the ones before them (push bombing in parallel).
 */
const T = 1_800_000_000_000;
const policy = DEFAULT_PUSH_FATIGUE;

/** The specification: the sign-in's limits first, then the account's. */
function expected(signIn: { count: number; lastAt: number | null }, account: PushFatigueState, now: number): PushReservation {
  const s = canSendPush(signIn, now);
  if (!s.ok) return { allow: false, reason: s.reason, retryAfterMs: s.reason === 'too_soon' ? PUSH_RESEND_MIN_INTERVAL_MS - (now - signIn.lastAt!) : 0 };
  const a = pushFatigueDecision(account, policy, now);
  return a.allow ? a : { allow: false, reason: a.reason, retryAfterMs: a.retryAfterMs };
}

const rows: [string, { count: number; lastAt: number | null }, PushFatigueState][] = [
  ['a fresh sign-in and account', { count: 0, lastAt: null }, { unapproved: [], mutedUntil: null }],
  ['one push, 3 s ago', { count: 1, lastAt: T - 3000 }, { unapproved: [T - 3000], mutedUntil: null }],
  ['one push, 10 s ago', { count: 1, lastAt: T - 10_000 }, { unapproved: [T - 10_000], mutedUntil: null }],
  ['five pushes on this sign-in', { count: PUSH_MAX_PER_SIGNIN, lastAt: T - 60_000 }, { unapproved: [], mutedUntil: null }],
  ['a muted account', { count: 0, lastAt: null }, { unapproved: [], mutedUntil: T + 60_000 }],
  ['a mute that ran out', { count: 0, lastAt: null }, { unapproved: [], mutedUntil: T }],
  ['two unapproved: number matching forced', { count: 0, lastAt: null }, { unapproved: [T - 50_000, T - 20_000], mutedUntil: null }],
  ['five unapproved: the limit', { count: 0, lastAt: null }, { unapproved: [T - 90_000, T - 80_000, T - 70_000, T - 60_000, T - 50_000, T - 40_000], mutedUntil: null }],
  ['unapproved pushes older than the window', { count: 0, lastAt: null }, { unapproved: [T - policy.windowMs, T - policy.windowMs - 1, T - 400_000], mutedUntil: null }],
];

describe.each(['real', 'standin'] as const)('push gate on Redis (%s)', (kind) => {
  let redis: Redis;
  let fatigue: PushFatigueStore;
  const signins = () => createSignInStateStore(redis);
  beforeAll(() => {
    redis = openRedis(kind === 'real' ? TEST_REDIS_URL : null, uniquePrefix('pushgate'));
    fatigue = createPushFatigueStore(redis, policy);
  });
  afterAll(() => redis.quit());

  const counters = (uid: string, owner: string) => ({
    key: signInKey(uid), owner, countField: SIGNIN_COUNTERS.pushes, lastField: SIGNIN_COUNTERS.lastPushAt,
    max: PUSH_MAX_PER_SIGNIN, minIntervalMs: PUSH_RESEND_MIN_INTERVAL_MS,
  });
  const newSignIn = async (uid: string, accountId: string) =>
    signins().put(uid, { accountId, firstFactor: { method: 'pwd', at: T }, challengeId: null }, 600);

  it.each(rows)('decides and records as the specification: %s', async (name, signIn, account) => {
    const acct = `acct-${name}`;
    const uid = `uid-${name}`;
    await newSignIn(uid, acct);
    if (signIn.count) await redis.hset(signInKey(uid), SIGNIN_COUNTERS.pushes, String(signIn.count));
    if (signIn.lastAt !== null) await redis.hset(signInKey(uid), SIGNIN_COUNTERS.lastPushAt, String(signIn.lastAt));
    for (const [i, t] of account.unapproved.entries()) await redis.zadd(`pf:sent:${acct}`, t, `old-${i}`);
    if (account.mutedUntil !== null) await redis.set(`pf:mute:${acct}`, String(account.mutedUntil), 'PX', 3_600_000);

    const want = expected(signIn, account, T);
    expect(await fatigue.reserve(acct, 'new-challenge', T, counters(uid, acct))).toEqual(want);
    const recorded = await redis.zscore(`pf:sent:${acct}`, 'new-challenge');
    expect(recorded).toBe(want.allow ? String(T) : null);
    expect(await redis.hget(signInKey(uid), SIGNIN_COUNTERS.pushes)).toBe(want.allow ? String(signIn.count + 1) : signIn.count ? String(signIn.count) : null);
  });

  it('a sign-in that ended (or changed account) sends nothing', async () => {
    await newSignIn('uid-gone', 'acct-a');
    expect(await fatigue.reserve('acct-b', 'c1', T, counters('uid-gone', 'acct-b'))).toMatchObject({ allow: false, reason: 'gone' });
    await signins().delete('uid-gone');
    expect(await fatigue.reserve('acct-a', 'c2', T, counters('uid-gone', 'acct-a'))).toMatchObject({ allow: false, reason: 'gone' });
  });

  it('20 parallel pushes from 20 sign-ins of one account: the limit holds, and all but the first few carry number matching', async () => {
    const uids = Array.from({ length: 20 }, (_, i) => `par-${i}`);
    for (const uid of uids) await newSignIn(uid, 'acct-par');
    const results = await Promise.all(uids.map((uid, i) => fatigue.reserve('acct-par', `c-${i}`, T, counters(uid, 'acct-par'))));
    const sent = results.filter((r) => r.allow);
    expect(sent).toHaveLength(policy.limit);
    expect(sent.filter((r) => !r.forceNumberMatching)).toHaveLength(policy.forceMatchAfter);
    expect(results.filter((r) => !r.allow && r.reason === 'limit')).toHaveLength(20 - policy.limit);
  });

  it('20 parallel pushes from one sign-in: one is sent, the rest are too soon', async () => {
    await newSignIn('par-one', 'acct-one');
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => fatigue.reserve('acct-one', `c-${i}`, T, counters('par-one', 'acct-one'))));
    expect(results.filter((r) => r.allow)).toHaveLength(1);
    expect(results.filter((r) => !r.allow && r.reason === 'too_soon')).toHaveLength(19);
  });
});
