/**
 * Guards: whatever the requester puts in its User-Agent or an operator in an app name, the push
 * stays under the 4096-byte body push services must accept (RFC 8030 7.2, RFC 8291 4), shows no
 * spoofing characters, and is refused rather than silently cut when identifiers are too long.
 */
import type { PushTransport } from '../../src/push/transport.js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  buildPushPayload,
  displayText,
  FIELD_LIMITS,
  MAX_PUSH_PLAINTEXT_BYTES,
  PUSH_PAYLOAD_BUDGET_BYTES,
  PushPayloadTooLargeError,
  type ChallengeForPush,
} from '../../src/push/payload.js';
import { generateVapidKeys } from '../../src/push/vapid.js';
import { createWebPushNotifier } from '../../src/push/webpush-sender.js';
import type { Notifier } from '../../src/push/types.js';
import { startPushService, type PushServiceDouble } from '../support/push-service.js';

const challenge: ChallengeForPush = {
  id: 'ch_0123456789abcdefghijkl',
  appName: 'Demo App',
  ip: '203.0.113.7',
  browser: 'Chrome on Linux',
  location: null,
  createdAt: 1764370000000,
  expiresAt: 1764370120000,
  matchNumber: 42,
};
const target = { issuer: 'https://idp.example.com', deviceId: 'dev_1' };
const bytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value));

let service: PushServiceDouble;
let transport: PushTransport;
let notifier: Notifier;

beforeAll(async () => {
  service = await startPushService();
  transport = service.createTransport();
  notifier = createWebPushNotifier({ vapid: { ...generateVapidKeys(), subject: 'mailto:ops@idp.example' }, transport });
});

afterAll(async () => {
  await notifier.close();
  await transport.close();
  await service.close();
});

describe('push payload limits', () => {
  it('builds the documented payload and tells the phone nothing that grants anything', () => {
    const payload = buildPushPayload(challenge, target);

    expect(payload).toEqual({
      v: 1, type: 'challenge', cid: challenge.id, issuer: target.issuer, deviceId: 'dev_1',
      title: 'Are you signing in to Demo App?', body: 'Demo App · 203.0.113.7 · Chrome on Linux', app: 'Demo App',
      ip: '203.0.113.7', location: null, browser: 'Chrome on Linux', createdAt: challenge.createdAt,
      expiresAt: challenge.expiresAt, numberMatching: true,
    });
    expect(JSON.stringify(payload)).not.toContain('42'); // the number to match stays on the login page
  });

  it('truncates huge app names, browsers and locations to stay within the budget', () => {
    const payload = buildPushPayload(
      { ...challenge, appName: 'A'.repeat(10_000), browser: 'Mozilla/5.0 '.repeat(1000), location: 'Ü'.repeat(5000) },
      target,
    );

    expect(Array.from(payload.app)).toHaveLength(FIELD_LIMITS.app);
    expect(payload.app.endsWith('…')).toBe(true);
    expect(Array.from(payload.browser).length).toBeLessThanOrEqual(FIELD_LIMITS.browser);
    expect(Array.from(payload.location ?? '')).toHaveLength(FIELD_LIMITS.location);
    expect(bytes(payload)).toBeLessThanOrEqual(PUSH_PAYLOAD_BUDGET_BYTES);
  });

  it('never cuts a character in half (emoji sequences stay whole)', () => {
    const family = '👩‍👩‍👧‍👦'; // one grapheme, seven code points, 25 bytes
    for (const input of [family.repeat(100), `a${family.repeat(100)}`, '界'.repeat(100)]) {
      const cut = displayText(input, 10);
      const kept = cut.slice(0, -1);

      expect(cut.endsWith('…')).toBe(true);
      expect(input.startsWith(kept)).toBe(true);
      expect(kept.replace(/^a/, '').split(family).join('').replace(/界/g, '')).toBe('');
      expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(30);
    }
    expect(displayText('界'.repeat(100), 10)).toBe(`${'界'.repeat(9)}…`);
  });

  it('a crafted User-Agent cannot make the payload too big, whatever its characters', () => {
    const nasty = [
      '👩‍👩‍👧‍👦'.repeat(2000),
      `a${'\u0301'.repeat(20_000)}`, // one grapheme of 40 KB
      '"\\'.repeat(5000), // doubled by JSON escaping
      '\uD800'.repeat(5000), // lone surrogates, escaped as \uXXXX by JSON
    ];
    for (const text of nasty) {
      const payload = buildPushPayload({ ...challenge, appName: text, browser: text, location: text, ip: text }, { ...target, title: text });
      expect(bytes(payload)).toBeLessThanOrEqual(PUSH_PAYLOAD_BUDGET_BYTES);
      expect(Buffer.from(JSON.stringify(payload)).toString()).toBe(JSON.stringify(payload));
    }
  });

  it('strips control and bidi-override characters a requester could use to spoof the text', () => {
    const payload = buildPushPayload({ ...challenge, browser: 'Chrome\u202Eyrotcerid\u202C\n\ton\u0000 Linux' }, target);

    expect(payload.browser).toBe('Chrome yrotcerid on Linux');
  });

  it('refuses rather than truncates identifiers that do not fit', () => {
    expect(() => buildPushPayload(challenge, { ...target, issuer: `https://idp.example.com/${'x'.repeat(4000)}` })).toThrow(
      PushPayloadTooLargeError,
    );
  });

  it('the largest payload the builder allows still reaches the push service under 4096 bytes', async () => {
    const widest = { ...challenge, appName: '界'.repeat(500), browser: '界'.repeat(500), location: '界'.repeat(500), ip: '界'.repeat(500) };
    const base = { ...target, title: '界'.repeat(500), deviceId: 'dev_' };
    const room = PUSH_PAYLOAD_BUDGET_BYTES - bytes(buildPushPayload(widest, base));
    const payload = buildPushPayload(widest, { ...base, deviceId: `dev_${'d'.repeat(room)}` });
    expect(bytes(payload)).toBe(PUSH_PAYLOAD_BUDGET_BYTES);
    const sub = service.createSubscription();

    expect(await notifier.send(sub, payload, { ttlSeconds: 60, urgency: 'high', topic: 'big' })).toMatchObject({ status: 'sent' });
    const message = await service.waitForMessage(sub.id, 2000);
    expect(message.payload).toEqual(payload);
    expect(message.bodyBytes).toBeLessThanOrEqual(4096);
  });

  it('the sender refuses a hand-made payload over the RFC 8291 limit without a request', async () => {
    const sub = service.createSubscription();
    const huge = { ...buildPushPayload(challenge, target), body: 'x'.repeat(MAX_PUSH_PLAINTEXT_BYTES) };

    expect(await notifier.send(sub, huge, { ttlSeconds: 60, urgency: 'high', topic: 'big' })).toEqual({
      status: 'failed', reason: 'payload_too_large', attempts: 0,
    });
    expect(service.requests.filter((r) => r.subscriptionId === sub.id)).toHaveLength(0);
  });
});
