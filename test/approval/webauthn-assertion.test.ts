import { beforeAll, describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { verifyWebAuthnAssertion, webauthnChallengeFor } from '../../src/approval/verify-webauthn.js';
import type { WebAuthnCredential } from '../../src/devices/types.js';
import { registrationOptions, verifyRegistration } from '../../src/devices/webauthn.js';
import type { AssertionResponseJson } from '../../src/device-api/contract.js';
import { SoftwareWebAuthn } from '../support/webauthn-authenticator.js';

/**
 * A thief with an unlocked-looking phone but not its owner's face or PIN: the approval must carry a
 * user-verifying WebAuthn assertion made for this very push, by the enrolled credential, and (since
 * @simplewebauthn/server checks it) with a signature counter above the last one seen, so a cloned
 * authenticator's assertion is refused.
 */
const ORIGIN = 'https://idp.example.test';
const RP_ID = 'idp.example.test';
const CODE = 'ABCD-EFGH-JKMN-PQRS';

let sw: SoftwareWebAuthn;
let credential: WebAuthnCredential;

beforeAll(async () => {
  sw = new SoftwareWebAuthn(ORIGIN);
  const options = await registrationOptions({ issuer: ORIGIN, code: CODE, userName: 'alice', userDisplayName: 'Alice' });
  const verdict = await verifyRegistration({ response: sw.create(options) as never, code: CODE, issuer: ORIGIN });
  if (!verdict.ok) throw new Error(verdict.reason);
  credential = verdict.credential;
});

describe('WebAuthn assertion bound to a push', () => {
  const challenge = webauthnChallengeFor('cid-1', 'nonce-1');
  const check = (assertion: AssertionResponseJson, stored: WebAuthnCredential = credential) =>
    verifyWebAuthnAssertion({ assertion: assertion as never, credential: stored, expectedChallenge: challenge, origin: ORIGIN, rpId: RP_ID });

  it('accepts the enrolled credential, user present and verified, for this challenge, and says what to store', async () => {
    const verdict = await check(sw.assert(challenge, { counter: 5 }));
    expect(verdict).toEqual({ ok: true, newCounter: 5, backedUp: false });
  });

  it.each<[string, () => AssertionResponseJson]>([
    ['another push', () => sw.assert(webauthnChallengeFor('cid-2', 'nonce-1'))],
    ['user not verified (UV flag off)', () => sw.assert(challenge, { flags: 0x01 })],
    ['user not present', () => sw.assert(challenge, { flags: 0x04 })],
    ['another origin (phishing page)', () => sw.assert(challenge, { origin: 'https://evil.example' })],
    ['another RP ID', () => sw.assert(challenge, { rpId: 'evil.example' })],
    ['a registration, not an assertion', () => sw.assert(challenge, { type: 'webauthn.create' })],
    ["another authenticator's key", () => sw.assert(challenge, { key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey })],
    ['another credential id', () => ({ ...sw.assert(challenge), id: 'Y3JlZC0y', rawId: 'Y3JlZC0y' })],
    ['a tampered signature', () => { const x = sw.assert(challenge); return { ...x, response: { ...x.response, signature: x.response.signature.slice(0, -4) + 'AAAA' } }; }],
    ['garbage clientDataJSON', () => { const x = sw.assert(challenge); return { ...x, response: { ...x.response, clientDataJSON: Buffer.from('not json').toString('base64url') } }; }],
  ])('refuses %s', async (_name, make) => {
    expect((await check(make())).ok).toBe(false);
  });

  it('refuses a counter that did not grow (a cloned authenticator, W3C WebAuthn 6.1.1)', async () => {
    const seen = { ...credential, counter: 7 };
    expect((await check(sw.assert(challenge, { counter: 7 }), seen)).ok).toBe(false);
    expect((await check(sw.assert(challenge, { counter: 3 }), seen)).ok).toBe(false);
    expect(await check(sw.assert(challenge, { counter: 8 }), seen)).toMatchObject({ ok: true, newCounter: 8 });
  });
});

describe('WebAuthn registration at enrollment', () => {
  const options = () => registrationOptions({ issuer: ORIGIN, code: CODE, userName: 'alice', userDisplayName: 'Alice' });

  it('asks for a platform authenticator with user verification, and binds the challenge to the code', async () => {
    const o = await options();
    expect(o).toMatchObject({ rp: { id: RP_ID }, attestation: 'none', authenticatorSelection: { authenticatorAttachment: 'platform', userVerification: 'required' } });
    expect(o.challenge).toBe((await options()).challenge);
    expect(o.challenge).not.toBe((await registrationOptions({ issuer: ORIGIN, code: 'ZZZZ-EFGH-JKMN-PQRS', userName: 'a', userDisplayName: 'a' })).challenge);
  });

  it.each<[string, (o: Awaited<ReturnType<typeof options>>) => unknown, string?]>([
    ['a response made for another code', (o) => new SoftwareWebAuthn(ORIGIN).create(o), 'ZZZZ-EFGH-JKMN-PQRS'],
    ['no user verification', (o) => new SoftwareWebAuthn(ORIGIN).create(o, { flags: 0x41 })],
    ['another origin', (o) => new SoftwareWebAuthn(ORIGIN).create(o, { origin: 'https://evil.example' })],
    ['another RP ID', (o) => new SoftwareWebAuthn(ORIGIN).create(o, { rpId: 'evil.example' })],
    ['an assertion instead of a registration', (o) => new SoftwareWebAuthn(ORIGIN).create(o, { type: 'webauthn.get' })],
  ])('refuses %s', async (_name, make, code = CODE) => {
    expect((await verifyRegistration({ response: make(await options()) as never, code, issuer: ORIGIN })).ok).toBe(false);
  });
});
