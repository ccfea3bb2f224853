import type { Redis } from '../storage/redis.js';
import { redisScripts } from '../defences/redis-script.js';

/**
 * Where a sign-in stands, kept in Redis next to oidc-provider's interaction (same uid, same life):
 * the first factor is a separate step from the second, and either may come from elsewhere later
 * (a trusted upstream assertion instead of a password).
 */
export interface SignInState {
  accountId: string;
  firstFactor: { method: 'pwd' | 'upstream'; at: number };
  /** The push challenge this sign-in waits for, if any. */
  challengeId: string | null;
}

export interface SignInStateStore {
  get(uid: string): Promise<SignInState | null>;
  /**
   * Writes the state. This sign-in's limit counters (SIGNIN_COUNTERS) are kept while the account
   * stays the same (posting the password again does not buy fresh tries) and start at zero for
   * another account.
   */
  put(uid: string, state: SignInState, ttlSeconds: number): Promise<void>;
  /** Ends the sign-in, counters included. */
  delete(uid: string): Promise<void>;
}

/*
 * One hash per sign-in: s = the state (JSON), acct = its account, and the limit counters, which
 * scripts count in place (defences/throttle-store.ts, defences/push-fatigue-store.ts): a counter
 * inside the JSON was read, incremented and written back by each request, so parallel requests
 * all read the same count (audit: 261 of 300 parallel wrong passcodes were checked).
 * The braces are a hash tag (one Redis Cluster slot per sign-in); the name is new because the
 * layout is: a key of the old layout (a string) would answer WRONGTYPE.
 */
export const signInKey = (uid: string): string => `signin:{${uid}}`;
export const SIGNIN_OWNER_FIELD = 'acct';
export const SIGNIN_COUNTERS = {
  /** Passcodes typed wrong in this sign-in. */
  passcodeFailures: 'otp',
  /** Pushes sent for this sign-in, and when the last one was (for "send again" limits). */
  pushes: 'pushes',
  lastPushAt: 'push_at',
} as const;

// A new account on the same page starts with fresh counters; the same account keeps them.
const PUT_LUA = `
if redis.call('HGET', KEYS[1], '${SIGNIN_OWNER_FIELD}') ~= ARGV[2] then redis.call('DEL', KEYS[1]) end
redis.call('HSET', KEYS[1], 's', ARGV[1], '${SIGNIN_OWNER_FIELD}', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
`;

export function createSignInStateStore(redis: Redis): SignInStateStore {
  const script = redisScripts(redis);
  return {
    async get(uid) {
      const raw = await redis.hget(signInKey(uid), 's');
      return raw ? (JSON.parse(raw) as SignInState) : null;
    },
    async put(uid, state, ttlSeconds) {
      const { accountId, firstFactor, challengeId } = state;
      await script('SignInPut', PUT_LUA, 1)(signInKey(uid), JSON.stringify({ accountId, firstFactor, challengeId }), accountId, Math.max(1, Math.ceil(ttlSeconds)));
    },
    async delete(uid) {
      await redis.del(signInKey(uid));
    },
  };
}
