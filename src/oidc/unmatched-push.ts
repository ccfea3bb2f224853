import type { Redis } from '../storage/redis.js';

/**
 * Sessions made by a push approved without a number to match (an app with number matching off),
 * or with a number picked among choices rather than typed (an app with Verified Push off): an app
 * that wants number matching, or Verified Push, does not take them by single sign-on (red-team: a
 * tired tap on a push for the lax app, then the strict app's authorization in the same browser,
 * gave the strict app an `mfa` sign-in no number was matched for; a 1-in-3 pick did the same for a
 * Verified Push app). Kept by account and sign-in time (the session's loginTs) for the session's
 * whole life, in one key (one slot under Redis Cluster): '1' for no number, 'picked' for a number
 * picked; only such sign-ins write one, at their resume.
 */
const key = (accountId: string, loginTs: number) => `nm-off:${accountId}:${loginTs}`;
const VALUE = { none: '1', picked: 'picked' } as const;

export async function markUnmatchedPush(redis: Redis, accountId: string, loginTs: number, ttlSeconds: number, match: 'none' | 'picked' = 'none'): Promise<void> {
  const ttl = Math.max(1, ttlSeconds);
  // Two sign-ins of one account in one second share the key: 'picked' never replaces 'none' (the stricter stands).
  if (match === 'picked') await redis.set(key(accountId, loginTs), VALUE.picked, 'EX', ttl, 'NX');
  else await redis.set(key(accountId, loginTs), VALUE.none, 'EX', ttl);
}

/** How the push of a session's sign-in was matched: no number, a number picked, or typed (or no push: nothing kept). One round trip. */
export async function pushMatchOf(redis: Redis, accountId: string, loginTs: number | undefined): Promise<'none' | 'picked' | 'typed'> {
  // A session without a sign-in time is asked again anyway (session-policy.ts): treat it as unmatched.
  if (loginTs === undefined) return 'none';
  const kept = await redis.get(key(accountId, loginTs));
  return kept === null ? 'typed' : kept === VALUE.picked ? 'picked' : 'none';
}
