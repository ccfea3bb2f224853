import { createHash } from 'node:crypto';
import type { Redis } from '../storage/redis.js';

export interface UsedHints {
  /** True the first time a hint is offered, false ever after (until it is too old to pass anyway). */
  firstUse(hint: string, rememberSeconds: number): Promise<boolean>;
}

/**
 * What makes a hint the same hint: its signed content (protected header and payload), not its
 * signature's spelling. A JWS's signature can be written several ways that verify alike (the
 * spare bits of the last base64url character; an ECDSA signature's (r, n - s) twin), so keyed on
 * the whole token one hint passed four times (red-team). The payload is the issuer's: only the
 * issuer can make another.
 */
export function hintIdentity(hint: string): string {
  const dot = hint.indexOf('.');
  const second = dot < 0 ? -1 : hint.indexOf('.', dot + 1);
  return second < 0 ? hint : hint.slice(0, second);
}

/**
 * Each used hint, by SHA-256 of its signed content, in Redis (SET NX: one atomic step, so of two
 * parallel requests with one hint exactly one gets through) for as long as the hint would still
 * pass the age check.
 */
export function createUsedHints(redis: Redis): UsedHints {
  return {
    async firstUse(hint, rememberSeconds) {
      const key = `uh:${createHash('sha256').update(hintIdentity(hint)).digest('base64url')}`;
      return (await redis.set(key, '1', 'EX', Math.max(1, Math.ceil(rememberSeconds)), 'NX')) === 'OK';
    },
  };
}
