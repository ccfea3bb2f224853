import { createHash } from 'node:crypto';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import { normalizeCode } from './enrollment-codes.js';
import type { WebAuthnCredential } from './types.js';

/**
 * The WebAuthn registration ceremony of an enrollment under the WebAuthn unlock policy (W3C
 * WebAuthn Level 3, 7.1), done by @simplewebauthn/server. Pure: options in, verdict out; the
 * enrollment stores what it returns.
 *
 * The challenge is bound to the enrollment code: SHA-256 over a label and the code's canonical
 * form. Only whoever holds the code can know it, a response made for one code is refused for any
 * other, and the code being single-use makes the challenge single-use too; no state is kept between
 * the options and the enrollment, so any IdP instance can answer either.
 */

/** COSE algorithms we take: ES256 and RS256 (what platform authenticators make). */
export const WEBAUTHN_ALGORITHMS = [-7, -257];

function challengeBytes(code: string): Uint8Array<ArrayBuffer> {
  const canonical = normalizeCode(code) ?? code;
  return new Uint8Array(createHash('sha256').update(`pushotp-webauthn-registration:${canonical}`, 'utf8').digest());
}

/** base64url of the registration challenge for this enrollment code. */
export function registrationChallengeFor(code: string): string {
  return Buffer.from(challengeBytes(code)).toString('base64url');
}

/**
 * The library, loaded on first use: a WebAuthn ceremony is rare, and importing it costs about 0.3 s
 * of CPU, which every IdP start, admin command and RADIUS server would otherwise pay.
 */
let library: Promise<typeof import('@simplewebauthn/server')> | null = null;
export function webauthnLibrary(): Promise<typeof import('@simplewebauthn/server')> {
  library ??= import('@simplewebauthn/server');
  return library;
}

export async function registrationOptions(input: { issuer: string; code: string; userName: string; userDisplayName: string }) {
  const { generateRegistrationOptions } = await webauthnLibrary();
  return generateRegistrationOptions({
    rpName: 'Push OTP',
    rpID: new URL(input.issuer).hostname,
    userName: input.userName,
    userDisplayName: input.userDisplayName,
    challenge: challengeBytes(input.code),
    timeout: 120_000,
    // Attestation 'none': we need a user-verifying key, not the authenticator's make and model.
    attestationType: 'none',
    authenticatorSelection: { authenticatorAttachment: 'platform', userVerification: 'required', residentKey: 'discouraged' },
    supportedAlgorithmIDs: WEBAUTHN_ALGORITHMS,
  });
}

export type RegistrationVerdict = { ok: true; credential: WebAuthnCredential } | { ok: false; reason: string };

/**
 * W3C WebAuthn 7.1 by the library: type webauthn.create, this code's challenge, the issuer's origin
 * and RP ID hash, user presence and user verification, an allowed algorithm, a well-formed
 * attestation object ('none' or a verifiable statement), the credential's public key.
 */
export async function verifyRegistration(input: { response: RegistrationResponseJSON; code: string; issuer: string }): Promise<RegistrationVerdict> {
  const issuer = new URL(input.issuer);
  const { verifyRegistrationResponse } = await webauthnLibrary();
  try {
    const result = await verifyRegistrationResponse({
      response: input.response,
      expectedChallenge: registrationChallengeFor(input.code),
      expectedOrigin: issuer.origin,
      expectedRPID: issuer.hostname,
      requireUserVerification: true,
      supportedAlgorithmIDs: WEBAUTHN_ALGORITHMS,
    });
    if (!result.verified) return { ok: false, reason: 'the registration did not verify' };
    const info = result.registrationInfo;
    return {
      ok: true,
      credential: {
        credentialId: info.credential.id,
        publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
        counter: info.credential.counter,
        ...(info.credential.transports ? { transports: info.credential.transports } : {}),
        backupEligible: info.credentialDeviceType === 'multiDevice',
        backedUp: info.credentialBackedUp,
      },
    };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : 'the registration did not verify' };
  }
}
