import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Worker } from 'playwright-core';
import { clickNotification, deliverUntilShown, holdNotification, launchBrowser, notifications, pushSession, serviceWorker, waitForController, type Browser } from '../support/browser.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import type { MintedSubscription } from '../support/push-service.js';
import type { PushWorld } from '../support/push-world.js';
import { eventually, storedAccounts } from './flows.js';
import {
  alice,
  answered,
  challengeAt,
  demoPushSignIn,
  deviceRow,
  enrollFromLink,
  finishAtRp,
  newUser,
  phoneSubscription,
  pushMessage,
  pushSignIn,
  resolved,
  startPwaWorld,
  type Enrolled,
  type PushSignIn,
  type User,
} from './world.js';

/**
 * A push reaching the phone: the service worker always shows it (iOS drops subscriptions of apps
 * that do not), answers from the notification only when the account allows it, and otherwise
 * opens the request page. Every push is the IdP's own, sent through the local push-service double
 * and handed to the real worker over the DevTools protocol; every answer goes to the real IdP.
 * The test RP here has number matching off (the demo app, with it on, covers the other case).
 */

let w: PushWorld;
let phone: Browser;
let worker: Worker;
let subscription: MintedSubscription;
let device: Enrolled;
let push: Awaited<ReturnType<typeof pushSession>>;

beforeAll(async () => {
  w = await startPwaWorld({ login: { numberMatching: false } });
  const sub = phoneSubscription(w);
  subscription = sub.subscription;
  phone = await launchBrowser({ permissions: ['notifications'], initScripts: [sub.initScript] });
  device = await enrollFromLink(phone.page, w, { expectPush: /Notifications are on/ });
  await waitForController(phone.page);
  worker = await serviceWorker(phone.context, '/pwa/');
  push = await pushSession(phone.page);
}, 60_000);

afterAll(async () => {
  await phone?.close();
  await w?.close();
});

/** Hands the IdP's push for this sign-in to the worker; returns what the worker shows. */
async function deliver(s: Pick<PushSignIn, 'cid'>) {
  const message = await pushMessage(w, subscription, s.cid);
  const list = await deliverUntilShown(push, worker, w.t.url, message.payload, (n) => n.tag === s.cid);
  return list.find((n) => n.tag === s.cid)!;
}

