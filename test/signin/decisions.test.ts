import { describe, expect, it } from '@jest/globals';
import type { Challenge } from '../../src/challenge/types.js';
import { enrollmentPolicy } from '../../src/config/device-policy.js';
import type { Device } from '../../src/devices/types.js';
import { newTotpSecret, totpAt, totpStep } from '../../src/otp/totp.js';
import { amrFor } from '../../src/signin/amr.js';
import { canSendPush, PUSH_MAX_PER_SIGNIN, PUSH_RESEND_MIN_INTERVAL_MS, type SendDecision } from '../../src/signin/limits.js';
import { normalisePasscode } from '../../src/signin/passcode.js';
import { matchPasscode, type PasscodeMatch } from '../../src/signin/passcode-match.js';
import { pushTargetsOf } from '../../src/signin/push.js';
import { resolutionEffects, type ResolutionEffects } from '../../src/signin/resolution.js';
import { pushStatusOf, type PushStatus } from '../../src/signin/wait.js';

/**
 * The sign-in core's pure decisions, as tables (nextAfterPassword has its own: next-step.test.ts).
 * Each row is what a user or an attacker would end up with; the end-to-end tests in this folder
 * show the same through the pages.
 */

describe('amrFor: RFC 8176 methods for what really happened', () => {
  const rows: Array<[string, 'pwd' | 'upstream', string[], string[]]> = [
    ['password alone', 'pwd', [], ['pwd']],
    ['password and a typed passcode', 'pwd', ['otp'], ['pwd', 'otp', 'mfa']],
    ['password and a push approval (fresh TOTP + device key)', 'pwd', ['otp', 'swk'], ['pwd', 'otp', 'swk', 'mfa']],
    ['a push approval that also proved the user (WebAuthn)', 'pwd', ['otp', 'swk', 'user'], ['pwd', 'otp', 'swk', 'user', 'mfa']],
    // One method, of another kind than the upstream's (docs/entra.md); no mfa: this IdP did one factor.
    ['an upstream first factor: our second factor only, one method, not mfa', 'upstream', ['otp'], ['otp']],
    ['an upstream first factor and a push approval: otp alone', 'upstream', ['otp', 'swk'], ['otp']],
    ['a second factor listed twice counts once', 'pwd', ['otp', 'otp'], ['pwd', 'otp', 'mfa']],
    ['an upstream first factor and nothing else: not mfa', 'upstream', [], []],
  ];
  it.each(rows)('%s', (_name, first, second, amr) => {
    expect(amrFor(first, second)).toEqual(amr);
  });
});

describe('canSendPush: "Send again" is offered, but not as a bombing tool', () => {
  const now = 1_000_000;
  const rows: Array<[string, { count: number; lastAt: number | null }, SendDecision]> = [
    ['the first push', { count: 0, lastAt: null }, { ok: true }],
    ['again after the spacing', { count: 1, lastAt: now - PUSH_RESEND_MIN_INTERVAL_MS }, { ok: true }],
    ['again 1 ms too soon', { count: 1, lastAt: now - PUSH_RESEND_MIN_INTERVAL_MS + 1 }, { ok: false, reason: 'too_soon', retryInSeconds: 1 }],
    ['again at once', { count: 1, lastAt: now }, { ok: false, reason: 'too_soon', retryInSeconds: PUSH_RESEND_MIN_INTERVAL_MS / 1000 }],
    ['the last one allowed', { count: PUSH_MAX_PER_SIGNIN - 1, lastAt: now - 60_000 }, { ok: true }],
    ['one past the maximum, however long ago', { count: PUSH_MAX_PER_SIGNIN, lastAt: now - 3_600_000 }, { ok: false, reason: 'too_many', retryInSeconds: null }],
    ['the maximum wins over the spacing', { count: PUSH_MAX_PER_SIGNIN, lastAt: now }, { ok: false, reason: 'too_many', retryInSeconds: null }],
  ];
  it.each(rows)('%s', (_name, sent, decision) => {
    expect(canSendPush(sent, now)).toEqual(decision);
  });
});

