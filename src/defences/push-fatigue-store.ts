import type { Redis } from '../storage/redis.js';
import type { PushFatiguePolicy, PushFatigueState } from './push-fatigue.js';
import { redisScripts } from './redis-script.js';

/*
 * Reserve before send: one script decides and records a push, so the k-th of N parallel pushes
 * sees the k-1 before it (before it, 12 parallel sign-ins sent 12 pushes past a limit of 5, 11 of them without the
 * forced number matching, and one sign-in sent 5 in the same instant: test/security/push-bombing.race.test.ts).
 * It mirrors canSendPush (signin/limits.ts) on the sign-in's counters, then
 * pushFatigueDecision (push-fatigue.ts) on the account's history; those pure functions are the
 * specification, and a table test runs both over the same rows (test/defences/push-gate.test.ts).
 * KEYS: the sign-in hash (its 'acct' field names its account: SIGNIN_OWNER_FIELD in
 * signin/state.ts), the account's sent set, its mute key. ARGV: now, the sign-in's account,
 * its field names (count, last), its maximum and spacing, the account window, limit,
 * forceMatchAfter, and the new challenge's id.
 * Answers {1, 1 if number matching is forced else 0} or {0, reason, retryAfterMs}.
 */
const RESERVE_LUA = `
local now = tonumber(ARGV[1])
if redis.call('HGET', KEYS[1], 'acct') ~= ARGV[2] then return {0, 'gone', 0} end
local sent = tonumber(redis.call('HGET', KEYS[1], ARGV[3])) or 0
if sent >= tonumber(ARGV[5]) then return {0, 'too_many', 0} end
local last = tonumber(redis.call('HGET', KEYS[1], ARGV[4]))
if last and now - last < tonumber(ARGV[6]) then return {0, 'too_soon', tonumber(ARGV[6]) - (now - last)} end
local mutedUntil = tonumber(redis.call('GET', KEYS[3]))
if mutedUntil and mutedUntil > now then return {0, 'muted', mutedUntil - now} end
local window, limit = tonumber(ARGV[7]), tonumber(ARGV[8])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
local recent = redis.call('ZCARD', KEYS[2])
if recent >= limit then
  local oldest = redis.call('ZRANGE', KEYS[2], recent - limit, recent - limit, 'WITHSCORES')
  return {0, 'limit', tonumber(oldest[2]) + window - now}
end
redis.call('HINCRBY', KEYS[1], ARGV[3], 1)
redis.call('HSET', KEYS[1], ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[10])
redis.call('PEXPIRE', KEYS[2], window)
if recent >= tonumber(ARGV[9]) then return {1, 1} end
return {1, 0}
`;

/**
 * The account's pushes not (yet) approved: a sorted set, member = challenge id, score = when it was
 * sent. The challenge store's resolve script takes an approved one out (challenge/redis-store.ts).
 */
export const pushFatigueSentKey = (accountId: string): string => `pf:sent:${accountId}`;

/** The sign-in's own push counters (a hash owned by the sign-in, see signin/state.ts). */
export interface SignInPushCounters {
  key: string;
  owner: string;
  countField: string;
  lastField: string;
  max: number;
  minIntervalMs: number;
}

export type PushReservation =
  | { allow: true; forceNumberMatching: boolean }
  | { allow: false; reason: 'gone' | 'too_many' | 'too_soon' | 'muted' | 'limit'; retryAfterMs: number };

/**
 * The account's push history in Redis, shared by every IdP process: a sorted set of the pushes
 * not (yet) approved, scored by send time, and a mute key with a TTL.
 */
export function createPushFatigueStore(redis: Redis, policy: PushFatiguePolicy) {
  const sent = pushFatigueSentKey;
  const mute = (accountId: string) => `pf:mute:${accountId}`;
  const script = redisScripts(redis);
  return {
    policy,
    /**
     * Decides whether this push may go out (per sign-in, then per account) and, if so, records it
     * under the challenge id it will have, atomically.
     */
    async reserve(accountId: string, challengeId: string, now: number, signIn: SignInPushCounters): Promise<PushReservation> {
      const out = (await script('PushReserve', RESERVE_LUA, 3)(signIn.key, sent(accountId), mute(accountId),
        now, signIn.owner, signIn.countField, signIn.lastField, signIn.max, signIn.minIntervalMs,
        policy.windowMs, policy.limit, policy.forceMatchAfter, challengeId)) as (string | number)[];
      if (Number(out[0]) === 1) return { allow: true, forceNumberMatching: Number(out[1]) === 1 };
      return { allow: false, reason: String(out[1]) as 'gone', retryAfterMs: Number(out[2]) };
    },
    async state(accountId: string, now: number): Promise<PushFatigueState> {
      const [, [, members], [, mutedUntil]] = (await redis.multi()
        .zremrangebyscore(sent(accountId), '-inf', now - policy.windowMs)
        .zrange(sent(accountId), 0, -1, 'WITHSCORES')
        .get(mute(accountId))
        .exec()) as [unknown, [unknown, string[]], [unknown, string | null]];
      const unapproved = members.filter((_, i) => i % 2 === 1).map(Number);
      return { unapproved, mutedUntil: mutedUntil ? Number(mutedUntil) : null };
    },
    /** An approved push is the user's own sign-in: it no longer counts against them. */
    async forgive(accountId: string, challengeId: string): Promise<void> {
      await redis.zrem(sent(accountId), challengeId);
    },
    async mute(accountId: string, now: number): Promise<number> {
      const until = now + policy.muteMs;
      await redis.set(mute(accountId), String(until), 'PX', policy.muteMs);
      return until;
    },
    async unmute(accountId: string): Promise<boolean> {
      return (await redis.del(mute(accountId))) === 1;
    },
  };
}

export type PushFatigueStore = ReturnType<typeof createPushFatigueStore>;
