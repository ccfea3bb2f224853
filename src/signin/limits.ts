/** How often one sign-in may send a push: "Send again" is offered, but not as a bombing tool. */
export const PUSH_RESEND_MIN_INTERVAL_MS = 10_000;
export const PUSH_MAX_PER_SIGNIN = 5;
/** Typed passcodes per sign-in before it must start over. */
export const PASSCODE_MAX_FAILURES = 5;

export type SendDecision = { ok: true } | { ok: false; reason: 'too_soon' | 'too_many'; retryInSeconds: number | null };

/**
 * Pure: may this sign-in send another push now, given how many it sent and when the last one was?
 * The specification of the per-sign-in half of the push gate (defences/push-fatigue-store.ts),
 * which decides the same atomically.
 */
export function canSendPush(sent: { count: number; lastAt: number | null }, now: number): SendDecision {
  if (sent.count >= PUSH_MAX_PER_SIGNIN) return { ok: false, reason: 'too_many', retryInSeconds: null };
  if (sent.lastAt !== null && now - sent.lastAt < PUSH_RESEND_MIN_INTERVAL_MS) {
    return { ok: false, reason: 'too_soon', retryInSeconds: Math.ceil((PUSH_RESEND_MIN_INTERVAL_MS - (now - sent.lastAt)) / 1000) };
  }
  return { ok: true };
}
