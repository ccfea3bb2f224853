import type { Redis } from '../storage/redis.js';

/**
 * Replayed Access-Requests (red-team): a request captured on the wire and sent again from another
 * source port is no retransmission (duplicates.ts keys those by address and port) and ran a new
 * sign-in: a second push to the phone, or, for `password,TOTP`, a second password and passcode
 * attempt counted against the user, all without the password or the shared secret. RFC 2865
 * section 3 asks a NAS for Request Authenticators unique in space and time, so one seen before
 * from the same NAS is a copy: the first use of each is recorded in Redis for REPLAY_WINDOW_SECONDS
 * (across instances, whatever the port), and a later one is dropped.
 *
 * Past the window a copy would be taken again; a NAS that sends Event-Timestamp (RFC 2869 5.3,
 * covered by Message-Authenticator) has requests older than the window dropped by their own date.
 */
export const REPLAY_WINDOW_SECONDS = 3600;

export interface ReplayGuard {
  /**
   * True for the first use of this NAS's Request Authenticator within the window; false for a copy.
   * Held for `holdSeconds` (as long as its request may take) until `answered` keeps it for the window:
   * a server that dies mid-request (no stop path to give it back) locks its NAS's failover out no
   * longer than that (red-team review).
   */
  first(nas: string, authenticator: Buffer, holdSeconds: number): Promise<boolean>;
  /** Its request was answered: kept for the whole window. */
  answered(nas: string, authenticator: Buffer): Promise<void>;
  /** Its request got no answer (trouble on our side): the NAS's retransmission may try again. */
  forget(nas: string, authenticator: Buffer): Promise<void>;
}

const keyOf = (nas: string, authenticator: Buffer) => `radius:ra:${Buffer.from(nas, 'utf8').toString('hex')}:${authenticator.toString('hex')}`;

export function createReplayGuard(redis: Redis, windowSeconds = REPLAY_WINDOW_SECONDS): ReplayGuard {
  return {
    async first(nas, authenticator, holdSeconds) {
      return (await redis.set(keyOf(nas, authenticator), '1', 'EX', Math.max(1, Math.min(holdSeconds, windowSeconds)), 'NX')) === 'OK';
    },
    async answered(nas, authenticator) {
      await redis.expire(keyOf(nas, authenticator), windowSeconds);
    },
    async forget(nas, authenticator) {
      await redis.del(keyOf(nas, authenticator));
    },
  };
}

/** Whether an authenticated request's Event-Timestamp (seconds since the epoch) is too far from now to be this request's own. */
export function staleEventTimestamp(value: Buffer | undefined, nowMs: number, windowSeconds = REPLAY_WINDOW_SECONDS): boolean {
  if (!value || value.length !== 4) return false;
  return Math.abs(nowMs / 1000 - value.readUInt32BE(0)) > windowSeconds;
}
