import { createHash, timingSafeEqual } from 'node:crypto';

/** Constant-time string comparison that does not leak the length (both sides are hashed first). */
export function safeEqualStrings(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}
