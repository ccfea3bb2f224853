import { describe, expect, it } from '@jest/globals';
import { judgeReport } from '../../src/approval/judge-report.js';
import type { Challenge, Resolution } from '../../src/challenge/types.js';

/**
 * Which requests a phone may report after the fact (docs/device-api.md section 4a): only its own
 * user's, only once this phone denied it, and only once. Another user's request reads as absent.
 */
const base: Challenge = {
  id: 'c'.repeat(22), accountId: 'acct_alice', signInId: null, clientId: 'rp', appName: 'RP', nonce: 'n'.repeat(22),
  matchNumber: null, numberChoices: null, ip: '203.0.113.7', browser: 'Chrome on Linux', location: null,
  createdAt: 0, expiresAt: 120_000, status: 'pending', resolution: null,
};
const resolved = (r: Partial<Resolution> & Pick<Resolution, 'status'>): Challenge => ({
  ...base, status: r.status, resolution: { deviceId: 'dev_1', decision: 'deny', reason: 'denied', amr: [], at: 1000, ...r },
});
const alicePhone = { id: 'dev_1', accountId: 'acct_alice' };

describe('judgeReport', () => {
  it('accepts a denial by a phone, and a wrong-number denial', () => {
    expect(judgeReport({ challenge: resolved({ status: 'denied' }), device: alicePhone })).toEqual({ ok: true });
    expect(judgeReport({ challenge: resolved({ status: 'denied', decision: 'approve', reason: 'wrong_number' }), device: alicePhone })).toEqual({ ok: true });
  });

  it.each([
    ['absent', null, 'challenge_not_found', 404],
    ["another user's", { ...resolved({ status: 'denied' }), accountId: 'acct_bob' }, 'challenge_not_found', 404],
    ['pending', base, 'challenge_not_denied', 409],
    ['approved', resolved({ status: 'approved', decision: 'approve', reason: null, amr: ['otp', 'swk'] }), 'challenge_not_denied', 409],
    ['expired', resolved({ status: 'expired', deviceId: null, decision: null, reason: 'expired' }), 'challenge_not_denied', 409],
    ['denied without a device', resolved({ status: 'denied', deviceId: null }), 'challenge_not_denied', 409],
    // Red-team: another phone of the user, its key alone (no TOTP), muted the account's pushes.
    ['denied by another phone of the user', resolved({ status: 'denied', deviceId: 'dev_2' }), 'challenge_not_denied', 409],
    ['reported in one step', resolved({ status: 'denied', decision: 'report', reason: 'reported' }), 'already_reported', 409],
  ] as const)('refuses a request that is %s', (_what, challenge, code, status) => {
    expect(judgeReport({ challenge, device: alicePhone })).toMatchObject({ ok: false, code, status });
  });
});
