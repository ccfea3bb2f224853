import { createPublicKey } from 'node:crypto';
import type { WebAuthnCredential } from './types.js';

/** What rows written before the registration ceremony hold: the key as SPKI, no counter. */
export interface LegacyCredential {
  credentialId: string;
  publicKeySpki: string;
  alg: number;
  counter?: number;
  backedUp?: boolean;
}

/** RFC 8949 3.1: a head of major type `major` with argument `n` (n < 2^32). */
function head(major: number, n: number): number[] {
  const m = major << 5;
  if (n < 24) return [m | n];
  if (n < 0x100) return [m | 24, n];
  if (n < 0x10000) return [m | 25, n >> 8, n & 0xff];
  return [m | 26, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

/** An integer (major type 0 or 1) or a byte string (major type 2), in CBOR. */
function item(v: number | Uint8Array): number[] {
  if (typeof v !== 'number') return [...head(2, v.length), ...v];
  return v >= 0 ? head(0, v) : head(1, -1 - v);
}

/**
 * A COSE key (RFC 9052 7) as CBOR: a map of integer labels in the order given, which is the
 * order of RFC 8949 4.2.1's deterministic encoding for the labels used here (1, 3, -1, -2, -3).
 */
export function coseKey(entries: [number, number | Uint8Array][]): Uint8Array {
  return Uint8Array.from([...head(5, entries.length), ...entries.flatMap(([k, v]) => [...item(k), ...item(v)])]);
}

/**
 * A stored credential in today's form. Rows enrolled before the ceremony (SPKI and alg, sent by the
 * app) keep working: their key is re-encoded as the COSE key the library verifies with (RFC 9053
 * 7.1 EC2, RFC 8230 4 RSA), with the counter they have recorded since (0 until their first use).
 * Kept apart from the ceremony (webauthn.ts) so that reading a device does not load the WebAuthn
 * library, which costs every process that reads devices about 0.3 s of CPU at its start.
 */
export function storedCredential(raw: WebAuthnCredential | LegacyCredential): WebAuthnCredential {
  if ('publicKey' in raw) return raw;
  const jwk = createPublicKey({ key: Buffer.from(raw.publicKeySpki, 'base64url'), format: 'der', type: 'spki' }).export({ format: 'jwk' });
  const b = (s: string | undefined) => new Uint8Array(Buffer.from(s ?? '', 'base64url'));
  const cose = raw.alg === -257
    ? coseKey([[1, 3], [3, -257], [-1, b(jwk.n)], [-2, b(jwk.e)]])
    : coseKey([[1, 2], [3, -7], [-1, 1], [-2, b(jwk.x)], [-3, b(jwk.y)]]);
  return {
    credentialId: raw.credentialId,
    publicKey: Buffer.from(cose).toString('base64url'),
    counter: raw.counter ?? 0,
    backupEligible: false,
    backedUp: raw.backedUp ?? false,
  };
}
