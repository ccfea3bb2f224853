import type { Redis } from '../storage/redis.js';

/**
 * Sessions made by a push approved without a number to match (an app with number matching off):
 * an app that wants number matching does not take them by single sign-on (red-team: a tired tap on
 * a push for the lax app, then the strict app's authorization in the same browser, gave the strict
 * app an `mfa` sign-in no number was matched for). Kept by account and sign-in time (the session's
 * loginTs) for the session's whole life; only such sign-ins write one, at their resume.
 */
const key = (accountId: string, loginTs: number) => `nm-off:${accountId}:${loginTs}`;

export async function markUnmatchedPush(redis: Redis, accountId: string, loginTs: number, ttlSeconds: number): Promise<void> {
  await redis.set(key(accountId, loginTs), '1', 'EX', Math.max(1, ttlSeconds));
}

export async function wasUnmatchedPush(redis: Redis, accountId: string, loginTs: number | undefined): Promise<boolean> {
  // A session without a sign-in time is asked again anyway (session-policy.ts): treat it as unmatched.
  return loginTs === undefined || (await redis.exists(key(accountId, loginTs))) === 1;
}
