import { describe, expect, it } from '@jest/globals';
import { totpAt } from '../../src/otp/totp.js';
import { claimsFor, codeOf, makeChallenge, NOW, phone, verify } from './fixtures.js';

/**
 * Threat: an answer arriving after the sign-in request's life (120 s) still approves it, e.g. a
 * prompt left on a lost phone's lock screen, or a passcode written down long ago.
 */
describe('expiry', () => {
  it('an answer at or after expiresAt is challenge_expired (410); one millisecond before is fine', async () => {
    const alice = await phone();
    const challenge = makeChallenge({ expiresAt: NOW + 20_000 });
    const jws = await alice.auth.signResponse(claimsFor(alice.auth, challenge));
    expect(codeOf(await verify(jws, alice, challenge, { now: NOW + 19_999 }))).toBe('ok');
    expect(await verify(jws, alice, challenge, { now: NOW + 20_000 })).toMatchObject({ ok: false, code: 'challenge_expired', status: 410 });
    expect(codeOf(await verify(jws, alice, challenge, { now: NOW + 50_000 }))).toBe('challenge_expired');
  });

  it('a challenge the store marked expired is challenge_expired even inside its time', async () => {
    const alice = await phone();
    const challenge = makeChallenge({ status: 'expired' });
    const jws = await alice.auth.signResponse(claimsFor(alice.auth, challenge));
    expect(await verify(jws, alice, challenge)).toMatchObject({ ok: false, code: 'challenge_expired', status: 410 });
  });

  it('a passcode two steps old is invalid_otp, one step old is accepted (RFC 6238 5.2)', async () => {
    const alice = await phone();
    const challenge = makeChallenge();
    const twoOld = await alice.auth.signResponse(claimsFor(alice.auth, challenge, { otp: totpAt(alice.auth.totpSecret, NOW - 60_000) }));
    expect(await verify(twoOld, alice, challenge)).toMatchObject({ ok: false, code: 'invalid_otp', status: 400 });
    const oneOld = await alice.auth.signResponse(claimsFor(alice.auth, challenge, { otp: totpAt(alice.auth.totpSecret, NOW - 30_000) }));
    expect(codeOf(await verify(oneOld, alice, challenge))).toBe('ok');
  });

  it('a passcode of another secret is invalid_otp', async () => {
    const alice = await phone();
    const bob = await phone();
    const challenge = makeChallenge();
    const jws = await alice.auth.signResponse(claimsFor(alice.auth, challenge, { otp: bob.auth.currentTotp() }));
    expect(codeOf(await verify(jws, alice, challenge))).toBe('invalid_otp');
  });
});
