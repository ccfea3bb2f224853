import type { Redis } from '../storage/redis.js';
import { throttleDecision, type ThrottleDecision, type ThrottlePolicy, type ThrottleState } from './throttle.js';

/** Failure counters in Redis (shared by every IdP process), one hash per account or IP. */
export function createThrottle(redis: Redis, now: () => number) {
  const read = async (key: string): Promise<ThrottleState | null> => {
    const [failures, last] = await redis.hmget(key, 'f', 'l');
    return failures ? { failures: Number(failures), lastFailureAt: Number(last) } : null;
  };
  return {
    async check(keys: { key: string; policy: ThrottlePolicy }[]): Promise<ThrottleDecision> {
      let worst: ThrottleDecision = { allowed: true };
      for (const { key, policy } of keys) {
        const d = throttleDecision(await read(key), policy, now());
        if (!d.allowed && (worst.allowed || d.retryAfterMs > worst.retryAfterMs)) worst = d;
      }
      return worst;
    },
    async fail(keys: { key: string; policy: ThrottlePolicy }[]): Promise<void> {
      const t = now();
      await Promise.all(keys.map(async ({ key, policy }) => {
        const state = await read(key);
        // A failure long after the last one starts a new count; otherwise count atomically, so
        // concurrent guesses cannot slip under the limit.
        const multi = redis.multi();
        if (state && t - state.lastFailureAt > policy.windowMs && state.failures < policy.lockoutAfter) multi.del(key);
        await multi.hincrby(key, 'f', 1).hset(key, 'l', String(t)).pexpire(key, policy.windowMs + policy.lockoutMs).exec();
      }));
    },
    async reset(key: string): Promise<void> {
      await redis.del(key);
    },
  };
}

export type Throttle = ReturnType<typeof createThrottle>;
