import type { RouterContext } from '@koa/router';
import { judgeReport } from '../approval/judge-report.js';
import type { Resolution } from '../challenge/types.js';
import { DeviceError } from '../devices/errors.js';
import type { ReportResult } from './contract.js';
import type { DeviceApiDeps } from './deps.js';
import type { DeviceState } from './device-auth.js';
import { afterResolved } from './respond.js';
import { CHALLENGE_ID } from './validate.js';

/**
 * docs/device-api.md section 4a: Deny, then "Was this you? — No, report it". The device key signs the
 * call (section 2, checked by deviceAuth before this runs); judgeReport (pure) decides; the report
 * is marked once in Redis (SET NX: of two concurrent reports exactly one passes); then it does what
 * a one-step `report` answer does: audit `push.reported`, and the resolution policy mutes pushes to
 * the account (src/signin/resolution.ts). The challenge itself stays 'denied' with its reason: the
 * computer's waiting page keeps saying only that the request was denied.
 */

/** Outlives any challenge record (expiry plus the store's keep time): a report can never be marked twice. */
const REPORT_MARK_KEEP_MS = 24 * 3_600_000;
const reportMark = (challengeId: string) => `chreport:${challengeId}`;

export function reportHandler(deps: DeviceApiDeps, now: () => number) {
  return async (ctx: RouterContext<DeviceState>): Promise<void> => {
    const { device } = ctx.state;
    const at = now();
    const id = ctx.params.id ?? '';
    const challenge = CHALLENGE_ID.test(id) ? await deps.challenges.get(id, at) : null;
    const verdict = judgeReport({ challenge, device });
    if (!verdict.ok) throw new DeviceError(verdict.code, verdict.status, verdict.description);
    const denied = challenge!.resolution!;
    if ((await deps.redis.set(reportMark(challenge!.id), device.id, 'PX', REPORT_MARK_KEEP_MS, 'NX')) !== 'OK') {
      throw new DeviceError('already_reported', 409, 'this sign-in request was already reported');
    }
    const reported: Resolution = { ...denied, decision: 'report', reason: 'reported', at };
    await afterResolved(deps, ctx, challenge!, reported, 'push.reported', device.id);
    const body: ReportResult = { status: 'reported', pausedUntil: (await deps.pushPausedUntil?.(device.accountId, at)) ?? null };
    ctx.body = body;
  };
}
