import type { LoginPolicy } from '../config/clients.js';

/** What follows a correct password. Pure: decided from the policy, the devices and what was typed. */
export type NextStep =
  | { kind: 'finish-password-only' }
  | { kind: 'refuse-no-device' }
  | { kind: 'recover' }
  | { kind: 'choose-second-factor' }
  | { kind: 'send-push' }
  | { kind: 'check-passcode'; passcode: string }
  | { kind: 'bad-passcode-format' };

/**
 * Triggers as the reference product's agents do it: on a single form, an empty passcode or any one
 * character means push; 6 or 8 digits are checked as a TOTP at once.
 *
 * An account that has ever had an authenticator (`everEnrolled`: a device its phone confirmed,
 * revoked ones included) never falls back to the password alone by losing it, whatever `noDevice` says:
 * otherwise revoking (or getting revoked) the last device would turn the second factor off. Such
 * a sign-in goes to `recover` (a one-time recovery code, or an enrollment code from the admin).
 */
export function nextAfterPassword(input: {
  policy: Pick<LoginPolicy, 'form' | 'noDevice' | 'autoPush'>;
  activeDevices: number;
  everEnrolled: boolean;
  passcode: string | undefined;
}): NextStep {
  if (input.activeDevices === 0) {
    if (input.everEnrolled) return { kind: 'recover' };
    return input.policy.noDevice === 'password-only' ? { kind: 'finish-password-only' } : { kind: 'refuse-no-device' };
  }
  // The two-step form asks which factor, unless the app sends the push at once (`login.autoPush`):
  // the waiting page still offers the passcode.
  if (input.policy.form === 'two-step') return input.policy.autoPush ? { kind: 'send-push' } : { kind: 'choose-second-factor' };
  const passcode = (input.passcode ?? '').trim();
  // One character is one code point (an emoji is two UTF-16 units): every door counts alike.
  if ([...passcode].length <= 1) return { kind: 'send-push' };
  if (/^(\d{6}|\d{8})$/.test(passcode)) return { kind: 'check-passcode', passcode };
  return { kind: 'bad-passcode-format' };
}
