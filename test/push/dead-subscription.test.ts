/**
 * Guards: a subscription the push service calls gone (404/410, RFC 8030 7.3) is reported as 'gone'
 * at once, so the caller marks the device dead, and is never retried.
 */
import type { PushTransport } from '../../src/push/transport.js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Notifier, PushPayload, SendOptions } from '../../src/push/types.js';
import { generateVapidKeys } from '../../src/push/vapid.js';
import { createWebPushNotifier } from '../../src/push/webpush-sender.js';
import { startPushService, type PushServiceDouble } from '../support/push-service.js';

const payload: PushPayload = {
  v: 1, type: 'challenge', cid: 'ch_dead', issuer: 'https://idp.example.com', deviceId: 'dev_1',
  title: 'Sign-in request', body: 'Demo App', app: 'Demo App', ip: '203.0.113.7', location: null,
  browser: 'Chrome on Linux', createdAt: 0, expiresAt: 120_000, numberMatching: false,
};
const options: SendOptions = { ttlSeconds: 60, urgency: 'high', topic: 'dead' };

let service: PushServiceDouble;
let transport: PushTransport;
let notifier: Notifier;
const sleeps: number[] = [];

beforeAll(async () => {
  service = await startPushService();
  transport = service.createTransport();
  notifier = createWebPushNotifier({
    vapid: { ...generateVapidKeys(), subject: 'https://idp.example.com/contact' },
    transport,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
});

afterAll(async () => {
  await notifier.close();
  await transport.close();
  await service.close();
});

function requestsTo(id: string): number {
  return service.requests.filter((r) => r.subscriptionId === id).length;
}

describe('dead subscriptions', () => {
  it('410 Gone after the device unsubscribed gives gone, in one attempt', async () => {
    const sub = service.createSubscription();
    service.unsubscribe(sub.id);

    expect(await notifier.send(sub, payload, options)).toEqual({ status: 'gone', httpStatus: 410, attempts: 1 });
    expect(requestsTo(sub.id)).toBe(1);
  });

  it('404 Not Found gives gone, in one attempt', async () => {
    const sub = service.createSubscription();
    service.force(sub.id, { status: 404 });

    expect(await notifier.send(sub, payload, options)).toEqual({ status: 'gone', httpStatus: 404, attempts: 1 });
    expect(requestsTo(sub.id)).toBe(1);
  });

  it('an endpoint the push service never issued gives gone', async () => {
    const sub = service.createSubscription();
    const forged = { ...sub, endpoint: `${service.origin}/push/never-issued` };

    expect(await notifier.send(forged, payload, options)).toMatchObject({ status: 'gone', httpStatus: 404 });
    expect(sleeps).toEqual([]);
  });
});
