import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Worker } from 'playwright-core';
import { DEFAULT_POLICY } from '../../src/config/clients.js';
import { deliverUntilShown, launchBrowser, pushSession, serviceWorker, waitForController, type Browser } from '../support/browser.js';
import type { MintedSubscription } from '../support/push-service.js';
import type { PushWorld } from '../support/push-world.js';
import { enrollFromLink, phoneSubscription, pushMessage, startPwaWorld } from '../pwa/world.js';

/**
 * The PWA's service worker (in Chromium) shows a CIBA request's binding message in the
 * notification itself, before the user opens anything: the push is sent by the sign-in core's
 * backchannel step (src/signin/backchannel.ts), encrypted by the IdP and decrypted by the worker.
 */
describe('CIBA notification on the phone', () => {
  let w: PushWorld;
  let phone: Browser;
  let worker: Worker;
  let subscription: MintedSubscription;
  let push: Awaited<ReturnType<typeof pushSession>>;

  beforeAll(async () => {
    w = await startPwaWorld();
    const sub = phoneSubscription(w);
    subscription = sub.subscription;
    phone = await launchBrowser({ permissions: ['notifications'], initScripts: [sub.initScript] });
    await enrollFromLink(phone.page, w, { expectPush: /Notifications are on/ });
    await waitForController(phone.page);
    worker = await serviceWorker(phone.context, '/pwa/');
    push = await pushSession(phone.page);
  }, 60_000);
  afterAll(async () => {
    await phone?.close();
    await w?.close();
  });

  it('the notification leads with the binding message and offers Approve and Deny (no number to match)', async () => {
    const started = await w.t.idp.signin.backchannel.start(
      { id: 'ciba:notification-test', requester: { ip: '127.0.0.1', userAgent: '', app: { clientId: 'test-rp', name: 'Call Centre', policy: DEFAULT_POLICY } }, ttlSeconds: 60 },
      { accountId: w.accountId, bindingMessage: 'Order 4711' },
    );
    if (started.kind !== 'sent') throw new Error(`no push: ${started.kind}`);
    const message = await pushMessage(w, subscription, started.challengeId);
    expect(message.payload).toMatchObject({ bindingMessage: 'Order 4711', numberMatching: false });
    const list = await deliverUntilShown(push, worker, w.t.url, message.payload, (n) => n.tag === started.challengeId);
    const shown = list.find((n) => n.tag === started.challengeId)!;
    expect(shown.title).toBe('Are you signing in to Call Centre?');
    expect(shown.body).toMatch(/^"Order 4711"\n[^\n·]+ · 127\.0\.0\.1 · \d{1,2}:\d{2}/);
    expect(shown.actions.map((a: { action: string }) => a.action)).toEqual(['approve', 'deny']);
  });
});
