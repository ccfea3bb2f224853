import { createHash, createPublicKey } from 'node:crypto';
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

/** COSE key labels (RFC 9052 7.1, RFC 9053 7.1-7.2; RFC 8230 4). */
const COSE = { kty: 1, alg: 3, crv: -1, x: -2, y: -3, n: -1, e: -2 } as const;

/**
 * Pure: why a registered credential's public key is not one an approval can rely on, or null.
 * The library checks the COSE `alg` label only (red-team: an RSA key with exponent 1, whose
 * "signature" anyone can compute, enrolled and its approvals said `user`; a 512-bit modulus, a
 * point off P-256 and an ES256 label on RSA parameters enrolled too). ES256: a point on P-256
 * (node:crypto refuses one off the curve); RS256: at least 2048 bits, exponent 65537.
 */
export function credentialKeyProblem(cose: Map<number, unknown>): string | null {
  const bytes = (v: unknown) => (v instanceof Uint8Array ? Buffer.from(v) : null);
  const alg = cose.get(COSE.alg);
  const kty = cose.get(COSE.kty);
  if (alg === -7) {
    const x = bytes(cose.get(COSE.x));
    const y = bytes(cose.get(COSE.y));
    if (kty !== 2 || cose.get(COSE.crv) !== 1 || x?.length !== 32 || y?.length !== 32) return 'an ES256 credential must be a P-256 key';
    try {
      createPublicKey({ format: 'jwk', key: { kty: 'EC', crv: 'P-256', x: x.toString('base64url'), y: y.toString('base64url') } });
      return null;
    } catch {
      return 'the credential\'s key is not a point on P-256';
    }
  }
  if (alg === -257) {
    const n = bytes(cose.get(COSE.n));
    const e = bytes(cose.get(COSE.e));
    if (kty !== 3 || !n || !e) return 'an RS256 credential must be an RSA key';
    try {
      const details = createPublicKey({ format: 'jwk', key: { kty: 'RSA', n: n.toString('base64url'), e: e.toString('base64url') } }).asymmetricKeyDetails;
      if ((details?.modulusLength ?? 0) < 2048) return 'the credential\'s RSA key is shorter than 2048 bits';
      if (details?.publicExponent !== 65537n) return 'the credential\'s RSA key does not use the exponent 65537';
      return null;
    } catch {
      return 'the credential\'s RSA key is not valid';
    }
  }
  return 'the credential\'s algorithm is neither ES256 nor RS256';
}

/**
 * Pure: a packed self-attestation (no x5c) must be signed with the credential's own algorithm
 * (WebAuthn 8.2 verification, step "self attestation": alg matches the credential public key's).
 */
export function selfAttestationProblem(fmt: unknown, attStmt: Map<string, unknown> | undefined, cose: Map<number, unknown>): string | null {
  if (fmt !== 'packed' || !attStmt || attStmt.get('x5c') !== undefined) return null;
  return attStmt.get('alg') === cose.get(COSE.alg) ? null : 'the self-attestation\'s algorithm is not the credential\'s';
}

/**
 * Pure: why a ceremony's client data shows it ran in a frame of another site, or null. The library
 * checks type, challenge and origin but takes `crossOrigin: true` (W3C WebAuthn Level 3, 5.8.1:
 * the relying party decides whether to accept ceremonies in cross-origin iframes). Our pages and
 * the PWA refuse to be framed (frame-ancestors 'none'), so a ceremony that says it was framed did
 * not come from them unaltered: refused at enrollment and at every approval.
 */
export function clientDataProblem(clientDataJSON: unknown): string | null {
  let data: { crossOrigin?: unknown; topOrigin?: unknown };
  try {
    data = JSON.parse(Buffer.from(String(clientDataJSON), 'base64url').toString('utf8')) as typeof data;
  } catch {
    return 'the client data is not JSON';
  }
  if (data === null || typeof data !== 'object') return 'the client data is not a JSON object';
  if (data.crossOrigin === true || data.topOrigin !== undefined) return 'the ceremony ran in a frame of another origin (crossOrigin)';
  return null;
}

export type RegistrationVerdict = { ok: true; credential: WebAuthnCredential } | { ok: false; reason: string };

/**
 * W3C WebAuthn 7.1 by the library: type webauthn.create, this code's challenge, the issuer's origin
 * and RP ID hash, user presence and user verification, an allowed algorithm, a well-formed
 * attestation object ('none' or a verifiable statement), the credential's public key.
 */
export async function verifyRegistration(input: { response: RegistrationResponseJSON; code: string; issuer: string }): Promise<RegistrationVerdict> {
  const issuer = new URL(input.issuer);
  const framed = clientDataProblem(input.response?.response?.clientDataJSON);
  if (framed) return { ok: false, reason: framed };
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
    const { decodeAttestationObject, decodeCredentialPublicKey, isoBase64URL } = await import('@simplewebauthn/server/helpers');
    const cose = decodeCredentialPublicKey(info.credential.publicKey) as unknown as Map<number, unknown>;
    const attestation = decodeAttestationObject(isoBase64URL.toBuffer(input.response.response.attestationObject));
    const problem = credentialKeyProblem(cose)
      ?? selfAttestationProblem(attestation.get('fmt'), attestation.get('attStmt') as unknown as Map<string, unknown>, cose);
    if (problem) return { ok: false, reason: problem };
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
