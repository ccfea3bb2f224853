import type { Context } from 'koa';
import { DEFAULT_MAX_DEVICES_PER_ACCOUNT, enrollDevice, ENROLL_REFUSALS } from '../devices/enrollment.js';
import { DeviceError } from '../devices/errors.js';
import { TOTP_PERIOD_SECONDS } from '../otp/totp.js';
import type { EnrollResponse } from './contract.js';
import type { DeviceApiDeps } from './deps.js';
import { jsonBodyOf } from './http.js';
import { enrollSchema, parseBody, toSubscription } from './validate.js';

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

    const { account, device, totpSecret } = await enrollDevice(
      { db: deps.db, secretBox: deps.secretBox, now, maxDevicesPerAccount },
      {
        code: body.code, accountId, name: body.name, publicJwk: body.publicJwk, push, unlock: policy.unlock,
        webauthn: body.webauthn ?? null,
      });
    await deps.audit.record({
      type: 'device.enrolled', accountId, ip: ctx.ip,
      detail: { deviceId: device.id, name: device.name, push: push ? 'active' : 'none' },
    });
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
