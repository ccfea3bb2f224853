import { describe, expect, it } from '@jest/globals';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { verifyWebAuthnAssertion, webauthnChallengeFor, type WebAuthnAssertion } from '../../src/approval/verify-webauthn.js';

/**
 * A thief with an unlocked-looking phone but not its owner's face or PIN: the approval must carry a
 * user-verifying WebAuthn assertion made for this very push, by the enrolled credential.
 */
const ORIGIN = 'https://idp.example.test';
const RP_ID = 'idp.example.test';
const b64 = (b: Buffer) => b.toString('base64url');

function authenticator() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const credential = { credentialId: b64(Buffer.from('cred-1')), publicKeySpki: b64(publicKey.export({ format: 'der', type: 'spki' })), alg: -7 };
  const assert = (o: { challenge: string; origin?: string; rpId?: string; flags?: number; type?: string; key?: typeof privateKey; credentialId?: string }): WebAuthnAssertion => {
    const clientDataJSON = Buffer.from(JSON.stringify({ type: o.type ?? 'webauthn.get', challenge: o.challenge, origin: o.origin ?? ORIGIN }));
    const authData = Buffer.concat([createHash('sha256').update(o.rpId ?? RP_ID).digest(), Buffer.from([o.flags ?? 0x05]), Buffer.from([0, 0, 0, 1])]);
    const signature = sign('sha256', Buffer.concat([authData, createHash('sha256').update(clientDataJSON).digest()]), o.key ?? privateKey);
    return { credentialId: o.credentialId ?? credential.credentialId, clientDataJSON: b64(clientDataJSON), authenticatorData: b64(authData), signature: b64(signature) };
  };
  return { credential, assert };
}

describe('WebAuthn assertion bound to a push', () => {
  const a = authenticator();
  const challenge = webauthnChallengeFor('cid-1', 'nonce-1');
  const check = (assertion: WebAuthnAssertion, expectedChallenge = challenge) =>
    verifyWebAuthnAssertion({ assertion, credential: a.credential, expectedChallenge, origin: ORIGIN, rpId: RP_ID });

  it('accepts the enrolled credential, user present and verified, for this challenge', () => {
    expect(check(a.assert({ challenge }))).toEqual({ ok: true });
  });

  it.each([
    ['another push', () => check(a.assert({ challenge: webauthnChallengeFor('cid-2', 'nonce-1') }))],
    ['user not verified (UV flag off)', () => check(a.assert({ challenge, flags: 0x01 }))],
    ['user not present', () => check(a.assert({ challenge, flags: 0x04 }))],
    ['another origin (phishing page)', () => check(a.assert({ challenge, origin: 'https://evil.example' }))],
    ['another RP ID', () => check(a.assert({ challenge, rpId: 'evil.example' }))],
    ['a registration, not an assertion', () => check(a.assert({ challenge, type: 'webauthn.create' }))],
    ['another authenticator\'s key', () => check(a.assert({ challenge, key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey }))],
    ['another credential id', () => check(a.assert({ challenge, credentialId: b64(Buffer.from('cred-2')) }))],
    ['a tampered signature', () => { const x = a.assert({ challenge }); return check({ ...x, signature: x.signature.slice(0, -4) + 'AAAA' }); }],
    ['garbage clientDataJSON', () => check({ ...a.assert({ challenge }), clientDataJSON: b64(Buffer.from('not json')) })],
  ])('refuses %s', (_name, run) => {
    expect(run().ok).toBe(false);
  });
});
