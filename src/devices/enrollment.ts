import type { JWK } from 'jose';
import { createAccountStore, type Account } from '../accounts/store.js';
import type { SecretBox } from '../crypto/secretbox.js';
import { newTotpSecret } from '../otp/totp.js';
import type { PushSubscriptionJson } from '../push/types.js';
import type { Db } from '../storage/db.js';
import { createEnrollmentCodes, enrollmentCodeHash, voidOtherEnrollmentCodes } from './enrollment-codes.js';
import { keepRecoveryBatch } from './recovery-codes.js';
import { DeviceError } from './errors.js';
import { createDeviceRegistry, newDeviceId } from './registry.js';
import { sealTotpSecret } from './totp-secret.js';
import type { Device, UnlockPolicy, WebAuthnCredential } from './types.js';

/**
 * Making a device from a one-time enrollment code (docs/device-api.md section 1), whatever door
 * it came through: the checks, then the code used and the device created in one transaction.
 */

export const DEFAULT_MAX_DEVICES_PER_ACCOUNT = 5;

export type EnrollRefusal = 'invalid_enrollment_code' | 'webauthn_required' | 'device_limit_reached';

/**
 * Whether this enrollment may go on. Pure. A disabled account gets the same answer as a bad code
 * (enrollment says nothing about accounts); the cap counts active devices.
 */
export function enrollDecision(input: {
  account: { disabled: boolean } | null;
  unlock: UnlockPolicy;
  hasWebAuthn: boolean;
  activeDevices: number;
  maxDevices: number;
}): EnrollRefusal | null {
  if (!input.account || input.account.disabled) return 'invalid_enrollment_code';
  // Under the WebAuthn unlock policy the app registers its platform authenticator first (the
  // enrollment link says so); without that credential the device could never answer.
  if (input.unlock === 'webauthn' && !input.hasWebAuthn) return 'webauthn_required';
  if (input.activeDevices >= input.maxDevices) return 'device_limit_reached';
  return null;
}

export const ENROLL_REFUSALS: Record<EnrollRefusal, () => DeviceError> = {
  invalid_enrollment_code: () => new DeviceError('invalid_enrollment_code', 400, 'the enrollment code is unknown, used or expired'),
  webauthn_required: () => new DeviceError('webauthn_required', 400, 'this server requires a user-verifying platform authenticator (WebAuthn) at enrollment'),
  device_limit_reached: () => new DeviceError('device_limit_reached', 409, 'this account has as many authenticators as it may have; revoke one first'),
};

export interface EnrollmentDeps {
  db: Db;
  secretBox: SecretBox;
  now: () => number;
  maxDevicesPerAccount: number;
}

export interface NewEnrollment {
  code: string;
  /** The account the code was peeked for; the transaction checks that consuming it says the same. */
  accountId: string;
  name: string;
  publicJwk: JWK;
  push: PushSubscriptionJson | null;
  unlock: UnlockPolicy;
  /** The verified platform credential (unlock 'webauthn'), else null. */
  webauthn: WebAuthnCredential | null;
}

export interface Enrolled {
  account: Account;
  device: Device;
  /** In clear, for the enrollment answer only: stored sealed. */
  totpSecret: string;
  /** The pending devices this first enrollment revoked (never confirmed by their phones). */
  voidedDevices: string[];
}

/**
 * One transaction: the account row is locked, so enrollments of one account run one at a time
 * (the cap holds under a race); the code is used and the device made together, or neither.
 * Every refusal throws a DeviceError and leaves the code usable.
 */
export async function enrollDevice(deps: EnrollmentDeps, input: NewEnrollment): Promise<Enrolled> {
  const id = newDeviceId();
  const totpSecret = newTotpSecret();
  return deps.db.transaction(async (tx) => {
    const account = await createAccountStore(tx).findByIdForUpdate(input.accountId);
    const devices = createDeviceRegistry(tx);
    const refusal = enrollDecision({
      account, unlock: input.unlock, hasWebAuthn: input.webauthn !== null,
      activeDevices: await devices.countActive(input.accountId), maxDevices: deps.maxDevicesPerAccount,
    });
    if (refusal) throw ENROLL_REFUSALS[refusal]();
    // "First": no device of the account was ever confirmed by its phone. A device enrolled and never
    // confirmed does not count: someone with the password alone (before the account had a phone)
    // could have made one, and the codes such a session took must not outlive the owner's enrollment
    // (the device itself is listed as pending, and inert once PENDING_DEVICE_MINUTES have passed).
    const first = !(await devices.hasConfirmed(input.accountId));
    const taken = await createEnrollmentCodes(tx, { now: deps.now }).take(input.code);
    if (taken?.accountId !== input.accountId) throw ENROLL_REFUSALS.invalid_enrollment_code();
    // The first device ends the time when the password alone could ask for codes: what such a
    // session may have taken (other enrollment codes, other recovery codes) is void from here, and
    // so is any device it enrolled and left pending, to be confirmed once the owner's phone is in.
    if (first) {
      await voidOtherEnrollmentCodes(tx, input.accountId, new Date(deps.now()));
      await keepRecoveryBatch(tx, input.accountId, enrollmentCodeHash(input.code)!);
    }
    const voidedDevices = first ? await devices.revokePending(input.accountId, id) : [];
    const device = await devices.create({
      id, accountId: input.accountId, name: input.name, publicJwk: input.publicJwk, push: input.push,
      totpSecretSealed: sealTotpSecret(deps.secretBox, id, totpSecret), unlock: input.unlock,
      webauthn: input.unlock === 'webauthn' ? input.webauthn : null, enrolledBy: taken.createdBy,
    });
    const { passwordHash: _hash, ...plain } = account!;
    return { account: plain, device, totpSecret, voidedDevices };
  });
}
