import { ACCOUNT_POLICY } from '../defences/throttle.js';
import type { Throttle } from '../defences/throttle-store.js';
import { matchTotp } from '../otp/totp.js';
import { DeviceError } from './errors.js';
import type { DeviceRegistry } from './registry.js';
import type { Device } from './types.js';

/**
 * A TOTP a device sends itself (in a signed answer, or to unregister) is a passcode like a typed
 * one: wrong ones count toward the account's passcode limit (`thr:otp:<account>`, the same counter
 * as the passcode page), and while that limit holds no TOTP of the account is checked at all, so a
 * device key alone (without the TOTP secret) is no oracle for the passcode.
 */
export type OtpThrottle = Pick<Throttle, 'check' | 'fail'>;

export const otpThrottleKeys = (accountId: string) => [{ key: `thr:otp:${accountId}`, policy: ACCOUNT_POLICY }];

/** Throws `too_many_attempts` (429, Retry-After) while the account's passcodes are locked. */
export async function requireOtpUnlocked(throttle: OtpThrottle, accountId: string): Promise<void> {
  const gate = await throttle.check(otpThrottleKeys(accountId));
  if (!gate.allowed) {
    const seconds = Math.max(1, Math.ceil(gate.retryAfterMs / 1000));
    throw new DeviceError('too_many_attempts', 429, 'too many wrong passcodes for this account; try again later',
      { 'Retry-After': String(seconds) });
  }
}

/**
 * Unregistering proves a fresh TOTP (docs/device-api.md section 6): the device key alone must not
 * be enough to remove the second factor. A missing or wrong code is counted; a right one uses up
 * its step among the device's own (RFC 6238 5.2), atomically.
 */
export async function proveFreshTotp(
  deps: { throttle: OtpThrottle; devices: DeviceRegistry },
  device: Device,
  secret: string,
  otp: string | null,
  now: number,
): Promise<void> {
  await requireOtpUnlocked(deps.throttle, device.accountId);
  const match = otp === null ? null : matchTotp(secret, otp, now, device.lastAnswerStep);
  if (!match || (!match.ok && match.reason === 'invalid_otp')) {
    await deps.throttle.fail(otpThrottleKeys(device.accountId));
    throw new DeviceError('invalid_otp', 400, otp === null
      ? 'this request must carry a fresh one-time passcode in the otp claim'
      : 'the one-time passcode does not match');
  }
  if (!match.ok || !(await deps.devices.acceptAnswerStep(device.id, match.step))) {
    throw new DeviceError('otp_replayed', 400, 'this one-time passcode was already used');
  }
}
