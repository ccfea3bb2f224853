import { b64url, fromB64url, randomB64url, utf8 } from './b64.js';
import { sha256 } from './keys.js';
import type { AssertionResponseJson, RegistrationOptionsJson, RegistrationResponseJson } from './types.js';

/**
 * User verification with a platform authenticator (fingerprint, face, device PIN), for accounts
 * whose policy.unlock is 'webauthn'. The IdP runs both ceremonies' checks; this app only obtains
 * what the authenticator says, in the JSON forms of W3C WebAuthn Level 3 (5.1.8).
 */

export function webauthnAvailable(): boolean {
  return typeof PublicKeyCredential !== 'undefined' && !!navigator.credentials;
}

/** Section 1a: runs the registration ceremony with the IdP's options (its challenge is bound to the enrollment code). */
export async function registerCredential(options: RegistrationOptionsJson): Promise<RegistrationResponseJson> {
  if (!webauthnAvailable()) throw new Error('This browser has no WebAuthn');
  const credential = (await navigator.credentials.create({
    publicKey: {
      rp: options.rp,
      user: { id: fromB64url(options.user.id), name: options.user.name, displayName: options.user.displayName || options.user.name },
      challenge: fromB64url(options.challenge),
      pubKeyCredParams: options.pubKeyCredParams.map((p) => ({ type: 'public-key' as const, alg: p.alg })),
      ...(options.authenticatorSelection ? { authenticatorSelection: options.authenticatorSelection } : {}),
      ...(options.excludeCredentials
        ? { excludeCredentials: options.excludeCredentials.map((c) => ({ type: 'public-key' as const, id: fromB64url(c.id) })) }
        : {}),
      attestation: options.attestation ?? 'none',
      timeout: options.timeout ?? 120_000,
    },
  })) as PublicKeyCredential | null;
  if (!credential) throw new Error('No credential was created');
  const response = credential.response as AuthenticatorAttestationResponse;
  const transports = response.getTransports?.();
  return {
    id: b64url(credential.rawId),
    rawId: b64url(credential.rawId),
    type: 'public-key',
    response: {
      clientDataJSON: b64url(response.clientDataJSON),
      attestationObject: b64url(response.attestationObject),
      ...(transports ? { transports } : {}),
    },
    ...(attachment(credential) ? { authenticatorAttachment: attachment(credential)! } : {}),
    clientExtensionResults: {},
  };
}

function attachment(credential: PublicKeyCredential): 'platform' | 'cross-platform' | null {
  const value = credential.authenticatorAttachment;
  return value === 'platform' || value === 'cross-platform' ? value : null;
}

/** The WebAuthn challenge for answering a push: SHA-256 over UTF-8 (challenge id + nonce). */
export function answerChallengeBytes(cid: string, nonce: string): Promise<Uint8Array<ArrayBuffer>> {
  return sha256(utf8(cid + nonce));
}

/** An assertion with user verification; throws NotAllowedError when the user cancels or fails. */
export async function assert(credentialId: string, challenge?: Uint8Array<ArrayBuffer>): Promise<AssertionResponseJson> {
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
    id: b64url(credential.rawId),
    rawId: b64url(credential.rawId),
    type: 'public-key',
    response: {
      clientDataJSON: b64url(response.clientDataJSON),
      authenticatorData: b64url(response.authenticatorData),
      signature: b64url(response.signature),
      ...(response.userHandle ? { userHandle: b64url(response.userHandle) } : {}),
    },
    ...(attachment(credential) ? { authenticatorAttachment: attachment(credential)! } : {}),
    clientExtensionResults: {},
  };
}
