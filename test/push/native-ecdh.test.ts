/**
 * Guards: the native ECDH (native/webpush-ecdh, built by `npm run build`) gives node:crypto's key
 * and secret for the same keys, makes a new key every call, and refuses, without crashing the
 * process, every peer key that is not an uncompressed point on P-256 (the point at infinity, a
 * compressed point, coordinates off the curve or past the field) and every bad argument.
 */
import { createECDH, randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { nativeEcdh, nativeEcdhStatus, padded, type NativeEcdh } from '../../src/push/native-ecdh.js';

const P256_P = Buffer.from('ffffffff00000001000000000000000000000000ffffffffffffffffffffffff', 'hex');
const P256_N = Buffer.from('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551', 'hex');

describe('native Web Push ECDH', () => {
  const loaded = nativeEcdh();
  const ecdh = (): NativeEcdh => {
    if (!loaded) throw new Error(`not loaded: ${nativeEcdhStatus()}`);
    return loaded;
  };

  it('is built and loaded in this process', () => {
    expect(nativeEcdhStatus()).toMatch(/^native /);
    expect(loaded).not.toBeNull();
  });

  it('gives the key and the secret node:crypto gives, for fixed and for fresh keys', () => {
    // 2,000 keys: about 8 of them have a private key with a leading zero byte.
    for (let i = 0; i < 2000; i++) {
      const ua = createECDH('prime256v1');
      const uaPublic = ua.generateKeys();
      const sender = createECDH('prime256v1');
      sender.generateKeys();
      const fixed = ecdh().derive(uaPublic, padded(sender.getPrivateKey()));
      expect(fixed.subarray(0, 65)).toEqual(sender.getPublicKey());
      expect(fixed.subarray(65)).toEqual(sender.computeSecret(uaPublic));
      const fresh = ecdh().derive(uaPublic);
      expect(fresh).toHaveLength(97);
      expect(fresh.subarray(65)).toEqual(ua.computeSecret(fresh.subarray(0, 65)));
    }
  });

  it('makes a new key pair every call', () => {
    const ua = createECDH('prime256v1').generateKeys();
    const keys = new Set(Array.from({ length: 1000 }, () => ecdh().derive(ua).subarray(0, 65).toString('hex')));
    expect(keys.size).toBe(1000);
  });

  it('refuses a peer key that is not an uncompressed point on P-256', () => {
    const good = createECDH('prime256v1').generateKeys();
    const compressed = createECDH('prime256v1');
    compressed.generateKeys();
    const offCurve = Buffer.from(good);
    offCurve[64]! ^= 1;
    const pastTheField = Buffer.concat([Buffer.from([4]), P256_P, good.subarray(33)]);
    const hybrid = Buffer.from(good);
    hybrid[0] = 6;
    for (const peer of [Buffer.alloc(0), Buffer.from([0]), Buffer.alloc(65), Buffer.alloc(65, 4), offCurve, pastTheField, hybrid,
      compressed.getPublicKey(null, 'compressed'), good.subarray(0, 64), Buffer.concat([good, Buffer.from([0])]), randomBytes(65)]) {
      expect(() => ecdh().derive(peer)).toThrow();
    }
    // The process is still sound after every refusal.
    expect(ecdh().derive(good)).toHaveLength(97);
  });

  it('refuses arguments of the wrong kind, and a private key outside 1..n-1', () => {
    const good = createECDH('prime256v1').generateKeys();
    const derive = ecdh().derive as unknown as (...args: unknown[]) => Buffer;
    for (const args of [[], [undefined], [null], ['04'], [good.toString('hex')], [new Uint16Array(65)], [{}], [good, Buffer.alloc(31, 1)], [good, Buffer.alloc(33, 1)],
      [good, Buffer.alloc(32)], [good, P256_N], [good, Buffer.alloc(32, 0xff)], [good, 'x'.repeat(32)], [good, null]]) {
      expect(() => derive(...args)).toThrow();
    }
    const nMinus1 = Buffer.from(P256_N);
    nMinus1[31]! -= 1;
    const last = ecdh().derive(good, nMinus1);
    const sender = createECDH('prime256v1');
    sender.setPrivateKey(nMinus1);
    expect(last.subarray(0, 65)).toEqual(sender.getPublicKey());
  });
});

describe('without the native ECDH', () => {
  it('says why, and the sender falls back to node:crypto: a file never built, or one that is not an addon', async () => {
    const { loadNativeEcdhFrom } = await import('../../src/push/native-ecdh.js');
    const missing = loadNativeEcdhFrom('/nonexistent/webpush_ecdh.node');
    expect(missing.ecdh).toBeNull();
    expect(missing.why).toMatch(/^node:crypto \(.*was not built/);
    const notAddon = loadNativeEcdhFrom(new URL('../../package.json', import.meta.url).pathname.replace(/package\.json$/, 'README.md'));
    expect(notAddon.ecdh).toBeNull();
    expect(notAddon.why).toMatch(/^node:crypto \(.*did not load/);
  });
});
