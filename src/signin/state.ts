import type { Redis } from '../storage/redis.js';
import type { FirstFactorMethod } from './amr.js';
import { redisScripts } from '../defences/redis-script.js';

/**
 * Where a sign-in stands, kept in Redis under its sign-in id for as long as the front door's own
 * transaction lives (the OIDC pages pass their interaction uid as an opaque id, with its remaining
 * life; an agent or RADIUS door would pass its own). The first factor is a separate step from the
 * second, and either may come from elsewhere later (a trusted upstream assertion).
 */
export interface SignInState {
  accountId: string;
  /**
   * `acr`: for a first factor from upstream (upstream.ts), the acr the front door will answer with
   * (chosen from the request before any push is sent); unset, the app's policy decides.
   */
  firstFactor: { method: FirstFactorMethod; at: number; acr?: string };
  /** The push challenge this sign-in waits for, if any. */
  challengeId: string | null;
}

export interface SignInStateStore {
  get(signInId: string): Promise<SignInState | null>;
  /**
   * Writes the state. This sign-in's limit counters (SIGNIN_COUNTERS) are kept while the account
   * stays the same (posting the password again does not buy fresh tries) and start at zero for
   * another account.
   */
  put(signInId: string, state: SignInState, ttlSeconds: number): Promise<void>;
  /** Ends the sign-in, counters included. */
  delete(signInId: string): Promise<void>;
}

/*
 * One hash per sign-in: s = the state (JSON), acct = its account, and the limit counters, which
 * scripts count in place (defences/throttle-store.ts, defences/push-fatigue-store.ts): a counter
 * inside the JSON was read, incremented and written back by each request, so parallel requests
 * all read the same count (an outside audit had 261 of 300 parallel wrong passcodes checked;
 * test/signin/passcode-guessing.race.test.ts guards it).
 * The braces are a hash tag (one Redis Cluster slot per sign-in); the name is new because the
 * layout is: a key of the old layout (a string) would answer WRONGTYPE.
 */
export const signInKey = (signInId: string): string => `signin:{${signInId}}`;
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
    async get(signInId) {
      const raw = await redis.hget(signInKey(signInId), 's');
      return raw ? (JSON.parse(raw) as SignInState) : null;
    },
    async put(signInId, state, ttlSeconds) {
      const { accountId, firstFactor, challengeId } = state;
      await script('SignInPut', PUT_LUA, 1)(signInKey(signInId), JSON.stringify({ accountId, firstFactor, challengeId }), accountId, Math.max(1, Math.ceil(ttlSeconds)));
    },
    async delete(signInId) {
      await redis.del(signInKey(signInId));
    },
  };
}