describe('normalisePasscode: what counts as a passcode to check', () => {
  const rows: Array<[string, string | null]> = [
    ['123456', '123456'], ['12345678', '12345678'], ['123 456', '123456'], [' 1234 5678 ', '12345678'],
    ['', null], ['1', null], ['12345', null], ['1234567', null], ['123456789', null], ['12345a', null], ['１２３４５６', null],
  ];
  it.each(rows)('%j -> %j', (typed, passcode) => {
    expect(normalisePasscode(typed)).toBe(passcode);
  });
});

describe('matchPasscode: which device made a passcode, each step once per device (RFC 6238 5.2)', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 10);
  const a = newTotpSecret();
  const b = newTotpSecret();
  const step = totpStep(now);
  const device = (deviceId: string, secret: string, lastOtpStep = 0) => ({ deviceId, secret, lastOtpStep });
  const rows: Array<[string, ReturnType<typeof device>[], string, PasscodeMatch]> = [
    ['the first device, now', [device('a', a), device('b', b)], totpAt(a, now), { ok: true, deviceId: 'a', step }],
    ['the second device, now', [device('a', a), device('b', b)], totpAt(b, now), { ok: true, deviceId: 'b', step }],
    ['one step old (drift)', [device('a', a)], totpAt(a, now - 30_000), { ok: true, deviceId: 'a', step: step - 1 }],
    ['two steps old', [device('a', a)], totpAt(a, now - 60_000), { ok: false, reason: 'invalid_otp' }],
    ['already accepted step', [device('a', a, step)], totpAt(a, now), { ok: false, reason: 'otp_replayed' }],
    ['replayed on one device, fresh on the other', [device('a', a, step), device('b', b)], totpAt(b, now), { ok: true, deviceId: 'b', step }],
    ['no device', [], totpAt(a, now), { ok: false, reason: 'invalid_otp' }],
    // The code's length picks the digits (a device is enrolled with 6 or 8): 8 digits of the same secret match too.
    ['8 digits of the same secret', [device('a', a)], totpAt(a, now, 8), { ok: true, deviceId: 'a', step }],
    ['another secret\'s code', [device('a', a)], totpAt(newTotpSecret(), now), { ok: false, reason: 'invalid_otp' }],
  ];
  it.each(rows)('%s', (_name, candidates, passcode, match) => {
    expect(matchPasscode(candidates, passcode, now)).toEqual(match);
  });
});

describe('pushTargetsOf: the sender is told where to send', () => {
  const sub = (n: number) => ({ endpoint: `https://push.example/${n}`, keys: { p256dh: 'p', auth: 'a' } });
  const dev = (id: string, status: Device['status'], pushStatus: Device['pushStatus'], push: Device['push']) =>
    ({ id, status, pushStatus, push }) as Device;
  const rows: Array<[string, Device[], { targets: string[]; pollOnly: number }]> = [
    ['no devices', [], { targets: [], pollOnly: 0 }],
    ['one live subscription', [dev('a', 'active', 'active', sub(1))], { targets: ['a'], pollOnly: 0 }],
    ['poll mode (no subscription)', [dev('a', 'active', 'none', null)], { targets: [], pollOnly: 1 }],
    ['a dead subscription is never used again', [dev('a', 'active', 'dead', sub(1))], { targets: [], pollOnly: 1 }],
    ['a revoked device gets nothing and is not counted', [dev('a', 'revoked', 'active', sub(1)), dev('b', 'active', 'active', sub(2))], { targets: ['b'], pollOnly: 0 }],
    ['a mix', [dev('a', 'active', 'active', sub(1)), dev('b', 'active', 'none', null), dev('c', 'active', 'active', sub(3))], { targets: ['a', 'c'], pollOnly: 1 }],
  ];
  it.each(rows)('%s', (_name, devices, want) => {
    const got = pushTargetsOf(devices);
    expect({ targets: got.targets.map((t) => t.deviceId), pollOnly: got.pollOnly }).toEqual(want);
    for (const t of got.targets) expect(t.subscription).toBe(devices.find((d) => d.id === t.deviceId)!.push);
  });
});

