import { createHash, createPublicKey, verify } from 'node:crypto';

/** A credential registered at enrollment (the PWA's platform authenticator). */
export interface WebAuthnCredential {
  credentialId: string;
  /** SubjectPublicKeyInfo, DER, base64url. */
  publicKeySpki: string;
  /** COSE algorithm: -7 (ES256) or -257 (RS256). */
  alg: number;
}

/** An assertion as navigator.credentials.get() gives it, members base64url. */
export interface WebAuthnAssertion {
  credentialId: string;
  clientDataJSON: string;
  authenticatorData: string;
  signature: string;
}

export type WebAuthnVerdict = { ok: true } | { ok: false; reason: string };

/** The WebAuthn challenge bound to one push challenge: SHA-256 over (challenge id + nonce), base64url. */
export function webauthnChallengeFor(cid: string, nonce: string): string {
  return createHash('sha256').update(cid + nonce, 'utf8').digest('base64url');
}

const b64 = (s: string) => Buffer.from(s, 'base64url');

/**
 * W3C WebAuthn Level 2, 7.2 (verifying an authentication assertion), for user verification bound
 * to a push: the right credential, type webauthn.get, the expected challenge and origin, the RP ID
 * hash, user presence AND user verification flags, and the signature over authenticatorData ||
 * SHA-256(clientDataJSON). Pure: no I/O, a verdict.
 */
export function verifyWebAuthnAssertion(input: {
  assertion: WebAuthnAssertion;
  credential: WebAuthnCredential;
  expectedChallenge: string;
  origin: string;
  rpId: string;
}): WebAuthnVerdict {
  const { assertion, credential } = input;
  if (assertion.credentialId !== credential.credentialId) return { ok: false, reason: 'unknown credential' };
  let client: { type?: unknown; challenge?: unknown; origin?: unknown };
  try {
    client = JSON.parse(b64(assertion.clientDataJSON).toString('utf8')) as typeof client;
  } catch {
    return { ok: false, reason: 'clientDataJSON is not JSON' };
  }
  if (client.type !== 'webauthn.get') return { ok: false, reason: 'not an assertion' };
  if (client.challenge !== input.expectedChallenge) return { ok: false, reason: 'challenge mismatch' };
  if (client.origin !== input.origin) return { ok: false, reason: 'origin mismatch' };
  const authData = b64(assertion.authenticatorData);
  if (authData.length < 37) return { ok: false, reason: 'authenticatorData too short' };
  const rpIdHash = createHash('sha256').update(input.rpId, 'utf8').digest();
  if (!authData.subarray(0, 32).equals(rpIdHash)) return { ok: false, reason: 'RP ID mismatch' };
  const flags = authData[32]!;
  if (!(flags & 0x01)) return { ok: false, reason: 'user not present' };
  if (!(flags & 0x04)) return { ok: false, reason: 'user not verified' };
  if (credential.alg !== -7 && credential.alg !== -257) return { ok: false, reason: 'unsupported algorithm' };
  try {
    const key = createPublicKey({ key: b64(credential.publicKeySpki), format: 'der', type: 'spki' });
    const signed = Buffer.concat([authData, createHash('sha256').update(b64(assertion.clientDataJSON)).digest()]);
    // ES256 assertions carry a DER-encoded ECDSA signature, node's default; RS256 is PKCS#1 v1.5.
    return verify('sha256', signed, key, b64(assertion.signature)) ? { ok: true } : { ok: false, reason: 'bad signature' };
  } catch {
    return { ok: false, reason: 'bad key or signature' };
  }
}
