import Router, { type RouterContext, type RouterMiddleware } from '@koa/router';
import type { Redis } from 'ioredis';
import type { AuditLog } from '../audit/types.js';
import { toDeviceView } from '../challenge/model.js';
import type { Challenge, ChallengeStore, Resolution } from '../challenge/types.js';
import type { SecretBox } from '../crypto/secretbox.js';
import type { Db } from '../storage/db.js';
import { deviceAuth, type DeviceState } from './device-auth.js';
import { enrollHandler } from './enroll.js';
import type { EnrollmentCodes } from './enrollment-codes.js';
import { DeviceError } from './errors.js';
import { envelope, jsonBody, jsonBodyOf, type ErrorLog } from './http.js';
import { DEFAULT_RESPONSE_RATE_LIMIT, type RateLimit } from './rate-limit.js';
import { proveFreshTotp, type OtpThrottle } from './otp-proof.js';
import type { DeviceRegistry } from './registry.js';
import { openTotpSecret, respondHandler } from './respond.js';
import type { DeviceNotice, UnlockPolicy } from './types.js';
import { parseBody, pushUpdateSchema, toSubscription } from './validate.js';

/** The device API of docs/device-api.md, as one router the app mounts at the issuer's root. */

export interface DevicePolicy {
  /** True only when every request will carry a number (each challenge still says so itself). */
  numberMatching: boolean;
  unlock: UnlockPolicy;
  pollIntervalSeconds: number;
}

export interface DeviceApiDeps {
  db: Db;
  devices: DeviceRegistry;
  codes: EnrollmentCodes;
  challenges: ChallengeStore;
  /** Shared state: device-auth jti replay records and the answer rate limit. */
  redis: Redis;
  secretBox: SecretBox;
  issuer: string;
  vapidPublicKey: string;
  policy: (accountId: string) => Promise<DevicePolicy>;
  audit: AuditLog;
  /** The account's passcode limits: wrong TOTPs from devices count there too (otp-proof.ts). */
  throttle: OtpThrottle;
  now?: () => number;
  /** Active devices an account may have (MAX_DEVICES_PER_ACCOUNT); default 5. */
  maxDevicesPerAccount?: number;
  /** Tells the account's devices but one (a new enrollment's own) of something: best effort. */
  notifyDevices?: (accountId: string, notice: DeviceNotice, exceptDeviceId: string) => Promise<unknown>;
  /** Called once per resolved challenge, after it is stored and published. */
  onResolved?: (challenge: Challenge, resolution: Resolution) => Promise<void>;
  /** Called after the device unregistered itself (app.ts: the account's sessions end with it). */
  onDeviceRevoked?: (accountId: string, deviceId: string) => Promise<void>;
  /** Answers per device; default 30 a minute. */
  responseRateLimit?: RateLimit;
  /**
   * Optional allow-list of push services. The endpoint comes from the device, and the IdP will POST
   * to it: restricting it to known push services closes a server-side request forgery path.
   */
  allowPushEndpoint?: (endpoint: URL) => boolean;
  log?: ErrorLog;
}

type Step = RouterMiddleware<DeviceState>;
type Handler = (ctx: RouterContext<DeviceState>) => Promise<void>;

const PREFIX = '/api/device';
/** A named route for every method and every path under the prefix, the prefix itself included. */
const FALLBACK = 'device-api-fallback';

