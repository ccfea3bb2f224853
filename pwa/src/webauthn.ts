import { b64url, fromB64url, randomB64url, utf8 } from './b64.js';
import { sha256 } from './keys.js';
import type { WebAuthnAssertion } from './api.js';

/**
 * User verification with a platform authenticator (fingerprint, face, device PIN), for accounts
 * whose policy.unlock is 'webauthn'. The IdP checks the assertion; this app only obtains it.
 */

export interface RegisteredCredential {
  credentialId: string;
  /** SubjectPublicKeyInfo DER, base64url. */
  publicKeySpki: string;
  /** COSE algorithm: -7 ES256, -257 RS256. */
  alg: number;
}

export function webauthnAvailable(): boolean {
  return typeof PublicKeyCredential !== 'undefined' && !!navigator.credentials;
}

export async function registerCredential(user: { name: string; displayName: string }): Promise<RegisteredCredential> {
  if (!webauthnAvailable()) throw new Error('This browser has no WebAuthn');
  const credential = (await navigator.credentials.create({
    publicKey: {
      rp: { name: 'Push OTP Authenticator' },
      user: { id: crypto.getRandomValues(new Uint8Array(16)), name: user.name, displayName: user.displayName || user.name },
      challenge: crypto.getRandomValues(new Uint8Array(32)),
      pubKeyCredParams: [
        { type: 'public-key', alg: -7 },
        { type: 'public-key', alg: -257 },
      ],
      authenticatorSelection: { authenticatorAttachment: 'platform', userVerification: 'required', residentKey: 'discouraged' },
      attestation: 'none',
      timeout: 120_000,
    },
  })) as PublicKeyCredential | null;
  if (!credential) throw new Error('No credential was created');
  const response = credential.response as AuthenticatorAttestationResponse;
  const spki = response.getPublicKey?.();
  if (!spki) throw new Error('This browser does not expose the credential key');
  return { credentialId: b64url(credential.rawId), publicKeySpki: b64url(spki), alg: response.getPublicKeyAlgorithm() };
}

/** The WebAuthn challenge for answering a push: SHA-256 over UTF-8 (challenge id + nonce). */
export function answerChallengeBytes(cid: string, nonce: string): Promise<Uint8Array<ArrayBuffer>> {
  return sha256(utf8(cid + nonce));
}

/** An assertion with user verification; throws NotAllowedError when the user cancels or fails. */
export async function assert(credentialId: string, challenge?: Uint8Array<ArrayBuffer>): Promise<WebAuthnAssertion> {
  const credential = (await navigator.credentials.get({
    publicKey: {
      challenge: challenge ?? fromB64url(randomB64url(32)),
      allowCredentials: [{ type: 'public-key', id: fromB64url(credentialId) }],
      userVerification: 'required',
      timeout: 120_000,
    },
  })) as PublicKeyCredential | null;
  if (!credential) throw new Error('No assertion');
  const response = credential.response as AuthenticatorAssertionResponse;
  return {
    credentialId: b64url(credential.rawId),
    clientDataJSON: b64url(response.clientDataJSON),
    authenticatorData: b64url(response.authenticatorData),
    signature: b64url(response.signature),
  };
}
