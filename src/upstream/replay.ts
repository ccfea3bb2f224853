import { createHash } from 'node:crypto';
import type { Redis } from '../storage/redis.js';

/** A hint offered: its first use (by `signInId`), again by the sign-in that used it, or replayed by another. */
export type HintUse = 'first' | 'same-sign-in' | 'replayed';

export interface UsedHints {
  /**
   * 'first' the first time a hint is offered, by the sign-in `signInId`; ever after (until it is too
   * old to pass anyway) 'same-sign-in' when that sign-in offers it again (its page loaded twice at
   * once: a reload, a prefetch), else 'replayed'.
   */
  use(hint: string, rememberSeconds: number, signInId: string): Promise<HintUse>;
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
 * pass the age check. The key holds the sign-in that used it: a second request of that sign-in is
 * told so (one more read, on that path only) rather than taken for a replay.
 */
export function createUsedHints(redis: Redis): UsedHints {
  return {
    async use(hint, rememberSeconds, signInId) {
      const key = `uh:${createHash('sha256').update(hintIdentity(hint)).digest('base64url')}`;
      if ((await redis.set(key, signInId, 'EX', Math.max(1, Math.ceil(rememberSeconds)), 'NX')) === 'OK') return 'first';
      return (await redis.get(key)) === signInId ? 'same-sign-in' : 'replayed';
    },
  };
}
