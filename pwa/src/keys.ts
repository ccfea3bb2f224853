import { b64url, utf8 } from './b64.js';

/**
 * The device's keys (WebCrypto only). The ECDSA P-256 signing key is non-extractable wherever it
 * is stored in the clear. Under a PIN nothing is stored in the clear: the private key and the TOTP
 * secret are sealed with AES-GCM under a key derived from the PIN (PBKDF2-SHA-256).
 */

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;

/** OWASP's 2023 figure for PBKDF2-HMAC-SHA-256; the issue asks for at least 310 000. */
export const PIN_ITERATIONS = 600_000;

export interface PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
}

/** AES-GCM output; `iv` is 12 random bytes, never reused under one key. */
export interface Sealed {
  iv: Uint8Array<ArrayBuffer>;
  data: ArrayBuffer;
}

/**
 * A new device key pair. `extractable` is true only inside enrollment, so that the private key
 * can be sealed under a PIN (or re-imported non-extractable) before anything is stored.
 */
export function generateDeviceKey(extractable: boolean): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(EC, extractable, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

export async function exportPublicJwk(publicKey: CryptoKey): Promise<PublicJwk> {
  const jwk = await crypto.subtle.exportKey('jwk', publicKey);
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.x || !jwk.y) throw new Error('unexpected public key');
  return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
}

/** The same private key, as a CryptoKey that can only sign (the extractable one is then dropped). */
export async function toNonExtractable(privateKey: CryptoKey): Promise<CryptoKey> {
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', privateKey);
  try {
    return await crypto.subtle.importKey('pkcs8', pkcs8, EC, false, ['sign']);
  } finally {
    new Uint8Array(pkcs8).fill(0);
  }
}

/** An AES-256-GCM key from the PIN; `salt` is 16 random bytes per account. */
export async function derivePinKey(pin: string, salt: Uint8Array<ArrayBuffer>, iterations = PIN_ITERATIONS): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey('raw', utf8(pin.normalize('NFKC')), 'PBKDF2', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'PBKDF2', salt, iterations, hash: 'SHA-256' },
    base,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'],
  );
}

function gcm(iv: Uint8Array<ArrayBuffer>, aad: string): AesGcmParams {
  // The additional data binds each sealed blob to its account and purpose: blobs cannot be swapped.
  return { name: 'AES-GCM', iv, additionalData: utf8(aad) };
}

export async function sealBytes(key: CryptoKey, bytes: Uint8Array<ArrayBuffer>, aad: string): Promise<Sealed> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  return { iv, data: await crypto.subtle.encrypt(gcm(iv, aad), key, bytes) };
}

/** Throws (OperationError) when the key is wrong: that is how a wrong PIN shows. */
export async function openBytes(key: CryptoKey, sealed: Sealed, aad: string): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.decrypt(gcm(sealed.iv, aad), key, sealed.data));
}

export async function sealPrivateKey(key: CryptoKey, privateKey: CryptoKey, aad: string): Promise<Sealed> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  return { iv, data: await crypto.subtle.wrapKey('pkcs8', privateKey, key, gcm(iv, aad)) };
}

/** The sealed private key, unwrapped as non-extractable and able only to sign. */
export function openPrivateKey(key: CryptoKey, sealed: Sealed, aad: string): Promise<CryptoKey> {
  return crypto.subtle.unwrapKey('pkcs8', sealed.data, key, gcm(sealed.iv, aad), EC, false, ['sign']);
}

/**
 * A compact JWS (RFC 7515) signed with ES256. WebCrypto's ECDSA signature is already the JOSE
 * form (IEEE P1363 r||s, 64 bytes; RFC 7518 3.4), so no DER conversion is needed.
 */
export async function signJws(privateKey: CryptoKey, header: Record<string, unknown>, payload: Record<string, unknown>): Promise<string> {
  const input = `${b64url(utf8(JSON.stringify({ ...header, alg: 'ES256' })))}.${b64url(utf8(JSON.stringify(payload)))}`;
  const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, utf8(input));
  return `${input}.${b64url(sig)}`;
}

export async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}
