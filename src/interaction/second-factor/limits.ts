/** How often one sign-in may send a push: "Send again" is offered, but not as a bombing tool. */
export const PUSH_RESEND_MIN_INTERVAL_MS = 10_000;
export const PUSH_MAX_PER_SIGNIN = 5;
/** Typed passcodes per sign-in before it must start over. */
export const PASSCODE_MAX_FAILURES = 5;

export type SendDecision = { ok: true } | { ok: false; reason: 'too_soon' | 'too_many'; retryInSeconds: number | null };

/** Pure: may this sign-in send another push now, given when it sent the previous ones? */
export function canSendPush(sentAt: readonly number[], now: number): SendDecision {
  if (sentAt.length >= PUSH_MAX_PER_SIGNIN) return { ok: false, reason: 'too_many', retryInSeconds: null };
  const last = sentAt.at(-1);
  if (last !== undefined && now - last < PUSH_RESEND_MIN_INTERVAL_MS) {
    return { ok: false, reason: 'too_soon', retryInSeconds: Math.ceil((PUSH_RESEND_MIN_INTERVAL_MS - (now - last)) / 1000) };
  }
  return { ok: true };
}
