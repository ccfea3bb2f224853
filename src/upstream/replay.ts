import { createHash } from 'node:crypto';
import type { Redis } from '../storage/redis.js';

export interface UsedHints {
  /** True the first time a hint is offered, false ever after (until it is too old to pass anyway). */
  firstUse(hint: string, rememberSeconds: number): Promise<boolean>;
}

/**
 * Each used hint, by SHA-256, in Redis (SET NX: one atomic step, so of two parallel requests with
 * one hint exactly one gets through) for as long as the hint would still pass the age check.
 */
export function createUsedHints(redis: Redis): UsedHints {
  return {
    async firstUse(hint, rememberSeconds) {
      const key = `uh:${createHash('sha256').update(hint).digest('base64url')}`;
      return (await redis.set(key, '1', 'EX', Math.max(1, Math.ceil(rememberSeconds)), 'NX')) === 'OK';
    },
  };
}
