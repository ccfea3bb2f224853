import type { Context } from 'koa';
import { DEFAULT_MAX_DEVICES_PER_ACCOUNT, enrollDevice, ENROLL_REFUSALS } from '../devices/enrollment.js';
import { DeviceError } from '../devices/errors.js';
import { registrationOptions, verifyRegistration } from '../devices/webauthn.js';
import type { WebAuthnCredential } from '../devices/types.js';
import { createAccountStore } from '../accounts/store.js';
import { TOTP_PERIOD_SECONDS } from '../otp/totp.js';
import type { EnrollResponse, RegistrationOptionsResponse } from './contract.js';
import type { DeviceApiDeps } from './deps.js';
import { jsonBodyOf } from './http.js';
import { enrollSchema, parseBody, registrationOptionsRequestSchema, toSubscription } from './validate.js';

/** docs/device-api.md section 1: a one-time code, a device key and a push subscription make a device. */

export function enrollHandler(deps: DeviceApiDeps) {
  const now = deps.now ?? Date.now;
  const maxDevicesPerAccount = deps.maxDevicesPerAccount ?? DEFAULT_MAX_DEVICES_PER_ACCOUNT;
  return async (ctx: Context): Promise<void> => {
    // Validate everything first: a malformed request must not burn the user's code.
    const body = parseBody(enrollSchema, jsonBodyOf(ctx));
    const push = body.push ? toSubscription(body.push) : null;
    if (push && deps.allowPushEndpoint && !deps.allowPushEndpoint(new URL(push.endpoint))) {
      throw new DeviceError('invalid_request', 400, 'push.endpoint: this push service is not allowed');
    }
    // Which account the code is for, without using it up: every refusal below leaves it usable.
    const accountId = await deps.codes.peek(body.code);
    if (!accountId) throw ENROLL_REFUSALS.invalid_enrollment_code();
    const policy = await deps.policy(accountId);
    // The registration ceremony is verified before the transaction: a failed one leaves the code usable.
    let webauthn: WebAuthnCredential | null = null;
    if (policy.unlock === 'webauthn' && body.webauthn) {
      const verdict = await verifyRegistration({ response: body.webauthn as never, code: body.code, issuer: deps.issuer });
      if (!verdict.ok) throw new DeviceError('webauthn_registration_failed', 400, `the WebAuthn registration was refused: ${verdict.reason}`);
      webauthn = verdict.credential;
    }

    const { account, device, totpSecret, voidedDevices } = await enrollDevice(
      { db: deps.db, secretBox: deps.secretBox, now, maxDevicesPerAccount },
      {
        code: body.code, accountId, name: body.name, publicJwk: body.publicJwk, push, unlock: policy.unlock,
        webauthn,
      });
    await deps.audit.record({
      type: 'device.enrolled', accountId, ip: ctx.ip,
      detail: { deviceId: device.id, name: device.name, push: push ? 'active' : 'none' },
    });
    for (const deviceId of voidedDevices) {
      await deps.audit.record({ type: 'device.revoked', accountId, ip: ctx.ip, detail: { deviceId, by: 'first_enrollment' } });
    }
    // As every revoke: what those phones' typed passcodes signed in ends with them (red-team: an SSO
    // session and tokens made with a planted phone's TOTP outlived its revocation).
    if (voidedDevices.length > 0) await deps.onDeviceRevoked?.(accountId, voidedDevices[0]!, device.id);
    // The user's other phones hear of it: an enrollment they did not make is an alarm.
    void deps.notifyDevices?.(accountId, { kind: 'device_added', deviceName: device.name }, device.id)
      .catch((err: unknown) => deps.log?.error({ err }, 'new-device notice failed'));

    ctx.status = 201;
    const answer: EnrollResponse = {
      deviceId: device.id,
      issuer: deps.issuer,
      account: { id: account.id, username: account.username, displayName: account.displayName },
      totp: { secret: totpSecret, algorithm: 'SHA1', digits: 6, period: TOTP_PERIOD_SECONDS },
      policy: { numberMatching: policy.numberMatching, unlock: policy.unlock, pollIntervalSeconds: policy.pollIntervalSeconds },
      vapidPublicKey: deps.vapidPublicKey,
    };
    ctx.body = answer;
  };
}

/**
 * docs/device-api.md section 1a: the options for navigator.credentials.create() under the WebAuthn
 * unlock policy, with a challenge bound to the enrollment code. The code is only looked at, not used.
 */
export function registrationOptionsHandler(deps: DeviceApiDeps) {
  const accounts = createAccountStore(deps.db);
  return async (ctx: Context): Promise<void> => {
    const { code } = parseBody(registrationOptionsRequestSchema, jsonBodyOf(ctx));
    // Switched off, it answers the same to every code (red-team: a live code got invalid_request and
    // a dead one invalid_enrollment_code, an oracle for codes without using them).
    if ((await deps.policy()).unlock !== 'webauthn') throw new DeviceError('invalid_request', 400, 'this server does not ask for WebAuthn at enrollment');
    const accountId = await deps.codes.peek(code);
    const account = accountId ? await accounts.findById(accountId) : null;
    // A disabled account reads as a bad code, as at enrollment.
    if (!accountId || !account || account.disabled) throw ENROLL_REFUSALS.invalid_enrollment_code();
    if ((await deps.policy(accountId)).unlock !== 'webauthn') {
      throw new DeviceError('invalid_request', 400, 'this server does not ask for WebAuthn at enrollment');
    }
    const publicKey = await registrationOptions({ issuer: deps.issuer, code, userName: account.username, userDisplayName: account.displayName });
    const answer: RegistrationOptionsResponse = { publicKey: publicKey as RegistrationOptionsResponse['publicKey'] };
    ctx.body = answer;
  };
}
