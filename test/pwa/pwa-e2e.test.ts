import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  clickNotification,
  launchBrowser,
  notifications,
  pushSession,
  pushSubscriptionDouble,
  serviceWorker,
  waitForController,
  type Browser,
} from '../support/browser.js';
import type { MintedSubscription } from '../support/push-service.js';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { eventually, shownCode } from './flows.js';

/**
 * The PWA against the real IdP: enrollment from the link the IdP issues, the subscription PUT
 * after it, a sign-in whose push travels through the local push service (VAPID checked, aes128gcm
 * decrypted) into the real service worker, the number picked from the real login page, and
 * tokens at the relying app. Also a passcode read off the home screen and typed at the login page.
 */

let w: PushWorld;
let phone: Browser;
let subscription: MintedSubscription;
let deviceId: string;

beforeAll(async () => {
  // PostgreSQL: a fresh schema starts in a fraction of a second where embedded PGlite takes seconds.
  w = await PushWorld.start({ idp: { storage: 'postgres' } });
  subscription = w.pushService.createSubscription();
  phone = await launchBrowser({ permissions: ['notifications'], initScripts: [pushSubscriptionDouble({ endpoint: subscription.endpoint, keys: subscription.keys })] });
}, 60_000);

afterAll(async () => {
  await phone?.close();
  await w?.close();
});

describe('the PWA with the real IdP', () => {
  it('enrolls from the IdP’s enrollment link, then sends its push subscription', async () => {
    const { page } = phone;
    const offer = await w.t.idp.deviceService.issueEnrollment(w.accountId, 'test');
    await page.goto(offer.url);
    await page.getByTestId('enroll-submit').click();
    await page.getByTestId('enroll-done').waitFor();
    await expect(page.getByTestId('enroll-push').textContent()).resolves.toMatch(/Notifications are on/);
    const [device] = await w.t.idp.deviceService.listDevices(w.accountId);
    expect(device).toMatchObject({ name: 'Chrome on Linux', pushStatus: 'active', push: { endpoint: subscription.endpoint } });
    deviceId = device!.id;
    await page.getByTestId('enroll-finish').click();
  });

  it('a passcode from the home screen signs in at the login page', async () => {
    const { code } = await shownCode(phone.page);
    const { browser, uid, verifier, state } = await w.startSignIn();
    const form = await browser.go(`/interaction/${uid}/passcode`);
    const done = await browser.submit(form.body, /\/passcode$/, { passcode: code });
    expect(done.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
    expect((await w.tokens(done.url, verifier, state)).claims()!.amr).toEqual(['pwd', 'otp', 'mfa']);
  });

  it('a push sign-in: notification, Approve opens the request, the right number approves, the login page continues', async () => {
    const { page, context } = phone;
    await waitForController(page);
    const worker = await serviceWorker(context, '/pwa/');
    const push = await pushSession(page);

    const { browser, next, uid, verifier, state } = await w.startSignIn();
    const wait = await browser.submit(next.body, /\/push$/, {});
    const number = matchNumberOf(wait.body)!;
    const message = await w.pushService.waitForMessage(subscription.id, 5000);
    const cid = (message.payload as { cid: string }).cid;
    expect(message.payload).toMatchObject({ deviceId, issuer: w.t.url, numberMatching: true });

    await push.deliver(w.t.url, `${w.t.url}/pwa/`, message.payload);
    const shown = (await eventually(() => notifications(worker), (list) => list.some((n) => n.tag === cid))).find((n) => n.tag === cid)!;
    expect(shown.title).toBe('Sign-in request');
    expect(shown.body).toContain('Test RP');

    // Number matching is on: Approve opens the request page rather than answering blind.
    await clickNotification(worker, cid, 'approve');
    await page.waitForURL((url) => url.searchParams.get('request') === cid);
    await expect(page.getByTestId('request-app').textContent()).resolves.toBe('Test RP');
    await page.getByTestId(`number-${number}`).click();
    await page.getByTestId('approve').click();
    // The typed passcode above used this step without the app knowing: the IdP answers
    // otp_replayed once and the app retries with the next step.
    await expect(page.getByTestId('request-result').textContent()).resolves.toMatch(/^Approved/);

    const status = (await (await browser.request(`/interaction/${uid}/push/status`, { headers: { accept: 'application/json' } })).json()) as { status: string; next: string };
    expect(status.status).toBe('approved');
    const done = await browser.go(status.next);
    const tokens = await w.tokens(done.url, verifier, state);
    expect(tokens.claims()!.amr).toEqual(['pwd', 'otp', 'swk', 'mfa']);
    expect(tokens.claims()!.sub).toBe(w.accountId);
  });

  it('Deny on the notification denies the sign-in without opening anything', async () => {
    const { context } = phone;
    const worker = await serviceWorker(context, '/pwa/');
    const push = await pushSession(phone.page);
    const { browser, next, uid } = await w.startSignIn();
    await browser.submit(next.body, /\/push$/, {});
    const message = await w.pushService.waitForMessage(subscription.id, 5000);
    const cid = (message.payload as { cid: string }).cid;
    await push.deliver(w.t.url, `${w.t.url}/pwa/`, message.payload);
    await eventually(() => notifications(worker), (list) => list.some((n) => n.tag === cid));
    await clickNotification(worker, cid, 'deny');
    const status = await eventually(
      async () => (await (await browser.request(`/interaction/${uid}/push/status`, { headers: { accept: 'application/json' } })).json()) as { status: string },
      (s) => s.status !== 'pending',
      10_000,
    );
    expect(status.status).toBe('denied');
  });

  it('logged no console error', () => {
    expect(phone.errors).toEqual([]);
  });
});
