/**
 * The throttle keys an account's own sign-ins count on (Redis, under the deployment's prefix). In
 * one place so the admin's `user unlock` lifts exactly what the doors count.
 */
export const throttleKeys = {
  /** Password guesses, per username as the account spells it (signin/first-factor.ts). */
  password: (username: string) => `thr:user:${username.toLowerCase()}`,
  /** Typed passcodes and recovery codes, and a device's wrong TOTP (signin/passcode.ts, devices/otp-proof.ts). */
  passcodes: (accountId: string) => `thr:otp:${accountId}`,
  /** TOTPs the account's devices send themselves (devices/otp-proof.ts). */
  devicePasscodes: (accountId: string) => `thr:otp-device:${accountId}`,
};

/** What `user unlock` deletes: every count of the account's own (not an IP's, which others share). */
export const accountThrottleKeys = (account: { id: string; username: string }): string[] =>
  [throttleKeys.password(account.username), throttleKeys.passcodes(account.id), throttleKeys.devicePasscodes(account.id)];
