import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** SHA-256, base64url without padding. Single-use secrets (enrollment codes) are stored this way. */
export function sha256b64url(input: string | Uint8Array): string {
  return createHash('sha256').update(input).digest('base64url');
}

/**
 * Constant-time equality for secrets of any length. timingSafeEqual throws on unequal lengths and
 * an early length check would leak the length, so both sides are hashed to 32 bytes first and the
 * lengths are compared only after the constant-time digest comparison.
 */
export function safeEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  const ba = typeof a === 'string' ? Buffer.from(a, 'utf8') : Buffer.from(a);
  const bb = typeof b === 'string' ? Buffer.from(b, 'utf8') : Buffer.from(b);
  const same = timingSafeEqual(createHash('sha256').update(ba).digest(), createHash('sha256').update(bb).digest());
  return same && ba.length === bb.length;
}

/** A random URL-safe token: `bytes` random bytes (default 32 = 256 bits), base64url. */
export function randomToken(bytes = 32): string {
  if (!Number.isInteger(bytes) || bytes < 16) throw new RangeError('randomToken needs at least 16 bytes');
  return randomBytes(bytes).toString('base64url');
}
