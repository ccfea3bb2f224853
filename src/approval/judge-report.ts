import type { Challenge } from '../challenge/types.js';
import type { Device } from '../devices/types.js';

/**
 * Whether a device may report a request it already denied as not the user's own (docs/device-api.md
 * section 4a: Deny, then "Was this you? / No, report it"). Only the device whose answer denied it:
 * that answer carried a fresh TOTP, and a report mutes the account's pushes, which a device key alone
 * must not do (red-team: any other device of the account, its key alone, muted them after a denial). Pure, like
 * verifyResponse: the caller marks the report once (atomically) and acts on it.
 *
 * Another user's request and a request no longer kept read alike (404): a device learns nothing about
 * other accounts. Only a denial by a phone can be reported: an approval was the user's own act, a
 * pending request should be answered with `report` itself, and an expiry or a withdrawal (no device)
 * pushed nothing the user refused. A one-step `report` already did everything a report does.
 */
export type ReportVerdict =
  | { ok: true }
  | { ok: false; code: 'challenge_not_found' | 'challenge_not_denied' | 'already_reported'; status: 404 | 409; description: string };

export function judgeReport(input: { challenge: Challenge | null; device: Pick<Device, 'id' | 'accountId'> }): ReportVerdict {
  const { challenge, device } = input;
  if (!challenge || challenge.accountId !== device.accountId) {
    return { ok: false, code: 'challenge_not_found', status: 404, description: 'no such sign-in request' };
  }
  const r = challenge.resolution;
  if (challenge.status !== 'denied' || !r || r.deviceId !== device.id) {
    return { ok: false, code: 'challenge_not_denied', status: 409, description: 'only a sign-in request denied on this phone can be reported' };
  }
  if (r.reason === 'reported') {
    return { ok: false, code: 'already_reported', status: 409, description: 'this sign-in request was already reported' };
  }
  return { ok: true };
}
