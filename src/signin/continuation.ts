import { sha256b64url, randomToken, safeEqual } from '../crypto/hash.js';
import type { Redis } from '../storage/redis.js';

/**
 * One-time continuation tokens for front doors without cookies: a RADIUS Access-Challenge's State
 * (RFC 2865 5.24) names the sign-in its answer continues. A token is random (192 bits), bound to
 * who may use it (the door's binding: for RADIUS the client and the user name), lives as long as
 * the sign-in, and is spent by its first use, right or wrong, atomically (GETDEL): a replayed
 * State finds nothing. Stored under SHA-256 of the token, so Redis holds nothing a request could
 * present (STYLE.md 7).
 */
export interface ContinuationStore {
  /** A fresh token for this sign-in, usable once by `binding`, for `ttlSeconds`. */
  issue(signInId: string, binding: string, ttlSeconds: number): Promise<string>;
  /** The sign-in the token names when `binding` matches; the token is spent either way. */
  take(token: string, binding: string): Promise<string | null>;
  /**
   * A taken token made usable again, for the same sign-in and binding: its request was cut short
   * with nothing answered (the server stopping), so the caller's retry at another server goes on
   * with the same sign-in. Never over a token that exists.
   */
  giveBack(token: string, signInId: string, binding: string, ttlSeconds: number): Promise<void>;
}

const TOKEN_BYTES = 24;
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{32}$/;
const keyOf = (token: string) => `cont:${sha256b64url(token)}`;

export function createContinuationStore(redis: Redis): ContinuationStore {
  return {
    async issue(signInId, binding, ttlSeconds) {
      const token = randomToken(TOKEN_BYTES);
      await redis.set(keyOf(token), JSON.stringify({ signInId, binding }), 'EX', Math.max(1, Math.ceil(ttlSeconds)));
      return token;
    },
    async take(token, binding) {
      if (!TOKEN_SHAPE.test(token)) return null;
      const raw = await redis.getdel(keyOf(token));
      if (!raw) return null;
      const stored = JSON.parse(raw) as { signInId: string; binding: string };
      return safeEqual(stored.binding, binding) ? stored.signInId : null;
    },
    async giveBack(token, signInId, binding, ttlSeconds) {
      if (!TOKEN_SHAPE.test(token)) return;
      await redis.set(keyOf(token), JSON.stringify({ signInId, binding }), 'EX', Math.max(1, Math.ceil(ttlSeconds)), 'NX');
    },
  };
}
