import type { DeviceAuthVerdict, VerifyDeviceAuthInput } from './types.js';
import { inspectHeader, isInteger, verifyJwt, type JwtRefusal } from './jws.js';

export { readKid } from './jws.js';

/**
 * Checks the `Authorization: Device <JWS>` of a device-authenticated request (docs/device-api.md
 * section 2). Pure, like verifyResponse. The claims follow DPoP (RFC 9449 4.2: htm, htu, iat, jti)
 * with an audience and a short `exp`. jose's jwtVerify checks the signature, `typ`, `iss`, `aud`,
 * the claims' presence and `exp`; the rest (DPoP's htm/htu, `iat` within 60 s either way, the
 * lifetime cap, the jti's shape) is checked here. The caller must still refuse a reused `jti` (SET NX in Redis
 * until `exp`): that check needs shared state.
 */

export const DEVICE_AUTH_TYP = 'device-auth+jwt';
export const DEVICE_AUTH_MAX_SKEW_S = 60;
export const DEVICE_AUTH_MAX_LIFETIME_S = 120;
/** 16 characters at least (documented); the cap keeps Redis keys small. */
const JTI = /^[\x21-\x7e]{16,128}$/;

type Refusal = Extract<DeviceAuthVerdict, { ok: false }>;

function refuse(code: Refusal['code'], description: string): Refusal {
  return { ok: false, code, status: 401, description };
}

/** RFC 9449 4.3 compares htu without query and fragment; the caller may pass either form. */
function pathOnly(path: string): string {
  const cut = path.search(/[?#]/);
  return cut === -1 ? path : path.slice(0, cut);
}

/** `aud` is `audience`, or a non-empty array of strings that holds it. */
function audienceHolds(aud: unknown, audience: string): boolean {
  if (aud === audience) return true;
  return Array.isArray(aud) && aud.every((a) => typeof a === 'string') && aud.includes(audience);
}

export async function verifyDeviceAuth(input: VerifyDeviceAuthInput): Promise<DeviceAuthVerdict> {
  const { jws, device, method, path, audience, now } = input;

  const header = inspectHeader(jws);
  if (typeof header === 'string') return refuse('invalid_token', `the Device authorization is not a compact JWS we take: ${header}`);
  // RFC 8725 3.1: only ES256, whatever the token says (no `none`, no HS256 keyed with the public key).
  if (header.alg !== 'ES256') return refuse('unsupported_alg', 'alg must be ES256');
  if (!device || device.id !== header.kid) return refuse('unknown_device', 'no device has this kid');
  if (device.status === 'revoked') return refuse('device_revoked', 'the device was revoked');

  const nowS = now / 1000;
  const verified = await verifyJwt(jws, device.publicJwk, {
    typ: DEVICE_AUTH_TYP, issuer: device.id, audience, requiredClaims: ['iat', 'exp', 'jti', 'htm', 'htu'], now,
  });
  if (!verified.ok) return refuse('invalid_token', describe(verified.refusal));
  const claims = verified.claims as Record<string, unknown>;
  const { aud, htm, htu, iat, exp, jti } = claims;
  // RFC 7519 4.1.3: the audience as a string, or an array of strings holding it (jose checked the
  // latter holds it; its other members must be strings too).
  if (!audienceHolds(aud, audience)) return refuse('invalid_token', 'wrong aud');
  if (htm !== method.toUpperCase()) return refuse('invalid_token', 'htm does not match the request method');
  if (htu !== pathOnly(path)) return refuse('invalid_token', 'htu does not match the request path');
  if (!isInteger(iat) || !isInteger(exp)) return refuse('invalid_token', 'iat and exp must be integers (epoch seconds)');
  if (Math.abs(iat - nowS) > DEVICE_AUTH_MAX_SKEW_S) return refuse('invalid_token', 'iat is more than 60 s from the server clock');
  if (exp > iat + DEVICE_AUTH_MAX_LIFETIME_S) return refuse('invalid_token', 'exp is more than 120 s after iat');
  if (exp <= iat) return refuse('invalid_token', 'exp must be after iat');
  if (typeof jti !== 'string' || !JTI.test(jti)) return refuse('invalid_token', 'jti must be 16 to 128 printable characters');

  return { ok: true, deviceId: device.id, jti, exp, otp: typeof claims.otp === 'string' ? claims.otp : null };
}

function describe(refusal: JwtRefusal): string {
  switch (refusal.kind) {
    case 'bad_signature': return "the signature does not verify with the device's key";
    case 'bad_payload': return 'the payload is not a JSON object';
    case 'expired': return 'the token has expired';
    case 'claim':
      // RFC 8725 3.11: explicit typing keeps a signed answer (section 4) from serving as a request token.
      if (refusal.claim === 'typ') return `typ must be ${DEVICE_AUTH_TYP}`;
      if (refusal.claim === 'iss') return 'iss must be the device id';
      if (refusal.claim === 'aud') return 'wrong aud';
      return refusal.reason === 'missing' ? `the ${refusal.claim} claim is missing` : `the ${refusal.claim} claim is invalid`;
  }
}
