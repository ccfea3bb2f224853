import { describe, expect, it } from '@jest/globals';
import { claimsFor, codeOf, makeChallenge, phone, verify } from './fixtures.js';

/**
 * Threat: push fatigue. A user tapping "approve" on a flood of prompts must not approve an
 * attacker's sign-in: with number matching on, only the number shown on the login page approves,
 * and a wrong pick denies the sign-in outright (it does not invite another try).
 */
describe('number matching', () => {
  it('the number shown on the login page approves', async () => {
    const alice = await phone();
    const challenge = makeChallenge({ matchNumber: 42, numberChoices: [17, 42, 88] });
    const verdict = await verify(await alice.auth.signResponse(claimsFor(alice.auth, challenge, { number: 42 })), alice, challenge);
    expect(verdict).toMatchObject({ ok: true, outcome: 'approved', reason: null });
  });

  it('a wrong number is an answer that denies the sign-in', async () => {
    const alice = await phone();
    const challenge = makeChallenge({ matchNumber: 42, numberChoices: [17, 42, 88] });
    for (const number of [17, 88, 0, -42]) {
      const verdict = await verify(await alice.auth.signResponse(claimsFor(alice.auth, challenge, { number })), alice, challenge);
      expect(verdict).toMatchObject({ ok: true, decision: 'approve', outcome: 'denied', reason: 'wrong_number' });
    }
  });

  it('an approval without a number is number_required', async () => {
    const alice = await phone();
    const challenge = makeChallenge({ matchNumber: 42 });
    const { number: _dropped, ...claims } = claimsFor(alice.auth, challenge);
    expect(await verify(await alice.auth.signResponse(claims), alice, challenge)).toMatchObject({
      ok: false, code: 'number_required', status: 400,
    });
  });

  it('a string of 1 to 3 decimal digits is the same number', async () => {
    const alice = await phone();
    const challenge = makeChallenge({ matchNumber: 42, numberChoices: [17, 42, 88] });
    for (const [number, outcome] of [['42', 'approved'], ['042', 'approved'], ['17', 'denied'], ['0', 'denied'], ['999', 'denied']] as const) {
      const verdict = await verify(await alice.auth.signResponse({ ...claimsFor(alice.auth, challenge), number }), alice, challenge);
      expect(verdict).toMatchObject({ ok: true, outcome, reason: outcome === 'denied' ? 'wrong_number' : null });
      expect(verdict.ok && verdict.claims.number).toBe(Number(number));
    }
  });

  it('a number that is not an integer or a string of 1 to 3 digits is invalid_request', async () => {
    const alice = await phone();
    const challenge = makeChallenge({ matchNumber: 42 });
    for (const number of [42.5, '4.2', '-42', '+42', ' 42', '42 ', '0042', '', '0x2a', '4e1', '٤٢', null, true, [42], { n: 42 }]) {
      const jws = await alice.auth.signResponse({ ...claimsFor(alice.auth, challenge), number });
      expect(codeOf(await verify(jws, alice, challenge))).toBe('invalid_request');
    }
  });

  it('deny and report need no number', async () => {
    const alice = await phone();
    const challenge = makeChallenge({ matchNumber: 42 });
    const deny = await verify(await alice.auth.signResponse({ ...claimsFor(alice.auth, challenge, { decision: 'deny' }), number: undefined }), alice, challenge);
    expect(deny).toMatchObject({ ok: true, outcome: 'denied', reason: 'denied' });
    const report = await verify(await alice.auth.signResponse(claimsFor(alice.auth, challenge, { decision: 'report', number: 17 })), alice, challenge);
    expect(report).toMatchObject({ ok: true, decision: 'report', outcome: 'denied', reason: 'reported' });
  });

  it('with number matching off, an approval needs no number', async () => {
    const alice = await phone();
    const challenge = makeChallenge({ matchNumber: null, numberChoices: null });
    const verdict = await verify(await alice.auth.signResponse(claimsFor(alice.auth, challenge)), alice, challenge);
    expect(verdict).toMatchObject({ ok: true, outcome: 'approved' });
    expect(verdict.ok && verdict.claims.number).toBe(undefined);
  });
});
