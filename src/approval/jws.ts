import { decodeProtectedHeader, errors, importJWK, jwtVerify, type JWK, type JWTPayload, type ProtectedHeaderParameters } from 'jose';

/**
 * Compact-JWS plumbing shared by the answer check (docs/device-api.md section 4) and the
 * device-authenticated request check (docs/device-api.md section 2). Nothing here decides a verdict.
 */

/** Generous for a few claims; refuses megabyte headers before any parsing. */
const MAX_JWS_LENGTH = 8192;
/** RFC 7515 7.1: three base64url parts. The signature may be empty so that `alg: none` is named as such. */
const COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export interface ParsedHeader {
  alg: string;
  kid: string;
  typ: string | undefined;
}

/** The protected header when `jws` is a well-formed compact JWS with a string `alg` and `kid`, else null. */
export function parseHeader(jws: unknown): ParsedHeader | null {
  if (typeof jws !== 'string' || jws.length > MAX_JWS_LENGTH || !COMPACT.test(jws)) return null;
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    return null;
  }
  const { alg, kid, typ } = header;
  // The kid is looked up in PostgreSQL: printable ASCII only, as every device id is (a NUL there was a 500).
  if (typeof alg !== 'string' || typeof kid !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(kid)) return null;
  if (typ !== undefined && typeof typ !== 'string') return null;
  // RFC 7515 4.1.11: we understand no extensions (b64:false among them), so `crit` is refused.
  if ('crit' in header || 'b64' in header) return null;
  return { alg, kid, typ };
}

/** The `kid` of a compact JWS, so the caller can load the device first; never throws. */
export function readKid(jws: unknown): string | null {
  return parseHeader(jws)?.kid ?? null;
}

/** Imported device keys, by their coordinates: a phone signs twice per sign-in, and importing costs as much as verifying. */
const imported = new Map<string, Promise<CryptoKey | Uint8Array>>();
const MAX_IMPORTED = 10_000;

function publicKeyOf(x: string | undefined, y: string | undefined): Promise<CryptoKey | Uint8Array> {
  const id = `${x}.${y}`;
  let key = imported.get(id);
  if (!key) {
    key = importJWK({ kty: 'EC', crv: 'P-256', ...(x === undefined ? {} : { x }), ...(y === undefined ? {} : { y }) }, 'ES256');
    // A key that does not import is not kept: the next attempt fails the same way, uncached.
    key.catch(() => imported.delete(id));
    if (imported.size >= MAX_IMPORTED) imported.delete(imported.keys().next().value!);
    imported.set(id, key);
  }
  return key;
}

/** Why jwtVerify refused a token, in our terms. */
export type JwtRefusal =
  | { kind: 'bad_signature' }
  | { kind: 'bad_payload' }
  | { kind: 'expired' }
  /** A claim (or the `typ` header) jose checked and found wrong or missing. */
  | { kind: 'claim'; claim: string; reason: 'missing' | 'check_failed' };

export interface JwtChecks {
  /** RFC 8725 3.11 explicit typing (jose compares media types case-insensitively, `application/` optional). */
  typ: string;
  issuer?: string;
  audience?: string;
  requiredClaims: string[];
  /** Epoch milliseconds: `exp` (and `nbf`, when present) are judged at this time, without tolerance. */
  now: number;
}

/**
 * Verifies an ES256 JWT with the device's public key through jose's jwtVerify: the signature, the
 * payload being a JSON object, `typ`, `iss`, `aud`, the presence of `requiredClaims`, the types of
 * `iat`/`exp`/`nbf`, and expiry. Only kty/crv/x/y of the stored key are used, and
 * `algorithms: ['ES256']` pins the algorithm inside jose too (RFC 8725 3.1). What jose does not
 * know (DPoP's htm/htu, clock skew both ways, our claim shapes) stays with the pure callers.
 */
export async function verifyJwt(jws: string, publicJwk: JWK, checks: JwtChecks): Promise<{ ok: true; claims: JWTPayload } | { ok: false; refusal: JwtRefusal }> {
  if (publicJwk.kty !== 'EC' || publicJwk.crv !== 'P-256') return { ok: false, refusal: { kind: 'bad_signature' } };
  try {
    const key = await publicKeyOf(publicJwk.x, publicJwk.y);
    const { payload } = await jwtVerify(jws, key, {
      algorithms: ['ES256'], typ: checks.typ, requiredClaims: checks.requiredClaims, currentDate: new Date(checks.now),
      ...(checks.issuer === undefined ? {} : { issuer: checks.issuer }),
      ...(checks.audience === undefined ? {} : { audience: checks.audience }),
    });
    return { ok: true, claims: payload };
  } catch (err) {
    return { ok: false, refusal: refusalOf(err) };
  }
}

function refusalOf(err: unknown): JwtRefusal {
  if (err instanceof errors.JWTExpired) return { kind: 'expired' };
  if (err instanceof errors.JWTClaimValidationFailed) {
    return { kind: 'claim', claim: err.claim, reason: err.reason === 'missing' ? 'missing' : 'check_failed' };
  }
  // The signature held but the payload is not a JSON object (jose checks it after the signature).
  if (err instanceof errors.JWTInvalid) return { kind: 'bad_payload' };
  return { kind: 'bad_signature' };
}

export function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}
