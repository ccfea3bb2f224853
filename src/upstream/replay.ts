import { createHash } from 'node:crypto';
import type { Redis } from '../storage/redis.js';

/**
 * A hint offered: its first use (by `signInId`), replayed by another, or offered again by the sign-in
 * that used it (its page loaded twice at once: a reload, a prefetch), `msAgo` after the first use.
 */
export type HintUse = { kind: 'first' } | { kind: 'replayed' } | { kind: 'same-sign-in'; msAgo: number };

export interface UsedHints {
  /** How this offer of a hint stands, until the hint is too old to pass anyway (`rememberSeconds`). */
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
      const now = Date.now();
      if ((await redis.set(key, `${signInId} ${now}`, 'EX', Math.max(1, Math.ceil(rememberSeconds)), 'NX')) === 'OK') return { kind: 'first' };
      const [by, at] = ((await redis.get(key)) ?? '').split(' ');
      return by === signInId && at ? { kind: 'same-sign-in', msAgo: Math.max(0, now - Number(at)) } : { kind: 'replayed' };
    },
  };
}
