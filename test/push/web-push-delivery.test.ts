/**
 * Guards: a push really reaches the device encrypted to its keys (RFC 8291) with the headers that
 * make it timely and replaceable (RFC 8030), signed by our VAPID key (RFC 8292), over one reused
 * connection; bad subscription input never leaves the process.
 */
import type https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { buildPushPayload } from '../../src/push/payload.js';
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
let agent: https.Agent;
let notifier: Notifier;

beforeAll(async () => {
  service = await startPushService();
  agent = service.createAgent();
  notifier = createWebPushNotifier({ vapid, agent });
});

afterAll(async () => {
  await notifier.close();
  agent.destroy();
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

  it('reuses one TLS connection for consecutive pushes (keep-alive)', async () => {
    const fresh = service.createAgent();
    const keepAliveNotifier = createWebPushNotifier({ vapid, agent: fresh });
    const before = service.tlsConnections;
    const sub = service.createSubscription();

    for (let i = 0; i < 5; i += 1) {
      expect((await keepAliveNotifier.send(sub, payload, options)).status).toBe('sent');
    }

    expect(service.tlsConnections - before).toBe(1);
    await keepAliveNotifier.close();
    fresh.destroy();
  });

  it('fans out to many subscriptions at once over a bounded set of connections', async () => {
    const blind = await startPushService({ decrypt: false }); // the benchmark mode: no decryption
    const pooled = blind.createAgent({ maxSockets: 8 });
    const fanOut = createWebPushNotifier({ vapid, agent: pooled });
    const subs = Array.from({ length: 200 }, () => blind.createSubscription());

    const results = await Promise.all(subs.map((sub) => fanOut.send(sub, payload, options)));

    expect(results.every((r) => r.status === 'sent')).toBe(true);
    expect(blind.accepted).toBe(200);
    expect(blind.messages).toHaveLength(0);
    expect(blind.tlsConnections).toBeLessThanOrEqual(8);
    await fanOut.close();
    pooled.destroy();
    await blind.close();
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
