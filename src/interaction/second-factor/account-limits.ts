import type { Redis } from '../../storage/redis.js';

/**
 * Pushes per account, across sign-ins. Starting a new sign-in (or posting the password again on the
 * same page) costs nothing, so the per-sign-in limits of limits.ts alone do not stop someone who has
 * the password from bombing the user's phone. (Passcode guessing is throttled per account with the
 * password's throttle, in passcode.ts.)
 */
export interface AccountLimit {
  max: number;
  windowMs: number;
}

/** Pushes one account receives: at most 10 in 10 minutes (PingID "limit push": 5 in 5 minutes). */
export const ACCOUNT_PUSH_LIMIT: AccountLimit = { max: 10, windowMs: 10 * 60_000 };

// The window starts at the first count; INCRBY and PEXPIRE in one script so a counter always expires.
const COUNT_LUA = `
local n = redis.call('INCRBY', KEYS[1], ARGV[2])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
`;

/** Adds `add` (0 to only read) to the account's counter; returns the count in the current window. */
export async function countForAccount(redis: Redis, key: string, limit: AccountLimit, add: 0 | 1): Promise<number> {
  return Number(await redis.eval(COUNT_LUA, 1, key, limit.windowMs, add));
}

export const pushCounterKey = (accountId: string) => `acctlimit:push:${accountId}`;
