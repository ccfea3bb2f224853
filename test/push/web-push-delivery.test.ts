/**
 * Guards: a push really reaches the device encrypted to its keys (RFC 8291) with the headers that
 * make it timely and replaceable (RFC 8030), signed by our VAPID key (RFC 8292), over one reused
 * HTTP/2 connection (or HTTP/1.1 keep-alive where a service has no HTTP/2); bad subscription input
 * never leaves the process.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { buildPushPayload } from '../../src/push/payload.js';
import type { PushTransport } from '../../src/push/transport.js';
import type { Notifier, SendOptions } from '../../src/push/types.js';
import { generateVapidKeys } from '../../src/push/vapid.js';
import { createWebPushNotifier } from '../../src/push/webpush-sender.js';
import { startPushService, type PushServiceDouble } from '../support/push-service.js';

const vapid = { ...generateVapidKeys(), subject: 'mailto:ops@idp.example' };
const payload = buildPushPayload(
  {
    id: 'ch_0123456789abcdefghijkl',
    appName: 'Demo App',
    ip: '203.0.113.7',
    browser: 'Chrome on Linux',
    location: null,
    createdAt: 1764370000000,
    expiresAt: 1764370120000,
    matchNumber: 42,
  },
  { issuer: 'https://idp.example.com', deviceId: 'dev_1' },
);
const options: SendOptions = { ttlSeconds: 120, urgency: 'high', topic: 'u_7Yq2' };

let service: PushServiceDouble;
let transport: PushTransport;
let notifier: Notifier;

beforeAll(async () => {
  service = await startPushService();
  transport = service.createTransport();
  notifier = createWebPushNotifier({ vapid, transport });
});

afterAll(async () => {
  await notifier.close();
  await transport.close();
  await service.close();
});

describe('Web Push delivery', () => {
  it('delivers a payload that only the subscription keys decrypt, with TTL, Urgency and Topic', async () => {
    const sub = service.createSubscription({ applicationServerKey: vapid.publicKey });

    const result = await notifier.send(sub, payload, options);

    expect(result).toEqual({ status: 'sent', httpStatus: 201, attempts: 1 });
    const message = await service.waitForMessage(sub.id, 2000);
    expect(message.payload).toEqual(payload);
    expect(message.headers).toMatchObject({
      ttl: '120',
      urgency: 'high',
      topic: 'u_7Yq2',
      'content-encoding': 'aes128gcm',
      'content-type': 'application/octet-stream',
    });
    expect(message.vapidSub).toBe('mailto:ops@idp.example');
    expect(message.vapidKey).toBe(vapid.publicKey);
    // RFC 8291 4: one record of salt(16) + rs(4) + idlen(1) + key(65) + ciphertext + tag(16).
    expect(message.bodyBytes).toBe(86 + Buffer.byteLength(JSON.stringify(payload)) + 1 + 16);
  });

  it('is refused when the subscription is bound to another VAPID key, without retrying', async () => {
    const sub = service.createSubscription({ applicationServerKey: generateVapidKeys().publicKey });

    const result = await notifier.send(sub, payload, options);

    expect(result).toEqual({ status: 'failed', reason: 'rejected', httpStatus: 403, attempts: 1 });
    expect(service.requests.filter((r) => r.subscriptionId === sub.id)).toHaveLength(1);
  });

  it('reuses one HTTP/2 connection for consecutive pushes', async () => {
    const fresh = service.createTransport();
    const h2Notifier = createWebPushNotifier({ vapid, transport: fresh });
    const before = { tls: service.tlsConnections, h2: service.httpVersions['2.0'] ?? 0 };
    const sub = service.createSubscription();

    for (let i = 0; i < 5; i += 1) {
      expect((await h2Notifier.send(sub, payload, options)).status).toBe('sent');
    }

    expect(service.tlsConnections - before.tls).toBe(1);
    expect((service.httpVersions['2.0'] ?? 0) - before.h2).toBe(5);
    expect(fresh.protocolOf(service.origin)).toBe('h2');
    expect(service.messages.filter((m) => m.subscriptionId === sub.id)).toHaveLength(5);
    await h2Notifier.close();
    await fresh.close();
  });

  it('fans out to many subscriptions at once as streams of one HTTP/2 connection', async () => {
    const blind = await startPushService({ decrypt: false }); // the benchmark mode: no decryption
    const fresh = blind.createTransport();
    const fanOut = createWebPushNotifier({ vapid, transport: fresh });
    const subs = Array.from({ length: 200 }, () => blind.createSubscription());

    const results = await Promise.all(subs.map((sub) => fanOut.send(sub, payload, options)));

    expect(results.every((r) => r.status === 'sent')).toBe(true);
    expect(blind.accepted).toBe(200);
    expect(blind.messages).toHaveLength(0);
    expect(blind.tlsConnections).toBe(1);
    expect(blind.peakStreams).toBeGreaterThan(1);
    await fanOut.close();
    await fresh.close();
    await blind.close();
  });

  it('keeps within the push service\'s limit of concurrent streams: every message goes through on its first attempt', async () => {
    const strict = await startPushService({ decrypt: false, maxConcurrentStreams: 10 });
    const fresh = strict.createTransport();
    const fanOut = createWebPushNotifier({ vapid, transport: fresh });
    const subs = Array.from({ length: 200 }, () => strict.createSubscription());

    const results = await Promise.all(subs.map((sub) => fanOut.send(sub, payload, options)));

    // Past the limit the service would refuse streams (REFUSED_STREAM) and each would be retried.
    expect(results.filter((r) => r.status === 'sent' && r.attempts === 1)).toHaveLength(200);
    expect(strict.accepted).toBe(200);
    expect(strict.peakStreams).toBeLessThanOrEqual(10);
    expect(strict.tlsConnections).toBe(1);
    await fanOut.close();
    await fresh.close();
    await strict.close();
  });

  it('speaks HTTP/1.1 keep-alive to a push service without HTTP/2, over a bounded set of connections', async () => {
    const old = await startPushService({ http1Only: true });
    const pooled = old.createTransport({ maxSockets: 8 });
    const fanOut = createWebPushNotifier({ vapid, transport: pooled });
    const subs = Array.from({ length: 100 }, () => old.createSubscription());

    const results = await Promise.all(subs.map((sub) => fanOut.send(sub, payload, options)));

    expect(results.every((r) => r.status === 'sent')).toBe(true);
    expect(old.httpVersions).toEqual({ '1.1': 100 });
    // Decrypted by the double with each subscription's keys: the same payload arrived at every one.
    expect(old.messages.map((m) => m.payload)).toEqual(subs.map(() => payload));
    // 8 pooled sockets, plus the one connection that asked for HTTP/2 and was told http/1.1.
    expect(old.tlsConnections).toBeLessThanOrEqual(9);
    expect(pooled.protocolOf(old.origin)).toBe('http/1.1');
    await fanOut.close();
    await pooled.close();
    await old.close();
  });

  it('reconnects when the push service drops its connection', async () => {
    const fresh = service.createTransport();
    const h2Notifier = createWebPushNotifier({ vapid, transport: fresh });
    const sub = service.createSubscription();
    expect((await h2Notifier.send(sub, payload, options)).status).toBe('sent');
    const before = service.tlsConnections;

    service.dropConnections();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const after = await h2Notifier.send(sub, payload, options);

    expect(after).toMatchObject({ status: 'sent', httpStatus: 201 });
    expect(service.tlsConnections).toBeGreaterThan(before);
    expect(service.messages.filter((m) => m.subscriptionId === sub.id)).toHaveLength(2);
    await h2Notifier.close();
    await fresh.close();
  });

  it('refuses bad subscription input without making a request', async () => {
    const good = service.createSubscription();
    const requestsBefore = service.requests.length;
    const cases = [
      { ...good, endpoint: good.endpoint.replace('https:', 'http:') },
      { ...good, endpoint: 'not a url' },
      { ...good, keys: { ...good.keys, p256dh: Buffer.alloc(65, 4).toString('base64url') } }, // not on the curve
      { ...good, keys: { ...good.keys, p256dh: good.keys.p256dh.slice(0, 40) } },
      { ...good, keys: { ...good.keys, auth: Buffer.alloc(8).toString('base64url') } },
    ];

    for (const sub of cases) {
      const result = await notifier.send(sub, payload, options);
      expect(result).toMatchObject({ status: 'failed', attempts: 0 });
      expect(result.status === 'failed' && result.reason).toMatch(/^bad_subscription/);
    }
    expect(service.requests.length).toBe(requestsBefore);
  });

  it('refuses a Topic that RFC 8030 5.4 does not allow, without making a request', async () => {
    const sub = service.createSubscription();
    const requestsBefore = service.requests.length;

    for (const topic of ['x'.repeat(33), 'has space', 'a+b/c=', '']) {
      const result = await notifier.send(sub, payload, { ...options, topic });
      expect(result).toMatchObject({ status: 'failed', attempts: 0 });
      expect(result.status === 'failed' && result.reason).toMatch(/^bad_options/);
    }
    expect(service.requests.length).toBe(requestsBefore);
  });
});