export function createDeviceApi(deps: DeviceApiDeps): Router<DeviceState> {
  const now = deps.now ?? Date.now;
  const authed = deviceAuth({
    devices: deps.devices, redis: deps.redis, audience: `${deps.issuer}${PREFIX}`, now,
    pathPrefix: new URL(deps.issuer).pathname.replace(/\/+$/, ''),
  });

  const listChallenges: Handler = async (ctx) => {
    const at = now();
    const pending = await deps.challenges.listPending(ctx.state.device.accountId, at);
    ctx.body = { challenges: pending.map((ch) => toDeviceView(ch, at)) };
  };

  const getChallenge: Handler = async (ctx) => {
    const at = now();
    const ch = /^[A-Za-z0-9_-]{1,128}$/.test(ctx.params.id ?? '') ? await deps.challenges.get(ctx.params.id!, at) : null;
    // Another user's challenge reads as absent: a device learns nothing about other accounts.
    if (!ch || ch.accountId !== ctx.state.device.accountId) {
      throw new DeviceError('challenge_not_found', 404, 'no such sign-in request');
    }
    ctx.body = toDeviceView(ch, at);
  };

  const updatePush: Handler = async (ctx) => {
    const { push } = parseBody(pushUpdateSchema, jsonBodyOf(ctx));
    const sub = push ? toSubscription(push) : null;
    if (sub && deps.allowPushEndpoint && !deps.allowPushEndpoint(new URL(sub.endpoint))) {
      throw new DeviceError('invalid_request', 400, 'push.endpoint: this push service is not allowed');
    }
    if (!(await deps.devices.setPush(ctx.state.device.id, sub))) {
      throw new DeviceError('device_revoked', 401, 'the device was revoked');
    }
    ctx.body = { pushStatus: sub ? 'active' : 'none' };
  };

  // The device key alone must not remove the second factor: unregistering proves a fresh TOTP.
  const unregister: Handler = async (ctx) => {
    const { device, otp } = ctx.state;
    await proveFreshTotp({ throttle: deps.throttle, devices: deps.devices }, device, await openTotpSecret(deps, device), otp, now());
    await deps.devices.revoke(device.id);
    await deps.onDeviceRevoked?.(device.accountId, device.id);
    await deps.audit.record({ type: 'device.revoked', accountId: device.accountId, ip: ctx.ip, detail: { deviceId: device.id, by: 'device' } });
    await deps.onDeviceRevoked?.(device.accountId, device.id);
    ctx.body = { status: 'revoked' };
  };

  // The whole API as a list: method, path, then each step in order (STYLE 2).
  const routes: Array<[method: 'get' | 'post' | 'put' | 'delete', path: string, ...steps: Step[]]> = [
    ['post', `${PREFIX}/enroll`, jsonBody, enrollHandler(deps)],
    ['get', `${PREFIX}/challenges`, authed, listChallenges],
    ['get', `${PREFIX}/challenges/:id`, authed, getChallenge],
    ['post', `${PREFIX}/challenges/:id/response`, jsonBody,
      respondHandler(deps, deps.responseRateLimit ?? DEFAULT_RESPONSE_RATE_LIMIT, now)],
    ['put', `${PREFIX}/push-subscription`, authed, jsonBody, updatePush],
    ['delete', PREFIX, authed, unregister],
  ];

  const router = new Router<DeviceState>();
  const edge = envelope(deps.log);
  for (const [method, path, ...steps] of routes) router[method](path, edge, ...steps);
  // Registered last, for every method: reached only when no route above answered.
  router.all(FALLBACK, `${PREFIX}{/*rest}`, edge, notFoundOrNotAllowed(router));
  return router;
}

/** 405 with Allow when the path exists under another method, else 404; both as JSON errors. */
function notFoundOrNotAllowed(router: Router<DeviceState>): Step {
  return async (ctx) => {
    const allowed = new Set(router.match(ctx.path, ctx.method).path
      .filter((layer) => layer.name !== FALLBACK)
      .flatMap((layer) => layer.methods));
    if (allowed.size === 0) throw new DeviceError('not_found', 404, 'no such device API endpoint');
    const allow = [...allowed].join(', ');
    if (ctx.method === 'OPTIONS') {
      ctx.set('Allow', allow);
      ctx.status = 204;
      return;
    }
    throw new DeviceError('method_not_allowed', 405, `use ${allow}`, { Allow: allow });
  };
}
