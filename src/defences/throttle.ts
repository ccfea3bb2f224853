/**
 * Password-guessing defence: per account and per IP, a growing delay after a few failures and a
 * temporary lockout after many. Pure: the state comes from Redis, the decision is made here.
 */
export interface ThrottleState {
  /** Failures within the window (0 while a key keeps only its run under a cap). */
  failures: number;
  lastFailureAt: number;
  /**
   * Under a policy with `capAfter`: failures since the last success, which the window never
   * forgets (absent: as `failures`). Without it nine guesses, a quarter of an hour's pause, nine
   * more... would never reach the lockout, let alone the cap (red-team: about 800 a day).
   */
  consecutive?: number;
}

export interface ThrottlePolicy {
  /** Failures allowed without delay. */
  freeFailures: number;
  /** Delay after the first delayed failure; doubles with each further one. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Failures that lock for `lockoutMs` counted from the last failure. */
  lockoutAfter: number;
  lockoutMs: number;
  /** Failures older than this are forgotten. */
  windowMs: number;
  /**
   * Consecutive failures after which the key stays locked until a success resets it (or an admin
   * unlocks it, or LOCKED_KEEP_MS pass without an attempt); absent or 0: no such cap. NIST SP
   * 800-63B 5.2.2 caps consecutive failed attempts on one account at 100: without it the lockout
   * alone still gives one guess per lockout period, for ever.
   */
  capAfter?: number;
}

export const ACCOUNT_POLICY: ThrottlePolicy = {
  freeFailures: 3, baseDelayMs: 1000, maxDelayMs: 30_000, lockoutAfter: 10, lockoutMs: 15 * 60_000, windowMs: 15 * 60_000,
};
/**
 * Passcodes (typed TOTPs, a device's wrong TOTP) and the TOTPs devices send: the account's policy,
 * capped at 100 consecutive failures, however paced. Only someone holding the password (or a
 * device key) can count here; the user's own approval on the phone still gets in. The password
 * and recovery codes keep no cap: anyone may type a username, and a cap would let them lock any
 * account; a recovery code has 80 random bits.
 */
export const PASSCODE_POLICY: ThrottlePolicy = { ...ACCOUNT_POLICY, capAfter: 100 };

/**
 * How long a locked-out key (and any key under a cap) is kept. A lockout ends only with a success
 * (throttleAfterFailure): until then one more guess per lockout period, each locking again. A key
 * that expired with its window would have given ten fresh guesses every half hour, silently (red-team
 * run: about 450 passcode guesses a day). Guesses paced under the lockout still pass (nine per
 * window); only a policy's cap, counting the run since the last success, bounds those.
 */
export const LOCKED_KEEP_MS = 30 * 24 * 3600 * 1000;

/** An IP may be a NAT with many users behind it: more room, same shape. */
export const IP_POLICY: ThrottlePolicy = {
  freeFailures: 20, baseDelayMs: 1000, maxDelayMs: 30_000, lockoutAfter: 100, lockoutMs: 15 * 60_000, windowMs: 15 * 60_000,
};

/** 'capped': the policy's cap of consecutive failures is reached; it holds until a success or an unlock. */
export type ThrottleDecision = { allowed: true } | { allowed: false; retryAfterMs: number; reason: 'delay' | 'lockout' | 'capped' };

export function throttleDecision(state: ThrottleState | null, policy: ThrottlePolicy, now: number): ThrottleDecision {
  if (!state) return { allowed: true };
  const since = now - state.lastFailureAt;
  // The key is kept LOCKED_KEEP_MS after its last failure (throttle-store.ts), then it is gone.
  if (policy.capAfter && (state.consecutive ?? state.failures) >= policy.capAfter && since < LOCKED_KEEP_MS) {
    return { allowed: false, retryAfterMs: LOCKED_KEEP_MS - since, reason: 'capped' };
  }
  if (since > policy.windowMs) return { allowed: true };
  if (state.failures >= policy.lockoutAfter) {
    return since >= policy.lockoutMs ? { allowed: true } : { allowed: false, retryAfterMs: policy.lockoutMs - since, reason: 'lockout' };
  }
  if (state.failures < policy.freeFailures) return { allowed: true };
  const delay = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (state.failures - policy.freeFailures));
  return since >= delay ? { allowed: true } : { allowed: false, retryAfterMs: delay - since, reason: 'delay' };
}

/**
 * The state after one more counted failure: a failure long after the last one (past the window)
 * starts a new count, unless the key is locked out, which only a success lifts (reset).
 */
export function throttleAfterFailure(state: ThrottleState | null, policy: ThrottlePolicy, now: number): ThrottleState {
  const stale = state !== null && now - state.lastFailureAt > policy.windowMs && state.failures < policy.lockoutAfter;
  const next = { failures: (state && !stale ? state.failures : 0) + 1, lastFailureAt: now };
  return policy.capAfter ? { ...next, consecutive: (state?.consecutive ?? state?.failures ?? 0) + 1 } : next;
}
