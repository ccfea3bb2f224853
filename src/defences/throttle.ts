/**
 * Password-guessing defence: per account and per IP, a growing delay after a few failures and a
 * temporary lockout after many. Pure: the state comes from Redis, the decision is made here.
 */
export interface ThrottleState {
  /** Failures within the window. */
  failures: number;
  lastFailureAt: number;
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
}

export const ACCOUNT_POLICY: ThrottlePolicy = {
  freeFailures: 3, baseDelayMs: 1000, maxDelayMs: 30_000, lockoutAfter: 10, lockoutMs: 15 * 60_000, windowMs: 15 * 60_000,
};
/** An IP may be a NAT with many users behind it: more room, same shape. */
export const IP_POLICY: ThrottlePolicy = {
  freeFailures: 20, baseDelayMs: 1000, maxDelayMs: 30_000, lockoutAfter: 100, lockoutMs: 15 * 60_000, windowMs: 15 * 60_000,
};

export type ThrottleDecision = { allowed: true } | { allowed: false; retryAfterMs: number; reason: 'delay' | 'lockout' };

export function throttleDecision(state: ThrottleState | null, policy: ThrottlePolicy, now: number): ThrottleDecision {
  if (!state || now - state.lastFailureAt > policy.windowMs) return { allowed: true };
  const since = now - state.lastFailureAt;
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
  return { failures: (state && !stale ? state.failures : 0) + 1, lastFailureAt: now };
}
