import { describe, expect, it } from '@jest/globals';
import { randomToken, safeEqual, sha256b64url } from '../../src/crypto/hash.js';

describe('sha256b64url', () => {
  it('matches the FIPS 180-2 "abc" vector, base64url without padding', () => {
    // ba7816bf 8f01cfea 414140de 5dae2223 b00361a3 96177a9c b410ff61 f20015ad
    expect(sha256b64url('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
  });
});

describe('safeEqual', () => {
  it('is true only for equal inputs', () => {
    expect(safeEqual('nonce-1', 'nonce-1')).toBe(true);
    expect(safeEqual('nonce-1', 'nonce-2')).toBe(false);
    expect(safeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true);
  });

  it('handles different lengths without throwing', () => {
    expect(safeEqual('abc', 'abcd')).toBe(false);
    expect(safeEqual('', 'a')).toBe(false);
    expect(safeEqual('', '')).toBe(true);
  });
});

describe('randomToken', () => {
  it('gives base64url of the requested size, different each time', () => {
    const a = randomToken(32);
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(randomToken(32)).not.toBe(a);
    expect(randomToken(16)).toHaveLength(22);
  });

  it('refuses sizes under 128 bits', () => {
    expect(() => randomToken(8)).toThrow(RangeError);
  });
});
