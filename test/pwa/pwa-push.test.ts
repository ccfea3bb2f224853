import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Worker } from 'playwright-core';
import {
  clickNotification,
  launchBrowser,
  notifications,
  pushSession,
  pushSubscriptionDouble,
  serviceWorker,
  servePwa,
  waitForController,
  type Browser,
  type Served,
} from '../support/browser.js';
import { createFakeDeviceApi, totpForStep, type FakeDevice, type FakeDeviceApi } from './fake-device-api.js';
import { enrollViaLink, eventually, storedAccounts } from './flows.js';

/**
 * A push reaching the phone: the service worker always shows it (iOS drops subscriptions of apps
 * that do not), answers from the notification only when the account allows it, and otherwise
 * opens the request page. Pushes are delivered into the real worker over the DevTools protocol.
 */

let served: Served;
let api: FakeDeviceApi;
let phone: Browser;
let worker: Worker;
let device: FakeDevice;
let push: Awaited<ReturnType<typeof pushSession>>;

const DOUBLE = { endpoint: 'https://push.example.test/send/xyz', keys: { p256dh: 'p256dh-of-the-double', auth: 'auth-of-the-double' } };

beforeAll(async () => {
  api = createFakeDeviceApi();
  served = await servePwa(api.routes());
  api.issuer = served.origin;
  phone = await launchBrowser({ permissions: ['notifications'], initScripts: [pushSubscriptionDouble(DOUBLE)] });
  device = await enrollViaLink(phone.page, api, 'acc-alice', { expectPush: /Notifications are on/ });
  await waitForController(phone.page);
  worker = await serviceWorker(phone.context, '/pwa/');
  push = await pushSession(phone.page);
});

afterAll(async () => {
  await phone?.close();
  await served?.close();
});

const scope = () => `${served.origin}/pwa/`;

async function deliver(payload: unknown, tag: string) {
  await push.deliver(served.origin, scope(), payload);
  return eventually(() => notifications(worker), (list) => list.some((n) => n.tag === tag));
}

