import { describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';
import { coseKey, storedCredential } from '../../src/devices/legacy-credential.js';

/**
 * A device enrolled before the WebAuthn ceremony stored its key as SPKI; reading it re-encodes the
 * key as a COSE key without loading the WebAuthn library. The bytes must be exactly what the
 * library would encode and decode, or such a device's WebAuthn approvals stop verifying.
 */
const spkiOf = (type: 'ec' | 'rsa') => {
  const { publicKey } = type === 'ec'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { spki: publicKey.export({ format: 'der', type: 'spki' }).toString('base64url'), jwk: publicKey.export({ format: 'jwk' }) };
};
const bytes = (s: string | undefined) => new Uint8Array(Buffer.from(s ?? '', 'base64url'));

describe('a legacy credential read as a COSE key', () => {
  it('an ES256 key: the library decodes the same key, and encodes the same bytes', () => {
    const { spki, jwk } = spkiOf('ec');
    const stored = storedCredential({ credentialId: 'c1', publicKeySpki: spki, alg: -7, counter: 3, backedUp: true });
    expect(stored).toMatchObject({ credentialId: 'c1', counter: 3, backupEligible: false, backedUp: true });
    const encoded = bytes(stored.publicKey);
    const decoded = isoCBOR.decodeFirst<Map<number, unknown>>(encoded);
    expect([...decoded.keys()]).toEqual([1, 3, -1, -2, -3]);
    expect(decoded.get(1)).toBe(2);
    expect(decoded.get(3)).toBe(-7);
    expect(decoded.get(-1)).toBe(1);
    expect(Buffer.from(decoded.get(-2) as Uint8Array).toString('base64url')).toBe(jwk.x);
    expect(Buffer.from(decoded.get(-3) as Uint8Array).toString('base64url')).toBe(jwk.y);
    const library = isoCBOR.encode(new Map<number, number | Uint8Array>([[1, 2], [3, -7], [-1, 1], [-2, bytes(jwk.x)], [-3, bytes(jwk.y)]]));
    expect(Buffer.from(encoded).equals(Buffer.from(library))).toBe(true);
  });

  it('an RS256 key (a 256-byte modulus): the same bytes as the library', () => {
    const { spki, jwk } = spkiOf('rsa');
    const stored = storedCredential({ credentialId: 'c2', publicKeySpki: spki, alg: -257 });
    expect(stored).toMatchObject({ counter: 0, backedUp: false });
    const library = isoCBOR.encode(new Map<number, number | Uint8Array>([[1, 3], [3, -257], [-1, bytes(jwk.n)], [-2, bytes(jwk.e)]]));
    expect(Buffer.from(bytes(stored.publicKey)).equals(Buffer.from(library))).toBe(true);
  });

  it('every length and integer boundary of the CBOR head encodes as the library does', () => {
    for (const n of [0, 1, 23, 24, 255, 256, 65_535, 65_536, 70_000]) {
      const entries: [number, number | Uint8Array][] = [[1, new Uint8Array(n).fill(7)], [-1, n], [2, -n - 1]];
      const library = isoCBOR.encode(new Map(entries));
      expect(Buffer.from(coseKey(entries)).equals(Buffer.from(library))).toBe(true);
    }
  });

  it('a credential already in COSE form is returned as stored', () => {
    const credential = { credentialId: 'c3', publicKey: 'pQECAyYgASFY', counter: 9, backupEligible: true, backedUp: true };
    expect(storedCredential(credential)).toBe(credential);
  });
});
