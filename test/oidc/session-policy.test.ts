import { describe, expect, it } from '@jest/globals';
import { DEFAULT_ACR } from '../../src/config/clients.js';
import { mayChangeDevices, requestedAcrs, sessionEndedBeforeItsSecond, sessionEndedSince, sessionSatisfies, sessionTooOld, sessionTtlSeconds } from '../../src/oidc/session-policy.js';

/** The pure decisions behind SSO and the self-service page, as tables. */
const open = { noDevice: 'password-only' as const, acr: { ...DEFAULT_ACR } };
const strict = { noDevice: 'refuse' as const, acr: { ...DEFAULT_ACR } };
const PWD = ['pwd'];
const MFA = ['pwd', 'otp', 'mfa'];

describe('sessionSatisfies: may an existing session sign in to this app without a new sign-in', () => {
  it.each([
    ['mfa session, refuse app', MFA, strict, true, [], true],
    ['mfa session, app asks for the mfa acr', MFA, open, true, [DEFAULT_ACR.mfa], true],
    ['password session, password-only app, never had a device', PWD, open, false, [], true],
    ['password session, refuse app', PWD, strict, false, [], false],
    ['password session, account now has (or had) a device', PWD, open, true, [], false],
    ['password session, acr_values asks for mfa only', PWD, open, false, [DEFAULT_ACR.mfa], false],
    ['password session, acr_values accepts the password acr', PWD, open, false, [DEFAULT_ACR.mfa, DEFAULT_ACR.password], true],
    ['no amr at all (a session from elsewhere)', undefined, open, false, ['urn:other'], false],
  ] as const)('%s', (_name, amr, policy, accountHasDevices, acrs, expected) => {
    expect(sessionSatisfies({ amr, policy, accountHasDevices, requestedAcrs: acrs })).toBe(expected);
  });
});

describe('session lifetimes (NIST SP 800-63B 7.2 at AAL2: 12 h absolute, 30 min idle)', () => {
  const life = { maxAgeSeconds: 12 * 3600, idleSeconds: 1800 };
  it.each([
    ['just signed in', 1000, 1000, false, 1800],
    ['11 h in', 1000, 1000 + 11 * 3600, false, 1800],
    ['20 min before the end: the idle limit is cut short', 1000, 1000 + 12 * 3600 - 1200, false, 1200],
    ['at 12 h', 1000, 1000 + 12 * 3600, true, 1],
    ['long past 12 h', 1000, 1000 + 48 * 3600, true, 1],
  ])('%s', (_name, loginTs, now, tooOld, ttl) => {
    expect(sessionTooOld(loginTs, now, life)).toBe(tooOld);
    expect(sessionTtlSeconds(loginTs, now, life)).toBe(ttl);
  });
  it('a session with no sign-in lives the idle limit and counts as too old for SSO', () => {
    expect(sessionTtlSeconds(undefined, 5, life)).toBe(1800);
    expect(sessionTooOld(undefined, 5, life)).toBe(true);
  });
});

describe('sessionEndedSince: did a new password, a disable, a revoke or a sign-out end this session', () => {
  it.each([
    ['never ended', 1000, null, false],
    ['signed in a second before the end', 999, 1000_500, true],
    ['signed in within the second of the end (whole seconds: counts as ended)', 1000, 1000_500, true],
    ['signed in after the end', 1001, 1000_500, false],
    ['no sign-in time', undefined, 1000_500, true],
  ])('%s', (_name, loginTs, endedAtMs, expected) => {
    expect(sessionEndedSince(loginTs, endedAtMs)).toBe(expected);
  });
  it('a page a sign-in just opened gives a session from the end\'s second the benefit of the doubt', () => {
    expect(sessionEndedBeforeItsSecond(1000, 1000_500)).toBe(false);
    expect(sessionEndedBeforeItsSecond(999, 1000_500)).toBe(true);
    expect(sessionEndedBeforeItsSecond(undefined, 1000_500)).toBe(true);
    expect(sessionEndedBeforeItsSecond(5, null)).toBe(false);
  });
});

describe('requestedAcrs: what an authorization request asks for', () => {
  it.each([
    [undefined, undefined, []],
    ['a b', undefined, ['a', 'b']],
    [undefined, { value: 'c', essential: true }, ['c']],
    ['a', { values: ['d', 7, 'e'] }, ['a', 'd', 'e']],
    [['not', 'a string'], { value: { nested: 1 } }, []],
  ])('acr_values %j, claim %j', (acrValues, claim, expected) => {
    expect(requestedAcrs(acrValues, claim as never)).toEqual(expected);
  });
});

describe('mayChangeDevices: enrolling or revoking on the self-service page', () => {
  const now = 10_000;
  it.each([
    ['second factor 1 min ago', MFA, now - 60, true, true],
    ['second factor 6 min ago', MFA, now - 360, true, false],
    ['password 1 min ago, first device', PWD, now - 60, false, true],
    ['password 1 min ago, account already has a device', PWD, now - 60, true, false],
    ['password 6 min ago, first device', PWD, now - 360, false, false],
  ])('%s', (_name, amr, authTime, accountHasDevices, expected) => {
    expect(mayChangeDevices({ amr, authTime, nowSeconds: now, accountHasDevices })).toBe(expected);
  });
});
