import { compactVerify, decodeProtectedHeader, importJWK, type JWK, type ProtectedHeaderParameters } from 'jose';

/**
 * Compact-JWS plumbing shared by the answer check (device-api.md section 4) and the
 * device-authenticated request check (section 2). Nothing here decides a verdict.
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
    key = importJWK({ kty: 'EC', crv: 'P-256', x, y }, 'ES256');
    // A key that does not import is not kept: the next attempt fails the same way, uncached.
    key.catch(() => imported.delete(id));
    if (imported.size >= MAX_IMPORTED) imported.delete(imported.keys().next().value!);
    imported.set(id, key);
  }
  return key;
}

/**
 * Verifies an ES256 signature with the device's public key and returns the parsed JSON payload
 * object, 'bad_signature', or 'bad_payload'. Only kty/crv/x/y of the stored key are used, and
 * `algorithms: ['ES256']` pins the algorithm again inside jose (RFC 8725 3.1).
 */
export async function verifyEs256(jws: string, publicJwk: JWK): Promise<Record<string, unknown> | 'bad_signature' | 'bad_payload'> {
  let payload: Uint8Array;
  try {
    if (publicJwk.kty !== 'EC' || publicJwk.crv !== 'P-256') return 'bad_signature';
    const key = await publicKeyOf(publicJwk.x, publicJwk.y);
    ({ payload } = await compactVerify(jws, key, { algorithms: ['ES256'] }));
  } catch {
    return 'bad_signature';
  }
  try {
    const claims: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
    if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) return 'bad_payload';
    return claims as Record<string, unknown>;
  } catch {
    return 'bad_payload';
  }
}

export function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}
