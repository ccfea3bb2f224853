import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { createSecretBox, SecretBoxError } from '../../src/crypto/secretbox.js';

const k1 = { id: 'k1', key: randomBytes(32) };
const k2 = { id: 'k2', key: randomBytes(32) };
const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof SecretBoxError ? error.code : `not a SecretBoxError: ${String(error)}`;
  }
  return undefined;
}

/** Replaces one base64url part of a sealed value with the same bytes, one bit flipped. */
function flip(sealed: string, part: number): string {
  const parts = sealed.split('.');
  const bytes = Buffer.from(parts[part]!, 'base64url');
  bytes[0] = bytes[0]! ^ 0x01;
  parts[part] = bytes.toString('base64url');
  return parts.join('.');
}

describe('secret box (AES-256-GCM envelope with a key id)', () => {
  const box = createSecretBox([k1], 'k1');

  it('round-trips and writes v1.<kid>.<iv>.<ct>.<tag>', () => {
    const sealed = box.seal(SECRET, 'dev_1');
    expect(sealed).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    expect(sealed).not.toContain(SECRET);
    expect(box.open(sealed, 'dev_1')).toBe(SECRET);
  });

  it('uses a fresh IV for every seal', () => {
    expect(box.seal(SECRET)).not.toBe(box.seal(SECRET));
  });

  it('refuses tampered iv, ciphertext or tag', () => {
    const sealed = box.seal(SECRET, 'dev_1');
    expect(codeOf(() => box.open(flip(sealed, 2), 'dev_1'))).toBe('decrypt_failed');
    expect(codeOf(() => box.open(flip(sealed, 3), 'dev_1'))).toBe('decrypt_failed');
    expect(codeOf(() => box.open(flip(sealed, 4), 'dev_1'))).toBe('decrypt_failed');
  });

  it('refuses a secret moved to another row (wrong aad) or with the aad dropped', () => {
    const sealed = box.seal(SECRET, 'dev_1');
    expect(codeOf(() => box.open(sealed, 'dev_2'))).toBe('decrypt_failed');
    expect(codeOf(() => box.open(sealed))).toBe('decrypt_failed');
  });

  it('refuses a relabelled key id even when that key exists', () => {
    const both = createSecretBox([k1, { id: 'k9', key: k1.key }], 'k1');
    const relabelled = both.seal(SECRET, 'dev_1').replace('v1.k1.', 'v1.k9.');
    expect(codeOf(() => both.open(relabelled, 'dev_1'))).toBe('decrypt_failed');
  });

  it('names an unknown key id and malformed input with stable codes', () => {
    const other = createSecretBox([k2], 'k2').seal(SECRET);
    expect(codeOf(() => box.open(other))).toBe('unknown_key');
    for (const bad of ['', 'v1.k1', 'v2.k1.aaaaaaaaaaaaaaaa.bb.cccccccccccccccccccccc', 'v1.k1.a.b.c', 'v1.k1.!!!.b.c.d']) {
      expect(codeOf(() => box.open(bad))).toBe('malformed');
    }
  });

  it('rotates: sealed under k1, opened by [k1, k2] with k2 active, flagged for rewrap', () => {
    const old = box.seal(SECRET, 'dev_1');
    const rotated = createSecretBox([k1, k2], 'k2');
    expect(rotated.open(old, 'dev_1')).toBe(SECRET);
    expect(rotated.needsRewrap(old)).toBe(true);
    const fresh = rotated.seal(rotated.open(old, 'dev_1'), 'dev_1');
    expect(fresh.startsWith('v1.k2.')).toBe(true);
    expect(rotated.needsRewrap(fresh)).toBe(false);
    expect(codeOf(() => createSecretBox([k2], 'k2').open(old, 'dev_1'))).toBe('unknown_key');
  });

  it('refuses a bad key configuration at creation', () => {
    expect(codeOf(() => createSecretBox([{ id: 'k1', key: randomBytes(16) }], 'k1'))).toBe('invalid_key_config');
    expect(codeOf(() => createSecretBox([k1], 'k2'))).toBe('invalid_key_config');
    expect(codeOf(() => createSecretBox([k1, { ...k2, id: 'k1' }], 'k1'))).toBe('invalid_key_config');
    expect(codeOf(() => createSecretBox([{ id: 'a.b', key: randomBytes(32) }], 'a.b'))).toBe('invalid_key_config');
  });
});