describe('push notifications', () => {
  it('turn every push into a notification with the request, tagged by challenge id, with Approve and Deny', async () => {
    const c = api.createChallenge('acc-alice', { app: 'Payroll', location: 'Lyon, France' });
    const shown = (await deliver(api.payloadFor(c, device.id), c.id)).find((n) => n.tag === c.id)!;
    expect(shown.title).toBe('Sign-in request');
    // app · location (or IP) · time
    expect(shown.body).toMatch(/^Payroll · Lyon, France · \d{1,2}:\d{2}/);
    expect(shown.actions).toEqual([
      { action: 'approve', title: 'Approve' },
      { action: 'deny', title: 'Deny' },
    ]);
    expect(shown.data).toMatchObject({ cid: c.id, issuer: served.origin, deviceId: device.id });
  });

  it('Approve on the notification answers without opening the app, with a fresh TOTP and the device signature', async () => {
    const c = api.createChallenge('acc-alice');
    await deliver(api.payloadFor(c, device.id), c.id);
    const pagesBefore = phone.context.pages().length;
    const urlBefore = phone.page.url();
    await clickNotification(worker, c.id, 'approve');
    const answer = await eventually(() => api.answers.find((a) => a.cid === c.id), Boolean);
    expect(answer).toMatchObject({ outcome: 'approved', claims: { cid: c.id, nonce: c.nonce, decision: 'approve' } });
    expect(answer!.claims.otp).toBe(totpForStep(device.secret, answer!.step));
    expect(phone.context.pages()).toHaveLength(pagesBefore);
    expect(phone.page.url()).toBe(urlBefore);
    expect((await notifications(worker)).some((n) => n.tag === c.id)).toBe(false);
  });

  it('Deny on the notification sends a denial', async () => {
    const c = api.createChallenge('acc-alice');
    await deliver(api.payloadFor(c, device.id), c.id);
    await clickNotification(worker, c.id, 'deny');
    const answer = await eventually(() => api.answers.find((a) => a.cid === c.id), Boolean);
    expect(answer).toMatchObject({ outcome: 'denied', claims: { decision: 'deny' } });
  });

  it('two answers within one 30 s step use consecutive TOTP steps, and both are accepted', async () => {
    // A second account on the phone, whose steps earlier tests have not used.
    const bob = await enrollViaLink(phone.page, api, 'acc-bob', { expectPush: /Notifications are on/ });
    const [a, b] = [api.createChallenge('acc-bob'), api.createChallenge('acc-bob')];
    await deliver(api.payloadFor(a, bob.id), a.id);
    await deliver(api.payloadFor(b, bob.id), b.id);
    await clickNotification(worker, a.id, 'approve');
    await clickNotification(worker, b.id, 'approve');
    const answers = await eventually(() => api.answers.filter((x) => x.cid === a.id || x.cid === b.id), (list) => list.length === 2);
    expect(answers.map((x) => x.outcome)).toEqual(['approved', 'approved']);
    expect(answers[1]!.step).toBeGreaterThan(answers[0]!.step);
    const stored = (await storedAccounts(phone.page)).find((x) => x.deviceId === bob.id);
    expect(stored!.lastUsedStep).toBe(answers[1]!.step);
  });

  it('with number matching, Approve opens the request page instead of answering', async () => {
    const c = api.createChallenge('acc-alice', { numberMatching: true });
    await deliver(api.payloadFor(c, device.id), c.id);
    await clickNotification(worker, c.id, 'approve');
    await phone.page.waitForURL((url) => url.searchParams.get('request') === c.id);
    await phone.page.getByTestId(`number-${c.matchNumber}`).waitFor();
    expect(api.answers.some((x) => x.cid === c.id)).toBe(false);
  });

  it('tapping the notification opens its request page in the app', async () => {
    await phone.page.goto(`${served.origin}/pwa/`);
    const c = api.createChallenge('acc-alice', { app: 'Wiki' });
    await deliver(api.payloadFor(c, device.id), c.id);
    await clickNotification(worker, c.id);
    await phone.page.waitForURL((url) => url.searchParams.get('request') === c.id && url.searchParams.get('device') === device.id);
    await expect(phone.page.getByTestId('request-app').textContent()).resolves.toBe('Wiki');
  });

  it('shows a notification even for a push it cannot read', async () => {
    const list = await deliver('not json at all', 'pushotp-unknown');
    expect(list.find((n) => n.tag === 'pushotp-unknown')!.title).toBe('Sign-in request');
  });

  it('replaces a failed answer with a notification that says why', async () => {
    const c = api.createChallenge('acc-alice');
    await deliver(api.payloadFor(c, device.id), c.id);
    c.status = 'denied'; // answered elsewhere in the meantime: the worker opens the page instead
    await clickNotification(worker, c.id, 'deny');
    await phone.page.waitForURL((url) => url.searchParams.get('request') === c.id);
    await expect(phone.page.getByTestId('request-message').textContent()).resolves.toMatch(/already denied/);
  });

  it('on pushsubscriptionchange, sends the new subscription to the IdP', async () => {
    const renewed = { endpoint: 'https://push.example.test/send/renewed', keys: { p256dh: 'new-p256dh', auth: 'new-auth' } };
    await worker.evaluate(async (sub) => {
      const sw = self as unknown as ServiceWorkerGlobalScope;
      const event = new ExtendableEvent('pushsubscriptionchange');
      const pending: Promise<unknown>[] = [];
      Object.defineProperties(event, {
        oldSubscription: { value: null },
        newSubscription: { value: { endpoint: sub.endpoint, toJSON: () => ({ ...sub, expirationTime: null }) } },
        waitUntil: { value: (p: Promise<unknown>) => pending.push(p) },
      });
      sw.dispatchEvent(event);
      await Promise.all(pending);
    }, renewed);
    expect(device.push).toEqual({ ...renewed, expirationTime: null });
    const [stored] = await storedAccounts(phone.page);
    expect(stored!.push).toMatchObject({ status: 'active', endpoint: renewed.endpoint });
  });

  it('logged no console error', () => {
    expect(phone.errors).toEqual([]);
  });
});
