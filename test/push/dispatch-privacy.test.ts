import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Challenge } from '../../src/challenge/types.js';
import { createLogger } from '../../src/log.js';
import { createDispatcher } from '../../src/push/dispatch.js';
import type { PushTransport } from '../../src/push/transport.js';
import type { Notifier } from '../../src/push/types.js';
import { generateVapidKeys } from '../../src/push/vapid.js';
import { createWebPushNotifier } from '../../src/push/webpush-sender.js';
import { startPushService, type PushServiceDouble } from '../support/push-service.js';

/**
 * What a push service learns from the sign-in pushes (red-team, Web Push round): the Topic was one
 * stable value per account, the same on every phone and browser of the user, so a push service could
 * link them to one another for good; it is one per device now. And a subscription its browser said
 * would have expired by now was pushed to anyway; it is treated as gone (the device goes on by
 * polling, as after a 410).
 */
let service: PushServiceDouble;
let transport: PushTransport;
let notifier: Notifier;
const audited: unknown[] = [];
let dispatch: ReturnType<typeof createDispatcher>;

beforeAll(async () => {
  service = await startPushService();
  transport = service.createTransport();
  notifier = createWebPushNotifier({ vapid: { ...generateVapidKeys(), subject: 'https://idp.example.com/contact' }, transport });
  dispatch = createDispatcher({ notifier, issuer: 'https://idp.example.com', audit: { record: async (e: unknown) => void audited.push(e) } as never, logger: createLogger('silent') });
});
afterAll(async () => {
  await notifier.close();
  await transport.close();
  await service.close();
});

const ACCOUNT = 'acct-5f0c2a1e-0000-4000-8000-000000000001';
let n = 0;
function challenge(): Challenge {
  const now = Date.now();
  return {
    id: `ch_privacy_${++n}_0123456789abcdef`, accountId: ACCOUNT, signInId: 'si', clientId: 'test-rp', appName: 'Demo App', nonce: 'n'.repeat(22),
    matchNumber: null, numberChoices: null, ip: '203.0.113.7', browser: 'Chrome on Linux', location: null, createdAt: now, expiresAt: now + 120_000,
    status: 'pending', resolution: null,
  };
}

describe('sign-in pushes, as the push service sees them', () => {
  it('two devices of one account carry different Topics; one device keeps its own from one sign-in to the next', async () => {
    const a = service.createSubscription();
    const b = service.createSubscription();
    const gone: string[] = [];
    const order = { targets: [{ deviceId: 'dev_a', subscription: a }, { deviceId: 'dev_b', subscription: b }], onGone: async (d: string) => void gone.push(d), pollOnly: 0 };
    expect(await dispatch(challenge(), order)).toMatchObject({ sent: 2, gone: 0 });
    expect(await dispatch(challenge(), { ...order, targets: [order.targets[0]!] })).toMatchObject({ sent: 1 });
    const topics = (id: string) => service.messages.filter((m) => m.subscriptionId === id).map((m) => String(m.headers.topic));
    const [a1, a2] = topics(a.id);
    const [b1] = topics(b.id);
    expect(a1).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(a1).not.toBe(b1);
    expect(a2).toBe(a1); // a newer push still replaces an older undelivered one on the same phone
    for (const m of service.messages) expect(JSON.stringify(m.headers)).not.toContain(ACCOUNT);
    expect(gone).toEqual([]);
  });

  it('a subscription past the expirationTime its browser gave is not pushed to, and is reported gone', async () => {
    const fresh = service.createSubscription();
    const stale = service.createSubscription();
    const gone: Array<[string, string]> = [];
    const result = await dispatch(challenge(), {
      targets: [
        { deviceId: 'dev_fresh', subscription: { ...fresh, expirationTime: Date.now() + 86_400_000 } },
        { deviceId: 'dev_stale', subscription: { ...stale, expirationTime: Date.now() - 1000 } },
      ],
      onGone: async (deviceId: string, endpoint: string) => void gone.push([deviceId, endpoint]),
      pollOnly: 0,
    });
    expect(result).toMatchObject({ sent: 1, gone: 1, failed: 0 });
    expect(service.requests.filter((r) => r.subscriptionId === stale.id)).toEqual([]);
    expect(service.messages.filter((m) => m.subscriptionId === fresh.id)).toHaveLength(1);
    expect(gone).toEqual([['dev_stale', stale.endpoint]]);
  });
});
