/**
 * Guards: a slow, failing or rate-limiting push service never makes send() throw or hang the
 * sign-in; retries are few, short and honour Retry-After (RFC 8030 8.4); final refusals such as
 * 413 (RFC 8030 7.2) are not retried.
 */
import https from 'node:https';
import { createPushEndpointGuard } from '../../src/push/endpoint-guard.js';
import { parsePushServices } from '../../src/push/endpoint-policy.js';
import { createPushTransport, type PushTransport } from '../../src/push/transport.js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { PushPayload, SendOptions } from '../../src/push/types.js';
import { generateVapidKeys } from '../../src/push/vapid.js';
import { createWebPushNotifier, type WebPushNotifierOptions } from '../../src/push/webpush-sender.js';
import { startPushService, type PushServiceDouble } from '../support/push-service.js';

const vapid = { ...generateVapidKeys(), subject: 'mailto:ops@idp.example' };
const payload: PushPayload = {
  v: 1, type: 'challenge', cid: 'ch_trouble', issuer: 'https://idp.example.com', deviceId: 'dev_1',
  title: 'Sign-in request', body: 'Demo App', app: 'Demo App', ip: '203.0.113.7', location: null,
  browser: 'Chrome on Linux', createdAt: 0, expiresAt: 120_000, numberMatching: true,
};
const options: SendOptions = { ttlSeconds: 100, urgency: 'high', topic: 'trouble' };
/** A clock frozen on a whole second (HTTP dates have no milliseconds), near real time for VAPID. */
const NOW = Math.floor(Date.now() / 1000) * 1000;

let service: PushServiceDouble;
let transport: PushTransport;

/** A notifier whose pauses are recorded instead of waited. */
function notifierWithRecordedSleeps(more: Partial<WebPushNotifierOptions> = {}) {
  const sleeps: number[] = [];
  const notifier = createWebPushNotifier({
    vapid,
    transport,
    now: () => NOW,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...more,
  });
  return { notifier, sleeps };
}

function requestsTo(id: string): number {
  return service.requests.filter((r) => r.subscriptionId === id).length;
}

