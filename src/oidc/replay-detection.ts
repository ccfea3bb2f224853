import { createHash } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { Redis } from '../storage/redis.js';
import { storageKey } from './adapters.js';

/**
 * oidc-provider's ReplayDetection (client assertions' and DPoP proofs' `jti`) as one atomic step.
 * Its own `unique` reads the marker and then writes it, two Redis round trips apart: of copies of one
 * assertion or proof sent at once, several read "unused" and were all taken (red-team: 2 of 10
 * parallel copies of one private_key_jwt assertion answered 200, and one DPoP proof was taken more
 * than once at userinfo). Here the marker is set with SET NX, so exactly one copy wins.
 *
 * Its lifetime also came straight from the token's `exp`: a fractional `exp` (`now + 60.5`) or a
 * huge one (`1e17`) made Redis refuse the EX, and the request was a 500. It is now whole seconds,
 * at least one, and at most REPLAY_MAX_SECONDS: a token valid for longer than that is remembered
 * that long (a client signs such assertions with its own key; it cannot grow Redis without end).
 */
export const REPLAY_MAX_SECONDS = 366 * 24 * 3600;

/**
 * Kept this much longer than the expiry oidc-provider names. For a DPoP proof it names its first
 * use + 300 s, yet it takes a proof whose `iat` is up to 300 s ahead until that `iat` + 300 s
 * (red-team: a proof dated 290 s ahead was taken again 305 s after its first use, once its marker
 * had lapsed). RFC 9449 11.1: a jti is remembered as long as its proof would be accepted.
 */
export const REPLAY_MARGIN_SECONDS = 300;

/** Pure: how long to remember a `jti` whose token expires at `exp` (epoch seconds, as sent). */
export function replayTtlSeconds(exp: number, nowSeconds: number): number {
  if (!Number.isFinite(exp)) return REPLAY_MAX_SECONDS;
  return Math.min(REPLAY_MAX_SECONDS, Math.max(1, Math.ceil(exp - nowSeconds)) + REPLAY_MARGIN_SECONDS);
}

/** The marker's key: oidc-provider's id for it (SHA-256 of iss and jti), stored as every artefact's id is. */
export function replayKey(iss: string, jti: string): string {
  const id = createHash('sha256').update(`${iss}${jti}`).digest('base64url');
  return `oidc:ReplayDetection:${storageKey(id)}`;
}

export function useAtomicReplayDetection(provider: Provider, redis: Redis, now: () => number = Date.now): void {
  const model = (provider as unknown as { ReplayDetection: { unique: (iss: string, jti: string, exp: number) => Promise<boolean> } }).ReplayDetection;
  model.unique = async (iss, jti, exp) =>
    (await redis.set(replayKey(String(iss), String(jti)), '1', 'EX', replayTtlSeconds(Number(exp), now() / 1000), 'NX')) === 'OK';
}
