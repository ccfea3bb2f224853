import { ACCOUNT_POLICY } from '../defences/throttle.js';
import type { Throttle } from '../defences/throttle-store.js';
import { matchTotp } from '../otp/totp.js';
import { DeviceError } from './errors.js';
import type { DeviceRegistry } from './registry.js';
import type { Device } from './types.js';

/**
 * A TOTP a device sends itself (in a signed answer, or to unregister) is a passcode like a typed
 * one: a wrong one counts toward the account's passcode limit (`thr:otp:<account>`, the counter
 * the passcode page checks) and toward a limit of the devices' own (`thr:otp-device:<account>`).
 * While the devices' limit holds, no TOTP from a device is checked at all, so a device key without
 * the TOTP secret is no oracle. Typed guesses alone do not stop the phone: with the passcodes
 * locked, the user's own approval still gets them in (the passcode page says so).
 */
export type OtpThrottle = Pick<Throttle, 'check' | 'fail'>;

const passcodeLimit = (accountId: string) => ({ key: `thr:otp:${accountId}`, policy: ACCOUNT_POLICY });
const deviceLimit = (accountId: string) => ({ key: `thr:otp-device:${accountId}`, policy: ACCOUNT_POLICY });

/** Counts one wrong TOTP sent by a device of the account. */
export async function countWrongDeviceOtp(throttle: OtpThrottle, accountId: string): Promise<void> {
  await throttle.fail([passcodeLimit(accountId), deviceLimit(accountId)]);
}

/** Throws `too_many_attempts` (429, Retry-After) while the account's devices may not be tried. */
export async function requireOtpUnlocked(throttle: OtpThrottle, accountId: string): Promise<void> {
  const gate = await throttle.check([deviceLimit(accountId)]);
  if (!gate.allowed) {
    const seconds = Math.max(1, Math.ceil(gate.retryAfterMs / 1000));
    throw new DeviceError('too_many_attempts', 429, 'too many wrong passcodes from devices of this account; try again later',
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
    await countWrongDeviceOtp(deps.throttle, device.accountId);
    throw new DeviceError('invalid_otp', 400, otp === null
      ? 'this request must carry a fresh one-time passcode in the otp claim'
      : 'the one-time passcode does not match');
  }
  if (!match.ok || !(await deps.devices.acceptAnswerStep(device.id, match.step))) {
    throw new DeviceError('otp_replayed', 400, 'this one-time passcode was already used');
  }
}
