/**
 * Guards: a push body is what RFC 8291 says, byte for byte (its Appendix A example), a browser's
 * decryption (here http_ece, an independent implementation) gets the plaintext back, and no two
 * messages share a key: a fresh salt and application-server key pair each time. Both ECDHs: the
 * native one `npm run build` makes (native/webpush-ecdh) and node:crypto's, used without it.
 */
import { createECDH, randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import ece from 'http_ece';
import { AES128GCM_OVERHEAD, WebPushEncrypter as Encrypter } from '../../src/push/encrypt.js';
import { nativeEcdh, type NativeEcdh } from '../../src/push/native-ecdh.js';

const b64u = (s: string) => Buffer.from(s, 'base64url');

describe.each([['native', nativeEcdh()], ['node:crypto', null]] as [string, NativeEcdh | null][])('Web Push message encryption (aes128gcm), %s ECDH', (kind, native) => {
  const WebPushEncrypter = class extends Encrypter {
    constructor() {
      super({ native });
    }
  };

  it('uses the ECDH it was given (the native one is built by npm run build: dist/native/build.json says why not)', () => {
    expect(new WebPushEncrypter().ecdh).toBe(kind);
  });

  it('reproduces the example of RFC 8291 Appendix A exactly', () => {
    const body = new WebPushEncrypter().encrypt(
      {
        p256dh: b64u('BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4'),
        auth: b64u('BTBZMqHH6r4Tts7J_aSIgg'),
      },
      Buffer.from('When I grow up, I want to be a watermelon'),
      { salt: b64u('DGv6ra1nlYgDCS1FRnbzlw'), asPrivateKey: b64u('yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw') },
    );

    expect(body.toString('base64url')).toBe(
      'DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN',
    );
  });

  it('is decrypted by the user agent to the plaintext, and each message has its own salt and key', () => {
    const ua = createECDH('prime256v1');
    ua.generateKeys();
    const auth = randomBytes(16);
    const encrypter = new WebPushEncrypter();
    const plaintext = Buffer.from(JSON.stringify({ cid: 'ch_1', title: 'Approve sign-in?' }));

    const bodies = [0, 1, 2].map(() => encrypter.encrypt({ p256dh: ua.getPublicKey(), auth }, plaintext));

    for (const body of bodies) {
      expect(body.length).toBe(plaintext.length + AES128GCM_OVERHEAD);
      expect(ece.decrypt(body, { version: 'aes128gcm', privateKey: ua, authSecret: auth.toString('base64url') })).toEqual(plaintext);
    }
    const salts = new Set(bodies.map((b) => b.subarray(0, 16).toString('hex')));
    const senderKeys = new Set(bodies.map((b) => b.subarray(21, 86).toString('hex')));
    expect(salts.size).toBe(3);
    expect(senderKeys.size).toBe(3);
  });

  it('never repeats a salt or a sender key over many messages (the salts come from a pool refilled as it runs out)', () => {
    const ua = createECDH('prime256v1');
    ua.generateKeys();
    const auth = randomBytes(16);
    const encrypter = new WebPushEncrypter();
    const plaintext = Buffer.from('{"n":1}');
    const bodies = Array.from({ length: 600 }, () => encrypter.encrypt({ p256dh: ua.getPublicKey(), auth }, plaintext));
    expect(new Set(bodies.map((b) => b.subarray(0, 16).toString('hex'))).size).toBe(600);
    expect(new Set(bodies.map((b) => b.subarray(21, 86).toString('hex'))).size).toBe(600);
    expect(bodies.some((b) => b.subarray(0, 16).equals(Buffer.alloc(16)))).toBe(false);
    for (const body of [bodies[0]!, bodies[255]!, bodies[256]!, bodies[599]!]) {
      expect(ece.decrypt(body, { version: 'aes128gcm', privateKey: ua, authSecret: auth.toString('base64url') })).toEqual(plaintext);
    }
  });

  it('fails with the wrong auth secret on the receiving side (the secret is bound in)', () => {
    const ua = createECDH('prime256v1');
    ua.generateKeys();
    const body = new WebPushEncrypter().encrypt({ p256dh: ua.getPublicKey(), auth: randomBytes(16) }, Buffer.from('hello'));

    expect(() => ece.decrypt(body, { version: 'aes128gcm', privateKey: ua, authSecret: randomBytes(16).toString('base64url') })).toThrow();
  });

  it('refuses a p256dh that is not on the curve, and a plaintext too long for one record', () => {
    const encrypter = new WebPushEncrypter();
    const ua = createECDH('prime256v1');
    ua.generateKeys();

    expect(() => encrypter.encrypt({ p256dh: Buffer.alloc(65, 4), auth: randomBytes(16) }, Buffer.from('x'))).toThrow();
    expect(() => encrypter.encrypt({ p256dh: ua.getPublicKey(), auth: randomBytes(16) }, Buffer.alloc(4096 - AES128GCM_OVERHEAD + 1))).toThrow(/too long/);
    expect(encrypter.encrypt({ p256dh: ua.getPublicKey(), auth: randomBytes(16) }, Buffer.alloc(4096 - AES128GCM_OVERHEAD)).length).toBe(4096);
  });
});
