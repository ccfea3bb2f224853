import type { Context } from 'koa';
import { newTotpSecret, TOTP_PERIOD_SECONDS } from '../otp/totp.js';
import type { Db } from '../storage/db.js';
import type { DeviceApiDeps } from './device-api.js';
import { createEnrollmentCodes, enrollmentCodeHash, voidOtherEnrollmentCodes } from './enrollment-codes.js';
import { keepRecoveryBatch } from './recovery-codes.js';
import { DeviceError } from './errors.js';
import { jsonBodyOf } from './http.js';
import { createDeviceRegistry, newDeviceId } from './registry.js';
import type { UnlockPolicy } from './types.js';
import { enrollSchema, parseBody, toSubscription } from './validate.js';

/** docs/device-api.md section 1: a one-time code, a device key and a push subscription make a device. */

interface AccountRow {
  id: string;
  username: string;
  display_name: string;
  disabled: boolean;
}

export async function findAccount(db: Db, id: string, opts: { lock?: boolean } = {}): Promise<AccountRow | null> {
  const [row] = await db.query<AccountRow>(
    `SELECT id, username, display_name, disabled FROM accounts WHERE id = $1${opts.lock ? ' FOR UPDATE' : ''}`, [id]);
  return row ?? null;
}

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

const REFUSALS: Record<EnrollRefusal, () => DeviceError> = {
  invalid_enrollment_code: () => new DeviceError('invalid_enrollment_code', 400, 'the enrollment code is unknown, used or expired'),
  webauthn_required: () => new DeviceError('webauthn_required', 400, 'this server requires a user-verifying platform authenticator (WebAuthn) at enrollment'),
  device_limit_reached: () => new DeviceError('device_limit_reached', 409, 'this account has as many authenticators as it may have; revoke one first'),
};

export function enrollHandler(deps: DeviceApiDeps) {
  const now = deps.now ?? Date.now;
  const maxDevices = deps.maxDevicesPerAccount ?? DEFAULT_MAX_DEVICES_PER_ACCOUNT;
  return async (ctx: Context): Promise<void> => {
    // Validate everything first: a malformed request must not burn the user's code.
    const body = parseBody(enrollSchema, jsonBodyOf(ctx));
    const push = body.push ? toSubscription(body.push) : null;
    if (push && deps.allowPushEndpoint && !deps.allowPushEndpoint(new URL(push.endpoint))) {
      throw new DeviceError('invalid_request', 400, 'push.endpoint: this push service is not allowed');
    }
    // Which account the code is for, without using it up: every refusal below leaves it usable.
    const accountId = await deps.codes.peek(body.code);
    if (!accountId) throw REFUSALS.invalid_enrollment_code();
    const policy = await deps.policy(accountId);

    const id = newDeviceId();
    const secret = newTotpSecret();
    // One transaction: the account row is locked, so enrollments of one account run one at a time
    // (the cap holds under a race); the code is used and the device made together, or neither.
    const { account, device } = await deps.db.transaction(async (tx) => {
      const account = await findAccount(tx, accountId, { lock: true });
      const devices = createDeviceRegistry(tx);
      const refusal = enrollDecision({
        account, unlock: policy.unlock, hasWebAuthn: body.webauthn !== undefined,
        activeDevices: await devices.countActive(accountId), maxDevices,
      });
      if (refusal) throw REFUSALS[refusal]();
      const first = !(await devices.hasEverHad(accountId));
      if ((await createEnrollmentCodes(tx, { now }).consume(body.code)) !== accountId) throw REFUSALS.invalid_enrollment_code();
      // The first device ends the time when the password alone could ask for codes: what such a
      // session may have taken (other enrollment codes, other recovery codes) is void from here.
      if (first) {
        await voidOtherEnrollmentCodes(tx, accountId, new Date(now()));
        await keepRecoveryBatch(tx, accountId, enrollmentCodeHash(body.code)!);
      }
      // aad = device id: a sealed secret copied onto another device's row does not open.
      const device = await devices.create({
        id, accountId, name: body.name, publicJwk: body.publicJwk, push,
        totpSecretSealed: deps.secretBox.seal(secret, id), unlock: policy.unlock,
        webauthn: policy.unlock === 'webauthn' ? body.webauthn! : null,
      });
      return { account: account!, device };
    });
    await deps.audit.record({
      type: 'device.enrolled', accountId, ip: ctx.ip,
      detail: { deviceId: device.id, name: device.name, push: push ? 'active' : 'none' },
    });
    // The user's other phones hear of it: an enrollment they did not make is an alarm.
    void deps.notifyDevices?.(accountId, { kind: 'device_added', deviceName: device.name }, device.id)
      .catch((err: unknown) => deps.log?.error({ err }, 'new-device notice failed'));

    ctx.status = 201;
    ctx.body = {
      deviceId: device.id,
      issuer: deps.issuer,
      account: { id: account.id, username: account.username, displayName: account.display_name },
      totp: { secret, algorithm: 'SHA1', digits: 6, period: TOTP_PERIOD_SECONDS },
      policy: { numberMatching: policy.numberMatching, unlock: policy.unlock, pollIntervalSeconds: policy.pollIntervalSeconds },
      vapidPublicKey: deps.vapidPublicKey,
    };
  };
}
