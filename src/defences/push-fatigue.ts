/**
 * Push-fatigue defence, decided purely from the account's recent history (README.md, Security: push bombing): pushes
 * that were not approved (denied, wrong number, expired, ignored) count; after a few the number
 * challenge is forced on, past the limit no more pushes go out (the passcode still works, as
 * PingID's "limit push" does), and a report mutes pushes for a while (Duo mutes for 20 minutes).
 */
export interface PushFatiguePolicy {
  windowMs: number;
  /** Unapproved pushes in the window after which no push is sent. */
  limit: number;
  /** Unapproved pushes in the window after which number matching is forced on. */
  forceMatchAfter: number;
  /** How long a "deny and report" mutes pushes for the account. */
  muteMs: number;
}

export const DEFAULT_PUSH_FATIGUE: PushFatiguePolicy = { windowMs: 5 * 60_000, limit: 5, forceMatchAfter: 2, muteMs: 20 * 60_000 };

export interface PushFatigueState {
  /** Send times of the pushes in the window that were not approved. */
  unapproved: number[];
  mutedUntil: number | null;
}

export type PushFatigueDecision =
  | { allow: true; forceNumberMatching: boolean }
  | { allow: false; reason: 'muted' | 'limit'; retryAfterMs: number };

export function pushFatigueDecision(state: PushFatigueState, policy: PushFatiguePolicy, now: number): PushFatigueDecision {
  if (state.mutedUntil !== null && state.mutedUntil > now) return { allow: false, reason: 'muted', retryAfterMs: state.mutedUntil - now };
  const recent = state.unapproved.filter((t) => now - t < policy.windowMs).sort((a, b) => a - b);
  if (recent.length >= policy.limit) {
    // The oldest counted push leaves the window first.
    return { allow: false, reason: 'limit', retryAfterMs: recent[recent.length - policy.limit]! + policy.windowMs - now };
  }
  return { allow: true, forceNumberMatching: recent.length >= policy.forceMatchAfter };
}
