import type { Context } from 'koa';
import { newTotpSecret, TOTP_PERIOD_SECONDS } from '../otp/totp.js';
import type { Db } from '../storage/db.js';
import type { DeviceApiDeps } from './device-api.js';
import { DeviceError } from './errors.js';
import { jsonBodyOf } from './http.js';
import { newDeviceId } from './registry.js';
import { enrollSchema, parseBody, toSubscription } from './validate.js';

/** docs/device-api.md section 1: a one-time code, a device key and a push subscription make a device. */

interface AccountRow {
  id: string;
  username: string;
  display_name: string;
  disabled: boolean;
}

async function findAccount(db: Db, id: string): Promise<AccountRow | null> {
  const [row] = await db.query<AccountRow>('SELECT id, username, display_name, disabled FROM accounts WHERE id = $1', [id]);
  return row ?? null;
}

const badCode = (): DeviceError =>
  new DeviceError('invalid_enrollment_code', 400, 'the enrollment code is unknown, used or expired');

export function enrollHandler(deps: DeviceApiDeps) {
  return async (ctx: Context): Promise<void> => {
    // Validate everything first: a malformed request must not burn the user's code.
    const body = parseBody(enrollSchema, jsonBodyOf(ctx));
    const push = body.push ? toSubscription(body.push) : null;
    if (push && deps.allowPushEndpoint && !deps.allowPushEndpoint(new URL(push.endpoint))) {
      throw new DeviceError('invalid_request', 400, 'push.endpoint: this push service is not allowed');
    }

    const accountId = await deps.codes.consume(body.code);
    if (!accountId) throw badCode();
    // A disabled account gets the same answer as a bad code: enrollment says nothing about accounts.
    const account = await findAccount(deps.db, accountId);
    if (!account || account.disabled) throw badCode();

    const policy = await deps.policy(account.id);
    // Under the WebAuthn unlock policy the app registers its platform authenticator first (the
    // enrollment link says so); without that credential the device could never answer.
    if (policy.unlock === 'webauthn' && !body.webauthn) {
      throw new DeviceError('webauthn_required', 400, 'this server requires a user-verifying platform authenticator (WebAuthn) at enrollment');
    }
    const id = newDeviceId();
    const secret = newTotpSecret();
    // aad = device id: a sealed secret copied onto another device's row does not open.
    const device = await deps.devices.create({
      id, accountId: account.id, name: body.name, publicJwk: body.publicJwk, push,
      totpSecretSealed: deps.secretBox.seal(secret, id), unlock: policy.unlock,
      webauthn: policy.unlock === 'webauthn' ? body.webauthn! : null,
    });
    await deps.audit.record({
      type: 'device.enrolled', accountId: account.id, ip: ctx.ip,
      detail: { deviceId: device.id, name: device.name, push: push ? 'active' : 'none' },
    });

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
