import { createHash } from 'node:crypto';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { WebAuthnCredential } from '../devices/types.js';
import { clientDataProblem, webauthnLibrary } from '../devices/webauthn.js';

/** The WebAuthn challenge bound to one push challenge: SHA-256 over (challenge id + nonce), base64url. */
export function webauthnChallengeFor(cid: string, nonce: string): string {
  return createHash('sha256').update(cid + nonce, 'utf8').digest('base64url');
}

export type WebAuthnVerdict =
  | { ok: true; /** To store: the next assertion must exceed it (unless both are 0). */ newCounter: number; backedUp: boolean }
  | { ok: false; reason: string };

/**
 * W3C WebAuthn Level 3, 7.2 (verifying an authentication assertion) by @simplewebauthn/server, for
 * user verification bound to a push: the enrolled credential, type webauthn.get, not framed by
 * another origin (clientDataProblem), this push's
 * challenge, the issuer's origin and RP ID hash, user presence AND user verification, the signature,
 * and the signature counter (a counter that does not grow means a cloned authenticator, 6.1.1).
 * Pure: no I/O; the caller stores `newCounter` and `backedUp`.
 */
export async function verifyWebAuthnAssertion(input: {
  assertion: AuthenticationResponseJSON;
  credential: WebAuthnCredential;
  expectedChallenge: string;
  origin: string;
  rpId: string;
}): Promise<WebAuthnVerdict> {
  const { assertion, credential } = input;
  if (assertion.id !== credential.credentialId || assertion.rawId !== credential.credentialId) return { ok: false, reason: 'unknown credential' };
  const framed = clientDataProblem(assertion.response?.clientDataJSON);
  if (framed) return { ok: false, reason: framed };
  const { verifyAuthenticationResponse } = await webauthnLibrary();
  try {
    const result = await verifyAuthenticationResponse({
      response: assertion,
      expectedChallenge: input.expectedChallenge,
      expectedOrigin: input.origin,
      expectedRPID: input.rpId,
      requireUserVerification: true,
      credential: {
        id: credential.credentialId,
        publicKey: new Uint8Array(Buffer.from(credential.publicKey, 'base64url')),
        counter: credential.counter,
        ...(credential.transports ? { transports: credential.transports as never } : {}),
      },
    });
    if (!result.verified) return { ok: false, reason: 'bad signature' };
    return { ok: true, newCounter: result.authenticationInfo.newCounter, backedUp: result.authenticationInfo.credentialBackedUp };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : 'the assertion did not verify' };
  }
}
