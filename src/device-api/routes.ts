import { SERVED_METHODS } from '../http/hostile.js';
import Router, { type RouterContext, type RouterMiddleware } from '@koa/router';
import { DeviceError } from '../devices/errors.js';
import { proveFreshTotp } from '../devices/otp-proof.js';
import { openTotpSecret } from '../devices/totp-secret.js';
import { toDeviceView } from './challenge-view.js';
import { DEVICE_API_PATH, type ChallengeListResponse, type PushUpdateResponse, type UnregisterResponse } from './contract.js';
import type { DeviceApiDeps } from './deps.js';
import { deviceAuth, type DeviceState } from './device-auth.js';
import { enrollHandler, registrationOptionsHandler } from './enroll.js';
import { jsonErrors } from '../http/edge.js';
import { jsonBody, jsonBodyOf, noStore } from './http.js';
import { DEFAULT_RESPONSE_RATE_LIMIT } from './rate-limit.js';
import { reportHandler } from './report.js';
import { respondHandler } from './respond.js';
import { parseBody, pushUpdateSchema, toSubscription } from './validate.js';

export type { DeviceApiDeps, DevicePolicy } from './deps.js';

/** The device API of docs/device-api.md, as one router the app mounts at the issuer's root. */

type Step = RouterMiddleware<DeviceState>;
type Handler = (ctx: RouterContext<DeviceState>) => Promise<void>;

const PREFIX = DEVICE_API_PATH;
/** A named route for every method and every path under the prefix, the prefix itself included. */
const FALLBACK = 'device-api-fallback';

export function createDeviceApi(deps: DeviceApiDeps): Router<DeviceState> {
  const now = deps.now ?? Date.now;
  const authed = deviceAuth({
    devices: deps.devices, redis: deps.redis, audience: `${deps.issuer}${PREFIX}`, now,
    pathPrefix: new URL(deps.issuer).pathname.replace(/\/+$/, ''), ...(deps.lastUse ? { lastUse: deps.lastUse } : {}),
  });

  const listChallenges: Handler = async (ctx) => {
    const at = now();
    const pending = await deps.challenges.listPending(ctx.state.device.accountId, at);
    const body: ChallengeListResponse = { challenges: pending.map((ch) => toDeviceView(ch, at)) };
    ctx.body = body;
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
    // Who receives a device's pushes is worth a trail (the key alone may change it): the push
    // service's host only, never the endpoint (its path is a capability).
    await deps.audit.record({ type: 'device.push_subscription', accountId: ctx.state.device.accountId, ip: ctx.ip, detail: { deviceId: ctx.state.device.id, pushService: sub ? new URL(sub.endpoint).host : null } });
    const body: PushUpdateResponse = { pushStatus: sub ? 'active' : 'none' };
    ctx.body = body;
  };

  // The device key alone must not remove the second factor: unregistering proves a fresh TOTP.
  const unregister: Handler = async (ctx) => {
    const { device, otp } = ctx.state;
    await proveFreshTotp({ throttle: deps.throttle, devices: deps.devices }, device, await openTotpSecret(deps, device.id), otp, now());
    await deps.devices.revoke(device.id);
    await deps.onDeviceRevoked?.(device.accountId, device.id);
    await deps.audit.record({ type: 'device.revoked', accountId: device.accountId, ip: ctx.ip, detail: { deviceId: device.id, by: 'device' } });
    const body: UnregisterResponse = { status: 'revoked' };
    ctx.body = body;
  };

  // The whole API as a list: method, path, then each step in order (as oidc-provider lists its endpoints' steps).
  const routes: Array<[method: 'get' | 'post' | 'put' | 'delete', path: string, ...steps: Step[]]> = [
    ['post', `${PREFIX}/enroll/webauthn-options`, jsonBody, registrationOptionsHandler(deps)],
    ['post', `${PREFIX}/enroll`, jsonBody, enrollHandler(deps)],
    ['get', `${PREFIX}/challenges`, authed, listChallenges],
    ['get', `${PREFIX}/challenges/:id`, authed, getChallenge],
    ['post', `${PREFIX}/challenges/:id/response`, jsonBody,
      respondHandler(deps, deps.responseRateLimit ?? DEFAULT_RESPONSE_RATE_LIMIT, now)],
    ['post', `${PREFIX}/challenges/:id/report`, authed, reportHandler(deps, now)],
    ['put', `${PREFIX}/push-subscription`, authed, jsonBody, updatePush],
    ['delete', PREFIX, authed, unregister],
  ];

  // Paths as written in docs/device-api.md only: letter case and a trailing slash are not ignored
  // (red-team: /API/Device/Enroll/ enrolled, past any proxy rule keyed on the documented path).
  const router = new Router<DeviceState>({ sensitive: true, strict: true });
  // The one edge (src/http/edge.ts) as this JSON API's first step, so the router answers its errors
  // as `{ error, error_description }` wherever it is mounted; then nothing it answers is cached.
  const edge = [jsonErrors(deps.log), noStore];
  for (const [method, path, ...steps] of routes) router[method](path, ...edge, ...steps);
  // Registered last, for every method: reached only when no route above answered.
  router.all(FALLBACK, `${PREFIX}{/*rest}`, ...edge, notFoundOrNotAllowed(router));
  return router;
}

const SERVED = new Set<string>(SERVED_METHODS);

/** 405 with Allow when the path exists under another method, else 404; both as JSON errors. */
function notFoundOrNotAllowed(router: Router<DeviceState>): Step {
  return async (ctx) => {
    const allowed = new Set(router.match(ctx.path, ctx.method).path
      .filter((layer) => layer.name !== FALLBACK)
      .flatMap((layer) => layer.methods));
    if (allowed.size === 0) {
      // A method no path of the IdP serves (TRACE, PROPFIND...) on a path that does not exist: the
      // edge's 405 (src/http/hostile.ts), not a 404, which a router mounted before this one would
      // turn into a 501 on the way back (review: TRACE /api/device/nope was a 500).
      if (!SERVED.has(ctx.method)) throw new DeviceError('method_not_allowed', 405, `${ctx.method} is not served here`, { Allow: SERVED_METHODS.join(', ') });
      throw new DeviceError('not_found', 404, 'no such device API endpoint');
    }
    const allow = [...allowed].join(', ');
    if (ctx.method === 'OPTIONS') {
      ctx.set('Allow', allow);
      ctx.status = 204;
      return;
    }
    throw new DeviceError('method_not_allowed', 405, `use ${allow}`, { Allow: allow });
  };
}