describe('pushStatusOf: only a challenge made for this very sign-in can finish it', () => {
  const now = 10_000;
  const ch = (over: Partial<Challenge> = {}): Challenge => ({
    id: 'c', accountId: 'acct', signInId: 'signin-1', clientId: 'app', appName: 'App', nonce: 'n', matchNumber: null, numberChoices: null,
    ip: '198.51.100.1', browser: 'Firefox', location: null, createdAt: 0, expiresAt: now + 1, status: 'pending', resolution: null, ...over,
  });
  const resolved = (status: 'approved' | 'denied', reason: string | null) =>
    ch({ status, resolution: { status, deviceId: 'd', decision: status === 'approved' ? 'approve' : 'deny', reason, amr: [], at: 1 } });
  const rows: Array<[string, Challenge | null, PushStatus]> = [
    ['no challenge', null, { status: 'none', reason: null }],
    ['pending', ch(), { status: 'pending', reason: null }],
    ['pending past its expiry reads expired', ch({ expiresAt: now }), { status: 'expired', reason: 'expired' }],
    ['approved', resolved('approved', null), { status: 'approved', reason: null }],
    ['denied as a report', resolved('denied', 'reported'), { status: 'denied', reason: 'reported' }],
    ['another sign-in\'s challenge', ch({ signInId: 'signin-2', status: 'approved' }), { status: 'none', reason: null }],
    ['another account\'s challenge', ch({ accountId: 'other', status: 'approved' }), { status: 'none', reason: null }],
  ];
  it.each(rows)('%s', (_name, challenge, status) => {
    expect(pushStatusOf(challenge, 'signin-1', 'acct', now)).toEqual(status);
  });
});

describe('resolutionEffects: what a resolution does, whoever resolved it', () => {
  const rows: Array<[string, { status: 'approved' | 'denied' | 'expired'; reason: string | null }, number, ResolutionEffects]> = [
    ['an approval is the user\'s own sign-in: forgiven', { status: 'approved', reason: null }, 60_000, { forgive: true, mute: false }],
    ['a plain deny keeps counting as fatigue', { status: 'denied', reason: null }, 60_000, { forgive: false, mute: false }],
    ['a wrong number keeps counting', { status: 'denied', reason: 'wrong_number' }, 60_000, { forgive: false, mute: false }],
    ['a report mutes pushes', { status: 'denied', reason: 'reported' }, 60_000, { forgive: false, mute: true }],
    ['a report with muting off', { status: 'denied', reason: 'reported' }, 0, { forgive: false, mute: false }],
    ['a withdrawal (superseded) does nothing', { status: 'expired', reason: 'superseded' }, 60_000, { forgive: false, mute: false }],
    ['an expiry does nothing', { status: 'expired', reason: 'expired' }, 60_000, { forgive: false, mute: false }],
    ['a withdrawal with an end of sessions keeps counting (the end may leave the password as it was)', { status: 'expired', reason: 'sessions_ended' }, 60_000, { forgive: false, mute: false }],
  ];
  it.each(rows)('%s', (_name, resolution, muteMs, effects) => {
    expect(resolutionEffects(resolution, { muteMs })).toEqual(effects);
  });
});

describe('enrollmentPolicy: what a new authenticator is told', () => {
  const app = (numberMatching: boolean) => ({ login: { numberMatching } }) as Parameters<typeof enrollmentPolicy>[0][number];
  const settings = { deviceUnlock: 'none', pollIntervalSeconds: 5 } as Parameters<typeof enrollmentPolicy>[1];
  const rows: Array<[string, boolean[], boolean]> = [
    ['every app matches numbers', [true, true], true],
    ['one app does not', [true, false], false],
    ['no app at all', [], true],
  ];
  it.each(rows)('%s', (_name, apps, numberMatching) => {
    expect(enrollmentPolicy(apps.map(app), settings)).toEqual({ numberMatching, unlock: 'none', pollIntervalSeconds: 5 });
  });
});
