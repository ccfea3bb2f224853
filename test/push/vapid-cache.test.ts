/**
 * Guards: the VAPID header (RFC 8292) is signed once per push-service origin and reused until an
 * hour before it expires, so fan-out does not pay an ECDSA signature per message; it always carries
 * the right aud, exp and sub; a config every push service would refuse stops the start.
 */
import { createECDH } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { decodeJwt, importJWK, jwtVerify } from 'jose';
import { generateVapidKeys, VapidConfigError, VapidSigner } from '../../src/push/vapid.js';
import { createWebPushNotifier } from '../../src/push/webpush-sender.js';
import type { PushPayload } from '../../src/push/types.js';
import { startPushService } from '../support/push-service.js';

const keys = generateVapidKeys();
const config = { ...keys, subject: 'mailto:ops@idp.example' };
const FCM = 'https://fcm.googleapis.com';
const START = Date.parse('2026-03-01T12:00:00Z');

function token(header: string): string {
  const match = /^vapid t=([^,]+), k=(.+)$/.exec(header);
  if (!match?.[1] || match[2] !== keys.publicKey) throw new Error(`unexpected header ${header}`);
  return match[1];
}

describe('VAPID signer', () => {
  it('generates key pairs in RFC 8292 form whose private half makes the public one (short scalars padded)', () => {
    const pairs = Array.from({ length: 3000 }, () => generateVapidKeys());

    for (const pair of pairs) {
      const d = Buffer.from(pair.privateKey, 'base64url');
      expect(d).toHaveLength(32);
      const ecdh = createECDH('prime256v1');
      ecdh.setPrivateKey(d);
      expect(ecdh.getPublicKey().toString('base64url')).toBe(pair.publicKey);
    }
    // About 1 in 256 scalars starts with a zero byte: the padding was exercised (all 3,000 missing one: p < 1e-5).
    expect(pairs.some((p) => Buffer.from(p.privateKey, 'base64url')[0] === 0)).toBe(true);
    expect(new Set(pairs.map((p) => p.publicKey)).size).toBe(3000);
  });

  it('signs aud = origin, exp = now + 12 h, sub = subject, ES256, verifiable with k', async () => {
    const signer = new VapidSigner(config, { now: () => START });

    const jwt = token(await signer.authorization(`${FCM}/fcm/send/abc:def`));

    const raw = Buffer.from(keys.publicKey, 'base64url');
    const publicKey = await importJWK(
      { kty: 'EC', crv: 'P-256', x: raw.subarray(1, 33).toString('base64url'), y: raw.subarray(33).toString('base64url') },
      'ES256',
    );
    const { payload, protectedHeader } = await jwtVerify(jwt, publicKey, { audience: FCM, currentDate: new Date(START) });
    expect(protectedHeader.alg).toBe('ES256');
    expect(payload).toEqual({ aud: FCM, exp: START / 1000 + 12 * 3600, sub: 'mailto:ops@idp.example' });
  });

  it('reuses the header for every endpoint of the same origin, even when asked concurrently', async () => {
    const signer = new VapidSigner(config, { now: () => START });

    const headers = await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => signer.authorization(`${FCM}/fcm/send/device${i}`)),
      signer.authorization(FCM),
    ]);

    expect(new Set(headers).size).toBe(1);
    expect(signer.signatures).toBe(1);
  });

  it('signs separately for each push-service origin (aud differs)', async () => {
    const signer = new VapidSigner(config, { now: () => START });

    const fcm = decodeJwt(token(await signer.authorization(`${FCM}/fcm/send/a`)));
    const mozilla = decodeJwt(token(await signer.authorization('https://updates.push.services.mozilla.com/wpush/v2/b')));

    expect([fcm.aud, mozilla.aud]).toEqual([FCM, 'https://updates.push.services.mozilla.com']);
    expect(signer.signatures).toBe(2);
  });

  it('renews the header one hour before it expires, not earlier', async () => {
    let now = START;
    const signer = new VapidSigner(config, { now: () => now });
    const first = await signer.authorization(FCM);

    now = START + 11 * 3600_000 - 1000; // 11 h minus a second: still cached
    expect(await signer.authorization(FCM)).toBe(first);
    expect(signer.signatures).toBe(1);

    now = START + 11 * 3600_000; // one hour left: renew
    const renewed = await signer.authorization(FCM);
    expect(renewed).not.toBe(first);
    expect(signer.signatures).toBe(2);
    expect(decodeJwt(token(renewed)).exp).toBe(now / 1000 + 12 * 3600);
  });

  it('refuses configs that push services would reject', () => {
    const other = generateVapidKeys();
    const bad = [
      { ...config, subject: '' },
      { ...config, subject: 'http://idp.example' },
      { ...config, subject: 'ops@idp.example' },
      { ...config, publicKey: other.publicKey }, // does not match the private key
      { ...config, privateKey: 'too-short' },
      { ...config, publicKey: `${keys.publicKey}=` },
    ];
    for (const c of bad) expect(() => new VapidSigner(c)).toThrow(VapidConfigError);
    expect(() => new VapidSigner(config, { lifetimeSeconds: 25 * 3600 })).toThrow(VapidConfigError);
    expect(() => createWebPushNotifier({ vapid: { ...config, subject: 'http://x' } })).toThrow(VapidConfigError);
  });
});

describe('VAPID header through the notifier', () => {
  const samplePayload: PushPayload = {
    v: 1, type: 'challenge', cid: 'ch_vapid', issuer: 'https://idp.example.com', deviceId: 'dev_1',
    title: 'Sign-in request', body: 'Demo App', app: 'Demo App', ip: '203.0.113.7', location: null,
    browser: 'Chrome on Linux', createdAt: 0, expiresAt: 120_000, numberMatching: false,
  };

  it('a clock 13 hours slow makes an expired JWT that the push service refuses (403), without retries', async () => {
    const service = await startPushService();
    const transport = service.createTransport();
    const notifier = createWebPushNotifier({ vapid: config, transport, now: () => Date.now() - 13 * 3600_000 });
    try {
      const result = await notifier.send(service.createSubscription(), samplePayload, { ttlSeconds: 60, urgency: 'high', topic: 'v' });
      expect(result).toEqual({ status: 'failed', reason: 'rejected', httpStatus: 403, attempts: 1 });
      expect(service.requests[0]?.reason).toMatch(/exp/);
    } finally {
      await notifier.close();
      await transport.close();
      await service.close();
    }
  });

  it('sends the same cached JWT on every push to one push service', async () => {
    const service = await startPushService();
    const transport = service.createTransport();
    const notifier = createWebPushNotifier({ vapid: config, transport });
    try {
      const subs = [service.createSubscription(), service.createSubscription(), service.createSubscription()];
      for (const sub of subs) {
        expect(await notifier.send(sub, samplePayload, { ttlSeconds: 60, urgency: 'high', topic: 'v' })).toMatchObject({ status: 'sent' });
      }
      const authorizations = service.messages.map((m) => m.headers.authorization);
      expect(authorizations).toHaveLength(3);
      expect(new Set(authorizations).size).toBe(1);
    } finally {
      await notifier.close();
      await transport.close();
      await service.close();
    }
  });
});
