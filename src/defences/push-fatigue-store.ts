import type { Redis } from '../storage/redis.js';
import type { PushFatiguePolicy, PushFatigueState } from './push-fatigue.js';

/**
 * The account's push history in Redis, shared by every IdP process: a sorted set of the pushes
 * not (yet) approved, scored by send time, and a mute key with a TTL.
 */
export function createPushFatigueStore(redis: Redis, policy: PushFatiguePolicy) {
  const sent = (accountId: string) => `pf:sent:${accountId}`;
  const mute = (accountId: string) => `pf:mute:${accountId}`;
  return {
    policy,
    async state(accountId: string, now: number): Promise<PushFatigueState> {
      const [, [, members], [, mutedUntil]] = (await redis.multi()
        .zremrangebyscore(sent(accountId), '-inf', now - policy.windowMs)
        .zrange(sent(accountId), 0, -1, 'WITHSCORES')
        .get(mute(accountId))
        .exec()) as [unknown, [unknown, string[]], [unknown, string | null]];
      const unapproved = members.filter((_, i) => i % 2 === 1).map(Number);
      return { unapproved, mutedUntil: mutedUntil ? Number(mutedUntil) : null };
    },
    /** A push went out: it counts until it is approved. */
    async recordSent(accountId: string, challengeId: string, now: number): Promise<void> {
      await redis.multi().zadd(sent(accountId), now, challengeId).pexpire(sent(accountId), policy.windowMs).exec();
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
