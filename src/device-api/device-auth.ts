import type { Context, Middleware, Next } from 'koa';
import type { Redis } from '../storage/redis.js';
import { readKid, verifyDeviceAuth } from '../approval/verify-device-auth.js';
import { DeviceError } from '../devices/errors.js';
import type { DeviceRegistry } from '../devices/registry.js';
import type { Device } from '../devices/types.js';
import type { LastUseWriter } from '../devices/last-use.js';

/**
 * `Authorization: Device <JWS>` (docs/device-api.md section 2). The pure check is
 * verifyDeviceAuth; what needs shared state is here: each `jti` is accepted once across every IdP
 * instance (SET NX in Redis until the token's `exp`), as RFC 9449 11.1 asks of DPoP proofs.
 */
export interface DeviceAuthDeps {
  devices: DeviceRegistry;
  redis: Redis;
  /** `${issuer}/api/device` */
  audience: string;
  /**
   * The issuer's path ('' for https://idp.example.com, '/idp' for https://example.com/idp): `htu`
   * is the path the device requested, and a proxy serving the IdP under the issuer's path strips it
   * before the request reaches us.
   */
  pathPrefix: string;
  now: () => number;
  /** A confirmed device's last use, written behind (devices/last-use.ts); without it, written at once. */
  lastUse?: LastUseWriter;
}

export interface DeviceState {
  device: Device;
  /** The token's `otp` claim, if any: only unregistering needs (and checks) one. */
  otp: string | null;
}

/** Slack on the replay record beyond `exp`, so clock skew between instances cannot reopen a jti. */
const JTI_KEEP_EXTRA_MS = 60_000;
const TOUCH_EVERY_MS = 60_000;

export function deviceAuth(deps: DeviceAuthDeps): Middleware<DeviceState> {
  return async (ctx: Context, next: Next) => {
    const header = ctx.get('authorization');
    // RFC 9110 11.1: an authentication scheme's name is case-insensitive.
    // The credential is checked as a JWS by verifyDeviceAuth, which says what is wrong with it (padding, say).
    const match = /^Device +(\S+)$/i.exec(header);
    if (!match) {
      throw new DeviceError('invalid_token', 401, 'an Authorization: Device <JWS> header is required',
        { 'WWW-Authenticate': 'Device' });
    }
    const jws = match[1]!;
    const kid = readKid(jws);
    const device = kid ? await deps.devices.get(kid) : null;
    const now = deps.now();
    const verdict = await verifyDeviceAuth({ jws, device, method: ctx.method, path: `${deps.pathPrefix}${ctx.path}`, audience: deps.audience, now });
    if (!verdict.ok) {
      throw new DeviceError(verdict.code, verdict.status, verdict.description, { 'WWW-Authenticate': 'Device' });
    }
    const keepMs = Math.max(verdict.exp * 1000 - now, 0) + JTI_KEEP_EXTRA_MS;
    const fresh = await deps.redis.set(`devauth:jti:${verdict.deviceId}:${verdict.jti}`, '1', 'PX', keepMs, 'NX');
    if (fresh !== 'OK') {
      throw new DeviceError('invalid_token', 401, 'this token was already used (jti)', { 'WWW-Authenticate': 'Device' });
    }
    ctx.state.device = device!;
    ctx.state.otp = verdict.otp;
    // Poll mode calls every few seconds: last-used is written at most once a minute per device. The
    // first signed call confirms the device (registry LIVE), so that one is written before we go on.
    const last = device!.lastUsedAt?.getTime() ?? null;
    if (last === null) {
      if (!(await deps.devices.confirm(device!.id, new Date(now)))) {
        throw new DeviceError('device_revoked', 401, 'this device was never confirmed and stands for nothing now: enroll it again', { 'WWW-Authenticate': 'Device' });
      }
    } else if (now - last > TOUCH_EVERY_MS) {
      if (deps.lastUse) deps.lastUse.note(device!.id, new Date(now));
      else await deps.devices.touch(device!.id, new Date(now));
    }
    await next();
  };
}
