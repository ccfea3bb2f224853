/** A push challenge: one request to approve one sign-in, kept in Redis until it expires. */
export type ChallengeStatus = 'pending' | 'approved' | 'denied' | 'expired';

/** What the device said, as verified. `report` = deny and report as fraud. */
export type Decision = 'approve' | 'deny' | 'report';

export interface Challenge {
  /** Random, URL-safe, 22+ characters (128 bits or more). */
  id: string;
  accountId: string;
  /**
   * The sign-in waiting for it (signin/): an opaque id the front door chose (the OIDC pages pass
   * their interaction uid); null when nothing waits on it.
   */
  signInId: string | null;
  clientId: string;
  /** The relying app's display name, shown on the phone. */
  appName: string;
  /** base64url, 128 bits or more; the device must sign it back. */
  nonce: string;
  /** The 2-digit number shown on the login page, or null when number matching is off. */
  matchNumber: number | null;
  /** Three distinct 2-digit numbers, one equal to matchNumber, in random order; null when off. */
  numberChoices: number[] | null;
  /** Number matching where the phone types the number: its choices are never shown (LoginPolicy.verifiedPush). */
  verifiedPush?: boolean;
  /** The requester's IP as the IdP saw it (after trusted-proxy handling). */
  ip: string;
  /** A short browser summary such as "Chrome on Linux". */
  browser: string;
  /** "City, Country" when a GeoIP database is configured, else null. */
  location: string | null;
  /**
   * OpenID CIBA 7.1 binding_message: a short text the relying app shows on its own screen and the
   * phone shows with the request, so the user can tell the two belong together (src/ciba/binding-message.ts
   * checks it). Absent or null for the browser's sign-ins, which match a number instead.
   */
  bindingMessage?: string | null;
  /**
   * When the sign-in it belongs to proved its first factor (epoch ms), where a sign-in made it: a
   * request older than the end of the account's sessions stands for nothing (device-api/respond.ts).
   */
  firstFactorAt?: number;
  /** Epoch milliseconds. */
  createdAt: number;
  expiresAt: number;
  status: ChallengeStatus;
  resolution: Resolution | null;
}

export interface Resolution {
  status: Exclude<ChallengeStatus, 'pending'>;
  /** The device that answered (null for expiry). */
  deviceId: string | null;
  decision: Decision | null;
  /** Why it ended this way, e.g. 'wrong_number', 'reported', 'expired'. */
  reason: string | null;
  /** RFC 8176 methods proven by the answer, e.g. ['otp', 'swk']. */
  amr: string[];
  at: number;
}

export type ResolveOutcome = 'resolved' | 'not_found' | 'already_resolved' | 'expired';

/**
 * What the caller of resolve() already read of the challenge, so it is not read again: its account
 * (it names the index key; the script still checks it against the record, and a record of another
 * account is not_found) and when it was made (the approval-time metric).
 */
export type KnownChallenge = Pick<Challenge, 'accountId'> & Partial<Pick<Challenge, 'createdAt'>>;

/**
 * Keys the resolver's own step has settled, deleted in the same atomic step as the resolution
 * whatever its outcome (the devices' TOTP run that the answer's right TOTP ends: devices/otp-proof.ts).
 */
export interface ResolveAlso {
  reset?: string[];
}

/** Where challenges live. Implementations: Redis (ioredis, also over ioredis-mock in process). */
/**
 * A field of another record to set in the same step as a challenge is created (the sign-in's state
 * pointing at its new push, signin/state.ts challengeLink): written only while the record's owner
 * field still names `owner`, so a record that ended or changed hands meanwhile is left alone.
 */
export interface LinkedWrite {
  key: string;
  ownerField: string;
  owner: string;
  field: string;
  value: string;
  ttlSeconds: number;
}

export interface ChallengeStore {
  /**
   * With `link`, that record is updated atomically with the creation (one round trip).
   * With `distinctNumber`, its match number is held for the account until it expires, and
   * 'number_taken' says another pending request of the account created so shows the same number:
   * nothing was written, and the caller draws the numbers again (src/signin/push.ts).
   */
  create(challenge: Challenge, link?: LinkedWrite, opts?: { distinctNumber?: boolean }): Promise<'created' | 'number_taken'>;
  get(id: string, now?: number): Promise<Challenge | null>;
  /**
   * get()'s read, for another store's script to make beside its own work (one round trip: the
   * answer's throttle reservation, src/device-api/respond.ts): the hash and the fields to read, and
   * the challenge their values make ('' for a missing field), as get() would answer at `now`.
   */
  readBeside(id: string): { key: string; fields: string[]; challenge(values: string[], now: number): Challenge | null };
  /**
   * Resolves a pending, unexpired challenge exactly once, atomically, and publishes the resolution
   * so that every IdP process's waiters wake. Concurrent callers: exactly one gets 'resolved'.
   */
  resolve(id: string, resolution: Resolution, now?: number, known?: KnownChallenge, also?: ResolveAlso): Promise<ResolveOutcome>;
  /** Pending, unexpired challenges of one account, newest first. */
  listPending(accountId: string, now?: number): Promise<Challenge[]>;
  /** How many challenges, of every account, are pending and unexpired (the metrics gauge). */
  countPending(now?: number): Promise<number>;
}

/** Lets a request wait for a challenge to leave 'pending'. One Redis subscription per process. */
export interface ChallengeWaiters {
  /**
   * Resolves with the challenge once it is no longer pending, or with its current state at timeout.
   * `readAt`: the caller read it pending with a read sent at this performance.now(); it is then
   * not read again unless a resolution may have been announced meanwhile.
   */
  wait(id: string, timeoutMs: number, readAt?: number): Promise<Challenge | null>;
  close(): Promise<void>;
}
