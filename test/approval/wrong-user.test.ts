import { describe, expect, it } from '@jest/globals';
import { claimsFor, codeOf, makeChallenge, phone, verify } from './fixtures.js';

/**
 * Threat: a user with a device of their own (Mallory) answers the sign-in of another user (Alice),
 * approving it with a perfectly valid signature and passcode of Mallory's device.
 */
describe('wrong user', () => {
  it("Mallory's device cannot answer Alice's challenge (403 wrong_user)", async () => {
    const mallory = await phone('acct_mallory');
    const aliceChallenge = makeChallenge({ accountId: 'acct_alice' });
    const jws = await mallory.auth.signResponse(claimsFor(mallory.auth, aliceChallenge));
    expect(await verify(jws, mallory, aliceChallenge)).toMatchObject({ ok: false, code: 'wrong_user', status: 403 });
  });

  it("the same answer from Mallory's device is fine for Mallory's own challenge (control)", async () => {
    const mallory = await phone('acct_mallory');
    const own = makeChallenge({ accountId: 'acct_mallory' });
    expect(codeOf(await verify(await mallory.auth.signResponse(claimsFor(mallory.auth, own)), mallory, own))).toBe('ok');
  });

  it("Mallory putting Alice's device id as kid fails on Alice's key", async () => {
    const alice = await phone('acct_alice');
    const mallory = await phone('acct_mallory');
    const challenge = makeChallenge({ accountId: 'acct_alice' });
    const jws = await mallory.auth.signJws(claimsFor(alice.auth, challenge), { typ: 'pushotp-response+jwt', kid: alice.device.id });
    // The caller loads the device named by kid: Alice's.
    expect(codeOf(await verify(jws, alice, challenge))).toBe('invalid_signature');
  });

  it("a nonce from another of Alice's challenges is nonce_mismatch", async () => {
    const alice = await phone();
    const challenge = makeChallenge();
    const other = makeChallenge();
    const jws = await alice.auth.signResponse(claimsFor(alice.auth, challenge, { nonce: other.nonce }));
    expect(await verify(jws, alice, challenge)).toMatchObject({ ok: false, code: 'nonce_mismatch', status: 400 });
  });

  it('an answer for a challenge that does not exist is challenge_not_found', async () => {
    const alice = await phone();
    const challenge = makeChallenge();
    const jws = await alice.auth.signResponse(claimsFor(alice.auth, challenge));
    expect(await verify(jws, alice, null)).toMatchObject({ ok: false, code: 'challenge_not_found', status: 404 });
  });
});