describe('push notifications', () => {
  it('turn every push into a notification with the request, tagged by challenge id, with Approve and Deny', async () => {
    const s = await pushSignIn(w);
    const shown = await deliver(s);
    // The question, then whose account and from where: name · location (or IP) · time.
    expect(shown.title).toBe('Are you signing in to Test RP?');
    const name = device.response.account.displayName || device.response.account.username;
    expect(shown.body).toMatch(new RegExp(`^${name} · 127\\.0\\.0\\.1 · \\d{1,2}:\\d{2}`));
    expect(shown.actions).toEqual([
      { action: 'approve', title: 'Approve' },
      { action: 'deny', title: 'Deny' },
    ]);
    expect(shown.data).toMatchObject({ cid: s.cid, issuer: w.t.url, deviceId: device.deviceId, numberMatching: false });
    // Only shown: nothing was answered.
    expect((await challengeAt(w, s.cid)).status).toBe('pending');
  });

  it('Approve on the notification answers without opening the app, and the relying app gets its tokens', async () => {
    const s = await pushSignIn(w);
    expect(s.number).toBeNull();
    await deliver(s);
    const pagesBefore = phone.context.pages().length;
    const urlBefore = phone.page.url();
    const stepBefore = (await deviceRow(w, device.deviceId)).lastAnswerStep;
    await clickNotification(worker, s.cid, 'approve');

    const claims = await finishAtRp(w, s);
    expect(claims.amr).toEqual(['pwd', 'otp', 'swk', 'mfa']);
    expect(claims.sub).toBe(w.accountId);
    expect((await challengeAt(w, s.cid)).resolution).toMatchObject({ status: 'approved', deviceId: device.deviceId, decision: 'approve' });
    // A fresh TOTP step, the one the app recorded as used.
    const step = (await deviceRow(w, device.deviceId)).lastAnswerStep;
    expect(step).toBeGreaterThan(stepBefore);
    expect((await storedAccounts(phone.page)).find((a) => a.deviceId === device.deviceId)!.lastUsedStep).toBe(step);
    expect(phone.context.pages()).toHaveLength(pagesBefore);
    expect(phone.page.url()).toBe(urlBefore);
    expect((await notifications(worker)).some((n) => n.tag === s.cid)).toBe(false);
  });

  it('Deny on the notification denies the sign-in', async () => {
    const s = await pushSignIn(w);
    await deliver(s);
    await clickNotification(worker, s.cid, 'deny');
    expect(await answered(s)).toMatchObject({ status: 'denied', reason: 'denied' });
    expect((await challengeAt(w, s.cid)).resolution).toMatchObject({ decision: 'deny', deviceId: device.deviceId });
  });

  it('two answers within one 30 s step use consecutive TOTP steps, and the IdP accepts both', async () => {
    // Another account on the phone (another device at the IdP), whose steps no earlier test used.
    const bob: User = await newUser(w, 'Bob Builder');
    const bobDevice = await enrollFromLink(phone.page, w, { user: bob, expectPush: /Notifications are on/ });
    const a = await pushSignIn(w, bob);
    const b = await pushSignIn(w, bob);
    await deliver(a);
    await deliver(b);
    // Two accounts now: the notification says whose request it is.
    expect((await notifications(worker)).find((n) => n.tag === a.cid)!.body).toContain('Bob Builder');
    await clickNotification(worker, a.cid, 'approve');
    const first = (await deviceRow(w, bobDevice.deviceId)).lastAnswerStep;
    await clickNotification(worker, b.cid, 'approve');
    const second = (await deviceRow(w, bobDevice.deviceId)).lastAnswerStep;
    expect((await finishAtRp(w, a)).sub).toBe(bob.id);
    expect((await finishAtRp(w, b)).sub).toBe(bob.id);
    // Each step once (RFC 6238 5.2): the second answer carried a later step, within the IdP's window.
    expect(second).toBeGreaterThan(first);
    expect(second).toBeLessThanOrEqual(Math.floor(Date.now() / 30_000) + 1);
    const stored = (await storedAccounts(phone.page)).find((x) => x.deviceId === bobDevice.deviceId)!;
    expect(stored.lastUsedStep).toBe(second);
  });

  it('with number matching, Approve opens the request page instead of answering', async () => {
    // The demo app asks for number matching; its sign-in runs through the same IdP.
    const s = await demoPushSignIn(w, alice(w));
    await deliver(s);
    await clickNotification(worker, s.cid, 'approve');
    await phone.page.waitForURL((url) => url.searchParams.get('request') === s.cid);
    await phone.page.getByTestId(`number-${s.number}`).waitFor();
    expect((await challengeAt(w, s.cid)).status).toBe('pending');
  });

  it('tapping the notification opens its request page in the app', async () => {
    await phone.page.goto(`${w.t.url}/pwa/`);
    const s = await pushSignIn(w);
    await deliver(s);
    await clickNotification(worker, s.cid);
    await phone.page.waitForURL((url) => url.searchParams.get('request') === s.cid && url.searchParams.get('device') === device.deviceId);
    await expect(phone.page.getByTestId('request-app').textContent()).resolves.toBe('Test RP');
    expect((await challengeAt(w, s.cid)).status).toBe('pending');
  });

  it('shows a notification even for a push it cannot read', async () => {
    const list = await deliverUntilShown(push, worker, w.t.url, 'not json at all', (n) => n.tag === 'pushotp-unknown');
    expect(list.find((n) => n.tag === 'pushotp-unknown')!.title).toBe('Sign-in request');
  });

  it('a request answered elsewhere meanwhile: Deny opens the request page, which says so', async () => {
    const s = await pushSignIn(w);
    await deliver(s);
    // The tap below comes as the other phone's approval lands: the worker's check (every 3 s) or the
    // app's poll may close the notification first, which would leave nothing to tap.
    await holdNotification(worker, s.cid);
    // The user's other phone (another copy of the app, in poll mode) approves it first.
    const other = await launchBrowser();
    try {
      const otherDevice = await enrollFromLink(other.page, w, { expectPush: /Notifications are off/ });
      await other.page.goto(`${w.t.url}/pwa/?${new URLSearchParams({ request: s.cid, issuer: w.t.url, device: otherDevice.deviceId })}`);
      await other.page.getByTestId('approve').click();
      await expect(other.page.getByTestId('request-result').textContent()).resolves.toMatch(/^Approved/);
      await clickNotification(worker, s.cid, 'deny');
      await phone.page.waitForURL((url) => url.searchParams.get('request') === s.cid);
      await expect(phone.page.getByTestId('request-message').textContent()).resolves.toMatch(/already approved/);
      expect((await resolved(w, s.cid)).resolution!.deviceId).toBe(otherDevice.deviceId);
      expect(other.errors).toEqual([]);
      await w.t.idp.deviceService.revokeDevice(w.accountId, otherDevice.deviceId);
    } finally {
      await other.close();
    }
  });

  it('on pushsubscriptionchange, sends the new subscription to the IdP, and the next push goes there', async () => {
    const renewed = w.pushService.createSubscription();
    await worker.evaluate(async (sub) => {
      const sw = self as unknown as ServiceWorkerGlobalScope;
      const event = new ExtendableEvent('pushsubscriptionchange');
      const pending: Promise<unknown>[] = [];
      Object.defineProperties(event, {
        oldSubscription: { value: null },
        newSubscription: { value: { endpoint: sub.endpoint, toJSON: () => ({ endpoint: sub.endpoint, keys: sub.keys, expirationTime: null }) } },
        waitUntil: { value: (p: Promise<unknown>) => pending.push(p) },
      });
      sw.dispatchEvent(event);
      await Promise.all(pending);
    }, { endpoint: renewed.endpoint, keys: renewed.keys });
    expect(await deviceRow(w, device.deviceId)).toMatchObject({ pushStatus: 'active', push: { endpoint: renewed.endpoint, keys: renewed.keys } });
    const [stored] = await storedAccounts(phone.page);
    expect(stored!.push).toMatchObject({ status: 'active', endpoint: renewed.endpoint });

    const s = await pushSignIn(w);
    const message = await pushMessage(w, renewed, s.cid);
    expect(message.payload.deviceId).toBe(device.deviceId);
    expect(w.pushService.messages.some((m) => m.subscriptionId === subscription.id && m.payload.cid === s.cid)).toBe(false);
  });

  it('a new authenticator added to the account: the IdP\'s notice is shown, with no Approve or Deny', async () => {
    const offer = await w.t.idp.deviceService.issueEnrollment(w.accountId, 'test');
    await SimulatedAuthenticator.enroll(w.t.url, offer.code, { name: 'Unknown tablet' });
    // Whatever subscription the phone holds now (an earlier test renewed it): the notice names its device.
    const isOurs = (m: { payload: { deviceId: string } }) => m.payload.deviceId === device.deviceId && JSON.stringify(m.payload).includes('Unknown tablet');
    const notice = await eventually(async () => w.pushService.notices.find(isOurs), (m) => m !== undefined);
    const mentions = (n: { title: string; body: string }) => n.title === 'A new authenticator was added' && n.body.includes('"Unknown tablet" can now approve sign-ins');
    const list = await deliverUntilShown(push, worker, w.t.url, notice!.payload, mentions);
    const shown = list.find(mentions)!;
    expect(shown.actions).toEqual([]);
  });

  it('logged no console error', () => {
    expect(phone.errors).toEqual([]);
  });
});