// The same trouble over each protocol a push service may speak: HTTP/2 streams, and the pooled
// HTTP/1.1 connections of a service without HTTP/2 (src/push/transport.ts).
describe.each([['HTTP/2', false], ['HTTP/1.1', true]] as const)('push service trouble over %s', (protocol, http1Only) => {
  beforeAll(async () => {
    service = await startPushService({ http1Only });
    transport = service.createTransport();
  });

  afterAll(async () => {
    await transport.close();
    await service.close();
  });

  it('is spoken to in the protocol named', async () => {
    const { notifier } = notifierWithRecordedSleeps();
    expect(await notifier.send(service.createSubscription(), payload, options)).toMatchObject({ status: 'sent', attempts: 1 });
    expect(service.httpVersions).toEqual(protocol === 'HTTP/2' ? { '2.0': 1 } : { '1.1': 1 });
  });

  it('500 twice then 201 is sent on the third attempt after short backoffs', async () => {
    const { notifier, sleeps } = notifierWithRecordedSleeps();
    const sub = service.createSubscription();
    service.force(sub.id, { status: 500, times: 2 });

    expect(await notifier.send(sub, payload, options)).toEqual({ status: 'sent', httpStatus: 201, attempts: 3 });
    expect(sleeps).toEqual([100, 300]);
    expect((await service.waitForMessage(sub.id, 1000)).payload.cid).toBe('ch_trouble');
  });

  it('a push service that keeps failing gives failed after maxAttempts, logging no capability URL', async () => {
    const logs: object[] = [];
    const logger = { debug: (obj: object) => logs.push(obj), warn: (obj: object) => logs.push(obj) };
    const { notifier } = notifierWithRecordedSleeps({ logger });
    const sub = service.createSubscription();
    service.force(sub.id, { status: 503, times: 10 });

    expect(await notifier.send(sub, payload, options)).toEqual({
      status: 'failed', reason: 'push_service_error', httpStatus: 503, attempts: 3,
    });
    expect(requestsTo(sub.id)).toBe(3);
    // RFC 8030 8.3/8.5: whoever reads the endpoint can push to the phone; logs name the origin only.
    expect(logs).toHaveLength(3);
    expect(JSON.stringify(logs)).toContain(service.origin);
    expect(JSON.stringify(logs)).not.toContain(sub.id);
  });

  it('429 with a short Retry-After in seconds waits that long, then sends', async () => {
    const { notifier, sleeps } = notifierWithRecordedSleeps();
    const sub = service.createSubscription();
    service.force(sub.id, { status: 429, headers: { 'Retry-After': '1' } });

    expect(await notifier.send(sub, payload, options)).toEqual({ status: 'sent', httpStatus: 201, attempts: 2 });
    expect(sleeps).toEqual([1000]);
  });

  it('429 with a short Retry-After as an HTTP date waits until then', async () => {
    const { notifier, sleeps } = notifierWithRecordedSleeps();
    const sub = service.createSubscription();
    service.force(sub.id, { status: 429, headers: { 'Retry-After': new Date(NOW + 2000).toUTCString() } });

    expect(await notifier.send(sub, payload, options)).toMatchObject({ status: 'sent', attempts: 2 });
    expect(sleeps).toEqual([2000]);
  });

  it('429 with a long Retry-After is handed back to the caller, not waited', async () => {
    const { notifier, sleeps } = notifierWithRecordedSleeps();
    const sub = service.createSubscription();
    service.force(sub.id, { status: 429, headers: { 'Retry-After': '120' } });

    expect(await notifier.send(sub, payload, options)).toEqual({
      status: 'failed', reason: 'rate_limited', httpStatus: 429, attempts: 1, retryAfterSeconds: 120,
    });
    expect(sleeps).toEqual([]);
    expect(requestsTo(sub.id)).toBe(1);
  });

  it('429 without Retry-After is not hammered', async () => {
    const { notifier } = notifierWithRecordedSleeps();
    const sub = service.createSubscription();
    service.force(sub.id, { status: 429 });

    expect(await notifier.send(sub, payload, options)).toEqual({
      status: 'failed', reason: 'rate_limited', httpStatus: 429, attempts: 1,
    });
  });

  it('413 Payload Too Large is final', async () => {
    const { notifier, sleeps } = notifierWithRecordedSleeps();
    const sub = service.createSubscription();
    service.force(sub.id, { status: 413 });

    expect(await notifier.send(sub, payload, options)).toEqual({
      status: 'failed', reason: 'payload_too_large', httpStatus: 413, attempts: 1,
    });
    expect(sleeps).toEqual([]);
  });

  it('a hanging push service gives failed after the timeout, without throwing', async () => {
    const { notifier, sleeps } = notifierWithRecordedSleeps({ timeoutMs: 150, maxAttempts: 2 });
    const sub = service.createSubscription();
    service.force(sub.id, { hang: true, times: 2 });
    const started = Date.now();

    const result = await notifier.send(sub, payload, options);

    expect(result).toEqual({ status: 'failed', reason: 'timeout', attempts: 2 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(sleeps).toEqual([100]);
    expect(service.requests.filter((r) => r.subscriptionId === sub.id && r.status === 'hang')).toHaveLength(2);
  });

  it('a push service that is not listening gives failed after bounded retries', async () => {
    const closed = https.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as { port: number };
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    // Allowed (as an operator's PUSH_SERVICES entry would), so the attempt reaches the closed port.
    const own = createPushTransport({ guard: createPushEndpointGuard({ services: parsePushServices(`127.0.0.1:${port}`) }) });
    const { notifier, sleeps } = notifierWithRecordedSleeps({ transport: own });
    const sub = { ...service.createSubscription(), endpoint: `https://127.0.0.1:${port}/push/x` };

    expect(await notifier.send(sub, payload, options)).toEqual({ status: 'failed', reason: 'network_error', attempts: 3 });
    expect(sleeps).toEqual([100, 300]);
    await notifier.close();
    await own.close();
  });

  it('an untrusted certificate is a network error, not a delivery', async () => {
    // The service's address is allowed, its certificate is not trusted (Node's roots only).
    const untrusting = createPushTransport({ guard: createPushEndpointGuard({ services: parsePushServices(service.host) }) });
    const { notifier } = notifierWithRecordedSleeps({ transport: untrusting, maxAttempts: 1 });
    const sub = service.createSubscription();

    expect(await notifier.send(sub, payload, options)).toEqual({ status: 'failed', reason: 'network_error', attempts: 1 });
    expect(requestsTo(sub.id)).toBe(0);
    await notifier.close();
    await untrusting.close();
  });
});
