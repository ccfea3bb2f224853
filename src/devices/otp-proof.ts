import { PASSCODE_POLICY } from '../defences/throttle.js';
import { throttleKeys } from '../defences/throttle-keys.js';
import type { BesideRead, RateCounter, Throttle } from '../defences/throttle-store.js';
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
export type OtpThrottle = Pick<Throttle, 'reserve' | 'fail'>;

// Both capped at 100 wrong in a row (PASSCODE_POLICY). A device's right TOTP starts the devices' run
// afresh (right()), not the typed passcodes': the phone's owner approving must not hand whoever
// guesses typed passcodes with the password a fresh hundred. Reaching the devices' cap takes a
// device key without its TOTP secret; the account's answers then wait for an admin's `user unlock`.
const passcodeLimit = (accountId: string) => ({ key: throttleKeys.passcodes(accountId), policy: PASSCODE_POLICY });
const deviceLimit = (accountId: string) => ({ key: throttleKeys.devicePasscodes(accountId), policy: PASSCODE_POLICY });

/** One reserved check of a device's TOTP: say how it ended. */
export interface DeviceOtpAttempt {
  /** The TOTP was wrong: it stays counted on the devices' limit and counts on the account's passcodes. */
  wrong(): Promise<void>;
  /** The TOTP was right and its step fresh: the devices' count starts afresh (a success ends the run). */
  right(): Promise<void>;
  /** The request ended before the TOTP mattered (or it was a replayed step): the reservation is given back. */
  release(): Promise<void>;
  /**
   * The TOTP was right and its step fresh, and the caller resets the devices' count itself, in the
   * same script as its own write (the answer's resolve, challenge/redis-store.ts): the keys to delete.
   */
  rightWith(): string[];
  /** The values of the fields read beside the reservation (`beside` given), in their order. */
  beside?: string[];
}

/**
 * Reserves one check of a TOTP sent by a device of the account, before it is checked, in one Redis
 * script that decides and counts (defences/throttle-store.ts): N parallel answers or unregisters
 * carrying guesses are counted one after the other, so the devices' limit holds under a race as the
 * passcode page's does. Throws `too_many_attempts` (429, Retry-After) while the limit holds, and
 * `rate.refusal()` when `rate.counter` (counted first, in the same script, on every call) is past its maximum.
 */
export async function reserveDeviceOtp(throttle: OtpThrottle, accountId: string, rate?: { counter: RateCounter; refusal: () => Error }, beside?: BesideRead): Promise<DeviceOtpAttempt> {
  const limit = deviceLimit(accountId);
  const gate = await throttle.reserve([limit], undefined, rate?.counter, beside);
  if (!gate.allowed && gate.reason === 'rate' && rate) throw rate.refusal();
  if (!gate.allowed) {
    const seconds = Math.max(1, Math.ceil(('retryAfterMs' in gate ? gate.retryAfterMs : 1000) / 1000));
    throw new DeviceError('too_many_attempts', 429, 'too many wrong passcodes from devices of this account; try again later',
      { 'Retry-After': String(seconds) });
  }
  let settled = false;
  return {
    ...(gate.beside ? { beside: gate.beside } : {}),
    async wrong() {
      if (settled) return;
      settled = true;
      await throttle.fail([passcodeLimit(accountId)]);
    },
    async right() {
      if (settled) return;
      settled = true;
      await gate.release([], [limit.key]);
    },
    async release() {
      if (settled) return;
      settled = true;
      await gate.release([limit.key]);
    },
    rightWith() {
      if (settled) return [];
      settled = true;
      return [limit.key];
    },
  };
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
  const attempt = await reserveDeviceOtp(deps.throttle, device.accountId);
  const match = otp === null ? null : matchTotp(secret, otp, now, device.lastAnswerStep);
  if (!match || (!match.ok && match.reason === 'invalid_otp')) {
    await attempt.wrong();
    throw new DeviceError('invalid_otp', 400, otp === null
      ? 'this request must carry a fresh one-time passcode in the otp claim'
      : 'the one-time passcode does not match');
  }
  if (!match.ok || !(await deps.devices.acceptAnswerStep(device.id, match.step))) {
    await attempt.release();
    throw new DeviceError('otp_replayed', 400, 'this one-time passcode was already used');
  }
  await attempt.right();
}
