import { describe, expect, it } from '@jest/globals';
import { backoffMs, parseRetryAfter } from '../../src/push/retry.js';
import { checkSubscription } from '../../src/push/subscription.js';
import type { PushSubscriptionJson } from '../../src/push/types.js';

/**
 * The push sender's pure checks, as tables. Threats: a push service's Retry-After that stalls
 * delivery or is misread (RFC 8030 8.4, RFC 9110 10.2.3), and a subscription from a device that
 * points the IdP at a plain-http or credentialed URL or carries keys that are not RFC 8291's.
 */
describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T12:00:00Z');
  const rows: Array<[string | undefined, number | undefined]> = [
    [undefined, undefined],
    ['0', 0],
    ['120', 120_000],
    [' 7 ', 7_000],
    ['Thu, 01 Jan 2026 12:00:30 GMT', 30_000],
    ['Thu, 01 Jan 2026 11:59:00 GMT', 0], // a date in the past: at once, never negative
    ['Thursday, 01-Jan-26 12:00:10 GMT', 10_000], // RFC 850
    ['Thu Jan  1 12:00:20 2026', 20_000], // asctime
    // Neither delay-seconds nor an HTTP-date: no Retry-After (red-team: V8's Date.parse read them as
    // dates in 2001, so the sender retried at once where it should hand the 429 back).
    ['-5', undefined],
    ['1.5', undefined],
    ['3.7', undefined],
    ['2026-01-01T12:00:30Z', undefined],
    ['soon', undefined],
    ['', undefined],
  ];
  it.each(rows)('%j -> %j ms', (header, ms) => {
    expect(parseRetryAfter(header, now)).toBe(ms);
  });
});

describe('backoffMs', () => {
  it.each([[1, 100], [2, 300], [3, 900], [4, 2700]])('attempt %i waits %i ms', (attempt, ms) => {
    expect(backoffMs(attempt)).toBe(ms);
  });
});

describe('checkSubscription', () => {
  const p256dh = Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]).toString('base64url');
  const auth = Buffer.alloc(16, 2).toString('base64url');
  const sub = (over: { endpoint?: string; keys?: Partial<PushSubscriptionJson['keys']> } = {}): PushSubscriptionJson =>
    ({ endpoint: over.endpoint ?? 'https://push.example/abc', keys: { p256dh, auth, ...over.keys } }) as PushSubscriptionJson;
  const rows: Array<[string, PushSubscriptionJson, string | null]> = [
    ['a good one', sub(), null],
    ['not a URL', sub({ endpoint: 'push.example/abc' }), 'endpoint is not a URL'],
    ['plain http', sub({ endpoint: 'http://push.example/abc' }), 'endpoint is not https'],
    ['credentials in the URL', sub({ endpoint: 'https://user:pw@push.example/abc' }), 'endpoint carries credentials'],
    ['p256dh compressed (33 bytes)', sub({ keys: { p256dh: Buffer.concat([Buffer.from([2]), Buffer.alloc(32, 1)]).toString('base64url') } }), 'p256dh is not a P-256 point'],
    ['p256dh not base64url', sub({ keys: { p256dh: 'a+b/' } }), 'p256dh is not a P-256 point'],
    ['auth of 15 bytes', sub({ keys: { auth: Buffer.alloc(15).toString('base64url') } }), 'auth is not 16 bytes'],
    ['auth missing', sub({ keys: { auth: undefined as unknown as string } }), 'auth is not 16 bytes'],
  ];
  it.each(rows)('%s', (_name, subscription, error) => {
    const got = checkSubscription(subscription);
    if (error === null) expect('error' in got).toBe(false);
    else expect(got).toEqual({ error });
  });
});
