import { generateSecret, generateSync, generateURI } from 'otplib';
import { safeEqual } from '../crypto/hash.js';

/**
 * RFC 6238 TOTP (SHA-1, 30-second step, T0 = 0) over otplib 13. otplib computes the codes; the
 * window and replay rules are ours, because otplib's `afterTimeStep` cannot tell a replayed code
 * from a wrong one and throws when the stored step lies ahead of the clock.
 */
export type TotpDigits = 6 | 8;

export const TOTP_PERIOD_SECONDS = 30;
/** RFC 6238 5.2: accept at most one step of clock drift either way. */
export const TOTP_DRIFT_STEPS = 1;

export type TotpMatch =
  | { ok: true; step: number }
  | { ok: false; reason: 'invalid_otp' | 'otp_replayed' };

/** A new shared secret: 20 random bytes (160 bits, RFC 4226 4 R6), base32 without padding. */
export function newTotpSecret(): string {
  return generateSecret({ length: 20 });
}

/** The RFC 6238 time step (T) that contains `epochMs`. */
export function totpStep(epochMs: number): number {
  return Math.floor(epochMs / 1000 / TOTP_PERIOD_SECONDS);
}

function codeForStep(secret: string, step: number, digits: TotpDigits): string {
  return generateSync({ secret, digits, period: TOTP_PERIOD_SECONDS, epoch: step * TOTP_PERIOD_SECONDS });
}

/** The code valid at `epochMs`. */
export function totpAt(secret: string, epochMs: number, digits: TotpDigits = 6): string {
  return codeForStep(secret, totpStep(epochMs), digits);
}

/**
 * Checks `code` against the steps T-1, T, T+1 around `epochMs`. The number of digits follows the
 * code (6 or 8): an 8-digit code ends with the 6-digit one (RFC 4226 5.3 truncation mod 10^d), so
 * allowing it never weakens a 6-digit secret. Every candidate is compared in constant time, and
 * all of them are always compared, so timing says nothing about which step matched.
 *
 * RFC 6238 5.2: a step is accepted once. A matching step <= `lastAcceptedStep` is `otp_replayed`.
 * When the code matches several steps (a 1-in-10^d coincidence), the lowest fresh one is taken so
 * that later codes from the same device stay usable.
 */
export function matchTotp(secret: string, code: string, epochMs: number, lastAcceptedStep: number): TotpMatch {
  if (typeof code !== 'string' || !/^(\d{6}|\d{8})$/.test(code)) return { ok: false, reason: 'invalid_otp' };
  const digits = code.length as TotpDigits;
  const now = totpStep(epochMs);
  const matched: number[] = [];
  for (let step = now - TOTP_DRIFT_STEPS; step <= now + TOTP_DRIFT_STEPS; step++) {
    if (step < 0) continue;
    if (safeEqual(codeForStep(secret, step, digits), code)) matched.push(step);
  }
  const fresh = matched.filter((step) => step > lastAcceptedStep);
  if (fresh.length > 0) return { ok: true, step: Math.min(...fresh) };
  return { ok: false, reason: matched.length > 0 ? 'otp_replayed' : 'invalid_otp' };
}

/**
 * An `otpauth://totp/...` URI (the Google Authenticator Key URI format) for a QR code that
 * third-party authenticator apps scan. Algorithm, digits and period are written out explicitly.
 */
export function totpUri(input: { secret: string; issuer: string; label: string; digits?: TotpDigits }): string {
  // Appended by hand: URLSearchParams would re-encode the issuer's spaces as '+', which some
  // authenticator apps display literally.
  const base = generateURI({ issuer: input.issuer, label: input.label, secret: input.secret });
  return `${base}&algorithm=SHA1&digits=${input.digits ?? 6}&period=${TOTP_PERIOD_SECONDS}`;
}
