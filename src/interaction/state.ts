import type { Redis } from '../storage/redis.js';

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
  /** Pushes sent for this sign-in (for "send again" limits). */
  pushes: number[];
  /** Passcodes typed wrong in this sign-in. */
  passcodeFailures: number;
}

export interface SignInStateStore {
  get(uid: string): Promise<SignInState | null>;
  put(uid: string, state: SignInState, ttlSeconds: number): Promise<void>;
  delete(uid: string): Promise<void>;
}

export function createSignInStateStore(redis: Redis): SignInStateStore {
  const key = (uid: string) => `signin:${uid}`;
  return {
    async get(uid) {
      const raw = await redis.get(key(uid));
      return raw ? (JSON.parse(raw) as SignInState) : null;
    },
    async put(uid, state, ttlSeconds) {
      await redis.set(key(uid), JSON.stringify(state), 'EX', Math.max(1, Math.ceil(ttlSeconds)));
    },
    async delete(uid) {
      await redis.del(key(uid));
    },
  };
}
