import { matchTotp } from '../otp/totp.js';

export interface PasscodeCandidate {
  deviceId: string;
  secret: string;
  lastOtpStep: number;
}

export type PasscodeMatch = { ok: true; deviceId: string; step: number } | { ok: false; reason: 'invalid_otp' | 'otp_replayed' };

/**
 * Which of the user's devices made this passcode (RFC 6238, one step of drift). Pure: the caller
 * then accepts the step atomically, so a step works once per device (RFC 6238 5.2).
 */
export function matchPasscode(candidates: readonly PasscodeCandidate[], passcode: string, now: number): PasscodeMatch {
  let replayed = false;
  for (const c of candidates) {
    const m = matchTotp(c.secret, passcode, now, c.lastOtpStep);
    if (m.ok) return { ok: true, deviceId: c.deviceId, step: m.step };
    if (m.reason === 'otp_replayed') replayed = true;
  }
  return { ok: false, reason: replayed ? 'otp_replayed' : 'invalid_otp' };
}
