import { describe, expect, it } from '@jest/globals';
import { totpAt, totpStep } from '../../src/otp/totp.js';
import { claimsFor, codeOf, makeChallenge, NOW, NOW_S, phone, verify } from './fixtures.js';

/**
 * Threat: a captured answer (or its passcode) is played again, to approve a later sign-in or to
 * answer the same one twice. RFC 6238 5.2 (a step is accepted once), the 60 s `iat` window, and
 * single resolution of a challenge each stop a different replay.
 */
describe('approval replay', () => {
  it('the same TOTP step cannot approve a second challenge', async () => {
    const alice = await phone();
    const first = makeChallenge();
    const verdict = await verify(await alice.auth.signResponse(claimsFor(alice.auth, first)), alice, first);
    expect(verdict).toMatchObject({ ok: true, outcome: 'approved', step: totpStep(NOW) });
    if (!verdict.ok) return;

    // The caller stored the accepted step; a second sign-in in the same 30 s gets the same code.
    const device = { ...alice.device, lastAnswerStep: verdict.step };
    const second = makeChallenge();
    const again = await verify(await alice.auth.signResponse(claimsFor(alice.auth, second)), alice, second, { device, now: NOW + 5_000 });
    expect(again).toMatchObject({ ok: false, code: 'otp_replayed', status: 400 });
  });

  it('an older step is refused once a newer one was accepted', async () => {
    const alice = await phone();
    const challenge = makeChallenge();
    const device = { ...alice.device, lastAnswerStep: totpStep(NOW) };
    const previous = totpAt(alice.auth.totpSecret, NOW - 30_000);
    const jws = await alice.auth.signResponse(claimsFor(alice.auth, challenge, { otp: previous }));
    expect(codeOf(await verify(jws, alice, challenge, { device }))).toBe('otp_replayed');
  });

  it('the next step after the stored one is accepted', async () => {
    const alice = await phone();
    const challenge = makeChallenge();
    const device = { ...alice.device, lastAnswerStep: totpStep(NOW) - 1 };
    const verdict = await verify(await alice.auth.signResponse(claimsFor(alice.auth, challenge)), alice, challenge, { device });
    expect(verdict).toMatchObject({ ok: true, step: totpStep(NOW) });
  });

  it('a deny also consumes its step', async () => {
    const alice = await phone();
    const challenge = makeChallenge();
    const verdict = await verify(await alice.auth.signResponse(claimsFor(alice.auth, challenge, { decision: 'deny' })), alice, challenge);
    expect(verdict).toMatchObject({ ok: true, outcome: 'denied', reason: 'denied', step: totpStep(NOW) });
  });

  it('an answer signed more than 60 s ago is stale_response; 60 s is still fine', async () => {
    const alice = await phone();
    const challenge = makeChallenge();
    const old = await alice.auth.signResponse(claimsFor(alice.auth, challenge, { iat: NOW_S - 61 }));
    expect(await verify(old, alice, challenge)).toMatchObject({ ok: false, code: 'stale_response', status: 400 });
    const edge = await alice.auth.signResponse(claimsFor(alice.auth, challenge, { iat: NOW_S - 60 }));
    expect(codeOf(await verify(edge, alice, challenge))).toBe('ok');
  });

  it('an answer dated more than 60 s ahead is stale_response too', async () => {
    const alice = await phone();
    const challenge = makeChallenge();
    const ahead = await alice.auth.signResponse(claimsFor(alice.auth, challenge, { iat: NOW_S + 61 }));
    expect(codeOf(await verify(ahead, alice, challenge))).toBe('stale_response');
  });

  it('the same answer posted again after the challenge was resolved is challenge_resolved', async () => {
    const alice = await phone();
    const challenge = makeChallenge();
    const jws = await alice.auth.signResponse(claimsFor(alice.auth, challenge));
    expect(codeOf(await verify(jws, alice, challenge))).toBe('ok');
    for (const status of ['approved', 'denied'] as const) {
      expect(await verify(jws, alice, { ...challenge, status }, { now: NOW + 1_000 })).toMatchObject({
        ok: false, code: 'challenge_resolved', status: 409,
      });
    }
  });

  it("an answer to one challenge cannot be posted for another (cid is signed)", async () => {
    const alice = await phone();
    const first = makeChallenge();
    const jws = await alice.auth.signResponse(claimsFor(alice.auth, first));
    const second = makeChallenge({ nonce: first.nonce });
    expect(await verify(jws, alice, second)).toMatchObject({ ok: false, code: 'challenge_not_found', status: 404 });
  });
});
