import { fromBase32 } from './b64.js';

/**
 * RFC 6238 TOTP over RFC 4226 HOTP with WebCrypto HMAC. The shared secret lives only as a
 * non-extractable HMAC CryptoKey: the page can compute codes but never read the secret back.
 */

export type TotpAlgorithm = 'SHA1' | 'SHA256' | 'SHA512';

export interface TotpParams {
  algorithm: TotpAlgorithm;
  digits: 6 | 8;
  period: number;
}

export const DEFAULT_TOTP: TotpParams = { algorithm: 'SHA1', digits: 6, period: 30 };

const HASH: Record<TotpAlgorithm, string> = { SHA1: 'SHA-1', SHA256: 'SHA-256', SHA512: 'SHA-512' };

export function importTotpSecret(secret: Uint8Array<ArrayBuffer>, algorithm: TotpAlgorithm): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: HASH[algorithm] }, false, ['sign']);
}

export function importBase32Secret(secret: string, algorithm: TotpAlgorithm): Promise<CryptoKey> {
  return importTotpSecret(fromBase32(secret), algorithm);
}

/** The RFC 6238 time step T (T0 = 0) containing `epochMs`. */
export function stepAt(epochMs: number, period = 30): number {
  return Math.floor(epochMs / 1000 / period);
}

/** Seconds until the step containing `epochMs` ends. */
export function secondsLeft(epochMs: number, period = 30): number {
  return period - (Math.floor(epochMs / 1000) % period);
}

/** RFC 4226 5.3: HMAC over the 8-byte big-endian counter, dynamic truncation, mod 10^digits. */
export async function hotp(key: CryptoKey, counter: number, digits: 6 | 8 = 6): Promise<string> {
  const msg = new Uint8Array(8);
  const view = new DataView(msg.buffer);
  view.setUint32(0, Math.floor(counter / 2 ** 32));
  view.setUint32(4, counter >>> 0);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, msg));
  const offset = mac[mac.length - 1]! & 0x0f;
  const bin =
    ((mac[offset]! & 0x7f) << 24) | (mac[offset + 1]! << 16) | (mac[offset + 2]! << 8) | mac[offset + 3]!;
  return String(bin % 10 ** digits).padStart(digits, '0');
}

export function totpAt(key: CryptoKey, epochMs: number, params: TotpParams = DEFAULT_TOTP): Promise<string> {
  return hotp(key, stepAt(epochMs, params.period), params.digits);
}
