import { describe, expect, it } from '@jest/globals';
import { verifyDeviceAuth } from '../../src/approval/verify-device-auth.js';
import { RESPONSE_TYP } from '../../src/approval/verify-response.js';
import { AUDIENCE, claimsFor, codeOf, makeChallenge, NOW, NOW_S, phone, verify, type Phone } from './fixtures.js';

/**
 * What jose's jwtVerify checks for us since the claim checks moved to it (issue 11 item 7), beyond
 * what the hand-written checks did: a token not valid yet (`nbf`) is refused, an answer the device
 * itself limited in time (`exp`) is refused once past it, and `typ` is compared as a media type
 * (RFC 7515 4.1.9: case-insensitive, `application/` may be omitted).
 */
const PATH = '/api/device/challenges';
const honest = (p: Phone, over: Record<string, unknown> = {}) =>
  ({ iss: p.device.id, aud: AUDIENCE, htm: 'GET', htu: PATH, iat: NOW_S, exp: NOW_S + 60, jti: 'jti-0123456789abcdef', ...over });
const check = (jws: string, p: Phone) =>
  verifyDeviceAuth({ jws, device: p.device, method: 'GET', path: PATH, audience: AUDIENCE, now: NOW });

describe('device-auth token claims checked by jose', () => {
  it('refuses a token that is not valid yet (nbf in the future)', async () => {
    const alice = await phone();
    const verdict = await check(await alice.auth.signJws(honest(alice, { nbf: NOW_S + 30 }), { typ: 'device-auth+jwt' }), alice);
    expect(verdict).toMatchObject({ ok: false, code: 'invalid_token' });
  });

  it('takes typ as a media type: application/device-auth+jwt and another case are the same type', async () => {
    const alice = await phone();
    expect((await check(await alice.auth.signJws(honest(alice), { typ: 'application/device-auth+jwt' }), alice)).ok).toBe(true);
    expect((await check(await alice.auth.signJws(honest(alice, { jti: 'jti-fedcba9876543210' }), { typ: 'Device-Auth+JWT' }), alice)).ok).toBe(true);
  });

  it('still refuses a missing jti, iss of another device, and an expired token', async () => {
    const alice = await phone();
    const { jti: _jti, ...noJti } = honest(alice);
    expect(await check(await alice.auth.signJws(noJti, { typ: 'device-auth+jwt' }), alice)).toMatchObject({ ok: false, code: 'invalid_token' });
    expect(await check(await alice.auth.signJws(honest(alice, { iss: 'dev_other' }), { typ: 'device-auth+jwt' }), alice)).toMatchObject({ ok: false, code: 'invalid_token', description: 'iss must be the device id' });
    expect(await check(await alice.auth.signJws(honest(alice, { iat: NOW_S - 50, exp: NOW_S }), { typ: 'device-auth+jwt' }), alice)).toMatchObject({ ok: false, code: 'invalid_token', description: 'the token has expired' });
  });
});

describe('answer claims checked by jose', () => {
  it('refuses an answer past the exp the device put in it', async () => {
    const alice = await phone();
    const challenge = makeChallenge({ accountId: alice.device.accountId });
    const jws = await alice.auth.signJws({ ...claimsFor(alice.auth, challenge), exp: NOW_S - 1 }, { typ: RESPONSE_TYP });
    expect(codeOf(await verify(jws, alice, challenge))).toBe('stale_response');
  });

  it('refuses an answer without a required claim before looking at the challenge', async () => {
    const alice = await phone();
    const challenge = makeChallenge({ accountId: alice.device.accountId });
    const { otp: _otp, ...noOtp } = claimsFor(alice.auth, challenge);
    expect(codeOf(await verify(await alice.auth.signJws(noOtp, { typ: RESPONSE_TYP }), alice, challenge))).toBe('invalid_request');
  });
});
