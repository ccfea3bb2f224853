import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { decodeProtectedHeader, errors, UnsecuredJWT, type JWK, type JWTPayload, type ProtectedHeaderParameters } from 'jose';

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

/**
 * Pure: the protected header when `jws` is a well-formed compact JWS with a string `alg` and `kid`,
 * else what is wrong with it, in words an app's developer can act on (an independent authenticator
 * written from docs/device-api.md sent a padded JWS and was told only "not a compact JWS").
 */
export function inspectHeader(jws: unknown): ParsedHeader | string {
  if (typeof jws !== 'string' || jws.length === 0) return 'no JWS was sent';
  if (jws.length > MAX_JWS_LENGTH) return `it is longer than ${MAX_JWS_LENGTH} characters`;
  if (!COMPACT.test(jws)) return 'it is not three base64url parts joined by dots (RFC 7515 7.1: A-Z a-z 0-9 - _ only, no = padding)';
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    return 'its header is not base64url-encoded JSON';
  }
  const { alg, kid, typ } = header;
  if (typeof alg !== 'string') return 'its header has no alg';
  // The kid is looked up in PostgreSQL: printable ASCII only, as every device id is (a NUL there was a 500).
  if (typeof kid !== 'string') return 'its header has no kid (the device id)';
  if (!/^[\x21-\x7e]{1,128}$/.test(kid)) return 'its kid is not a device id (1-128 printable ASCII characters)';
  if (typ !== undefined && typeof typ !== 'string') return 'its typ is not a string';
  // RFC 7515 4.1.11: we understand no extensions (b64:false among them), so `crit` is refused.
  if ('crit' in header || 'b64' in header) return 'its header has crit or b64: no JWS extension is understood (RFC 7515 4.1.11)';
  return { alg, kid, typ };
}

/** The protected header when `jws` is a well-formed compact JWS with a string `alg` and `kid`, else null. */
export function parseHeader(jws: unknown): ParsedHeader | null {
  const header = inspectHeader(jws);
  return typeof header === 'string' ? null : header;
}

/** The `kid` of a compact JWS, so the caller can load the device first; never throws. */
export function readKid(jws: unknown): string | null {
  return parseHeader(jws)?.kid ?? null;
}

/**
 * The P-256 public key at (x, y), or null when those are not a point of the curve. Imported for
 * each verification and dropped with it (about 85 us), never kept: a KeyObject is two native
 * objects that V8 frees with weak callbacks, and kept ones (a cache of the last 1,000 phones' keys
 * once stood here) outlive two young-generation collections, so each is freed in the pause of a
 * full mark-compact. At 10,000 waiting sign-ins with phones approving, those frees took 33 ms of
 * each 48 ms full-GC pause (--trace-gc-nvp heap.external.weak_global_handles; perf: EVP_PKEY_free
 * under the GC's first-pass weak callbacks), and the accepted -> page answered p99 was 10-12 ms.
 * A key used once dies young and is freed a few at a time by the scavenges: pauses 14 ms, p99
 * 7.5-12.4 ms, median 8.8 (docs/performance.md, "Keys that die young").
 */
function publicKeyOf(x: unknown, y: unknown): KeyObject | null {
  if (typeof x !== 'string' || typeof y !== 'string') return null;
  try {
    return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x, y }, format: 'jwk' });
  } catch {
    return null;
  }
}

/**
 * RFC 7515 5.2 for ES256 (RFC 7518 3.4): the signature is R || S, 64 bytes, over the ASCII of
 * `header.payload`, verified with node:crypto (synchronous, no thread-pool hop).
 */
function signatureHolds(jws: string, key: KeyObject): boolean {
  const cut = jws.lastIndexOf('.');
  const signature = Buffer.from(jws.slice(cut + 1), 'base64url');
  if (signature.length !== 64) return false;
  return verify('sha256', Buffer.from(jws.slice(0, cut), 'latin1'), { key, dsaEncoding: 'ieee-p1363' }, signature);
}

/**
 * The same payload, as an unsecured JWT (RFC 7519 6) with the verified header's `typ`: jose's
 * claim checks (UnsecuredJWT.decode runs the validateClaimsSet that jwtVerify runs after the
 * signature) then judge it, once the signature has held.
 */
function unsecuredCopy(jws: string, typ: string | undefined): string {
  const header = Buffer.from(JSON.stringify(typ === undefined ? { alg: 'none' } : { alg: 'none', typ })).toString('base64url');
  return `${header}.${jws.split('.')[1]}.`;
}

/** Why a token was refused, in our terms. */
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
 * Verifies an ES256 JWT with the device's public key: the signature with node:crypto (above), then
 * jose's claim checks on the verified payload: it being a JSON object, `typ`, `iss`, `aud`, the
 * presence of `requiredClaims`, the types of `iat`/`exp`/`nbf`, and expiry. Only kty/crv/x/y of the
 * stored key are used, and only ES256 is accepted whatever the header says (RFC 8725 3.1). What jose
 * does not know (DPoP's htm/htu, clock skew both ways, our claim shapes) stays with the pure callers.
 */
export async function verifyJwt(jws: string, publicJwk: JWK, checks: JwtChecks): Promise<{ ok: true; claims: JWTPayload } | { ok: false; refusal: JwtRefusal }> {
  if (publicJwk.kty !== 'EC' || publicJwk.crv !== 'P-256') return { ok: false, refusal: { kind: 'bad_signature' } };
  const header = parseHeader(jws);
  const key = header?.alg === 'ES256' ? publicKeyOf(publicJwk.x, publicJwk.y) : null;
  if (!header || !key || !signatureHolds(jws, key)) return { ok: false, refusal: { kind: 'bad_signature' } };
  try {
    const { payload } = UnsecuredJWT.decode(unsecuredCopy(jws, header.typ), {
      typ: checks.typ, requiredClaims: checks.requiredClaims, currentDate: new Date(checks.now),
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
