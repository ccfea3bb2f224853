import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';
import {
  clickNotification,
  deliverUntilShown,
  launchBrowser,
  launchUserBrowsers,
  notifications,
  pushSession,
  screenshot,
  serviceWorker,
  waitForController,
  type Browser,
  type UserBrowsers,
} from '../support/browser.js';
import type { MintedSubscription } from '../support/push-service.js';
import { PushWorld } from '../support/push-world.js';
import { openDemoSignIn, sendPushFromPage, shownCode, signedInAmr, typePassword } from './flows.js';
import {
  alice,
  auditFor,
  challengeAt,
  deviceRow,
  enrollFromLink,
  enrollmentExchange,
  isCodeOf,
  newUser,
  phoneSubscription,
  pushMessage,
  resolved,
  startPwaWorld,
  type Enrolled,
  type User,
} from './world.js';

/**
 * Push OTP end to end, in two Chromiums against the real IdP: the user at the demo app (the IdP's
 * own relying app at /demo, signing in over OIDC like any outside app) and the phone running the
 * PWA served by the IdP at /pwa/. The phone enrolls from the link the IdP issues; the sign-in sends
 * a real Web Push (VAPID-signed, aes128gcm-encrypted) to the local push-service double, which
 * decrypts it; the test hands the plaintext to the phone's service worker over the DevTools
 * protocol; the phone answers; the waiting page continues by itself (its long-poll script).
 */

let w: PushWorld;
let users: UserBrowsers;
const open: Browser[] = [];

beforeAll(async () => {
  // The default report mute (20 minutes): the report test shows its effect.
  w = await startPwaWorld({ env: { PUSH_MUTE_AFTER_REPORT: '1200' } });
  users = await launchUserBrowsers();
}, 60_000);

afterEach(async () => {
  for (const b of open.splice(0)) await b.close();
});

afterAll(async () => {
  await users?.close();
  await w?.close();
});

async function userAtDemo(): Promise<Browser> {
  const user = await users.open();
  open.push(user);
  return user;
}

interface Phone {
  browser: Browser;
  enrolled: Enrolled;
  subscription: MintedSubscription | null;
  /** Hands the IdP's push for `cid` to the service worker and waits for its notification. */
  receive(cid: string): Promise<void>;
}

/**
 * A phone for one test, enrolled for `user` from the IdP's link. With `push`, notifications are
 * allowed and pushManager.subscribe returns a subscription of the push-service double; without,
 * the app is in poll mode.
 */
async function enrolledPhone(user: User, opts: { push: boolean } = { push: true }): Promise<Phone> {
  const sub = opts.push ? phoneSubscription(w) : null;
  const browser = await launchBrowser(sub ? { permissions: ['notifications'], initScripts: [sub.initScript] } : {});
  open.push(browser);
  const enrolled = await enrollFromLink(browser.page, w, { user, expectPush: opts.push ? /Notifications are on/ : /Notifications are off/ });
  if (!sub) return { browser, enrolled, subscription: null, receive: () => Promise.reject(new Error('poll mode')) };
  await waitForController(browser.page);
  const worker = await serviceWorker(browser.context, '/pwa/');
  const channel = await pushSession(browser.page);
  return {
    browser,
    enrolled,
    subscription: sub.subscription,
    async receive(cid) {
      const message = await pushMessage(w, sub.subscription, cid);
      await deliverUntilShown(channel, worker, enrolled.issuer, message.payload, (n) => n.tag === cid);
    },
  };
}

/** The challenge the IdP made for the sign-in on the user's waiting page (/interaction/<uid>/wait). */
async function pendingCid(user: User, page: Page): Promise<string> {
  const uid = new URL(page.url()).pathname.split('/')[2];
  const challenge = (await w.t.idp.challenges.listPending(user.id)).find((c) => c.signInId === uid);
  if (!challenge) throw new Error(`no pending challenge for ${user.username}'s sign-in ${uid}`);
  return challenge.id;
}

describe('a push sign-in at the demo app, answered on the phone', () => {
  it('enroll from the link, sign in, the push reaches the worker, the right number approves, the demo app shows amr', async () => {
    const user = alice(w);
    const phone = await enrolledPhone(user);
    const { page } = phone.browser;
    const device = await deviceRow(w, phone.enrolled.deviceId);
    // The default name: browser and system (no model on desktop) and the day it was added.
    expect(device).toMatchObject({ name: expect.stringMatching(new RegExp(`^Chrome on Linux, .*${new Date().getFullYear()}$`)), pushStatus: 'active', push: { endpoint: phone.subscription!.endpoint } });
    await screenshot(page, 'phone-home');

    const browser = await userAtDemo();
    await openDemoSignIn(browser.page, w.t.url);
    await expect(browser.page.locator('.sub').textContent()).resolves.toMatch(/Demo App/);
    await screenshot(browser.page, 'login');
    await typePassword(browser.page, user.username, PushWorld.password);
    const longPoll = browser.page.waitForRequest((req) => req.url().endsWith('/push/status'));
    const number = await sendPushFromPage(browser.page);
    expect(number).toEqual(expect.any(Number));
    await longPoll; // the waiting page's script is waiting on the IdP
    await screenshot(browser.page, 'waiting');

    const cid = await pendingCid(user, browser.page);
    const message = await pushMessage(w, phone.subscription!, cid);
    expect(message.payload).toMatchObject({ deviceId: phone.enrolled.deviceId, issuer: w.t.url, app: 'Demo App', numberMatching: true });
    // The subscription the app made carries the key the IdP signs its pushes with.
    expect(message.vapidKey).toBe(phone.enrolled.response.vapidPublicKey);
    await phone.receive(cid);
    const worker = await serviceWorker(phone.browser.context, '/pwa/');
    const shown = (await notifications(worker)).find((n) => n.tag === cid)!;
    // Number matching: the notification cannot approve; Review opens the numbers to choose from.
    expect(shown).toMatchObject({ title: 'Are you signing in to Demo App?', actions: [{ action: 'review', title: 'Review' }, { action: 'deny', title: 'Deny' }] });
    const name = phone.enrolled.response.account.displayName || phone.enrolled.response.account.username;
    expect(shown.body).toMatch(new RegExp(`^${name} · 127\\.0\\.0\\.1 · \\d{1,2}:\\d{2}`));

    // Tapping the notification opens its request page, which shows what the IdP says.
    await clickNotification(worker, cid);
    await page.waitForURL((url) => url.searchParams.get('request') === cid);
    await expect(page.getByTestId('request-app').textContent()).resolves.toBe('Demo App');
    await page.getByTestId(`number-${number}`).waitFor();
    await screenshot(page, 'phone-request');
    // One tap on the right number approves.
    await page.getByTestId(`number-${number}`).click();
    await expect(page.getByTestId('request-result').textContent()).resolves.toMatch(/^Approved/);

    // The waiting page continues by itself to the demo app, which got an ID token with the push's amr.
    expect(await signedInAmr(browser.page)).toBe('pwd otp swk mfa');
    expect(new URL(browser.page.url()).pathname).toBe('/demo/callback');
    await screenshot(browser.page, 'signed-in');
    expect((await challengeAt(w, cid)).resolution).toMatchObject({ status: 'approved', deviceId: phone.enrolled.deviceId, decision: 'approve', amr: ['otp', 'swk'] });
    expect(await auditFor(w, 'push.approved', cid)).toHaveLength(1);
    expect(phone.browser.errors).toEqual([]);
    expect(browser.errors).toEqual([]);
  });

  it('Deny on the notification: the worker answers, nothing opens, and the waiting page says not approved', async () => {
    const user = await newUser(w);
    const phone = await enrolledPhone(user);
    const browser = await userAtDemo();
    await openDemoSignIn(browser.page, w.t.url);
    await typePassword(browser.page, user.username, PushWorld.password);
    await sendPushFromPage(browser.page);
    const cid = await pendingCid(user, browser.page);
    await phone.receive(cid);
    const urlBefore = phone.browser.page.url();
    await clickNotification(await serviceWorker(phone.browser.context, '/pwa/'), cid, 'deny');

    await browser.page.getByRole('heading', { name: 'Sign-in not approved' }).waitFor({ timeout: 10_000 });
    await expect(browser.page.locator('#result').textContent()).resolves.toBe('The request was denied on your phone.');
    await screenshot(browser.page, 'denied');
    expect(phone.browser.page.url()).toBe(urlBefore);
    expect((await challengeAt(w, cid)).resolution).toMatchObject({ status: 'denied', decision: 'deny', reason: 'denied', amr: [] });
    expect(await auditFor(w, 'push.denied', cid)).toHaveLength(1);
  });

  it('Deny, then "Was this you? — No, report it": the owner is told until when, the IdP records it, the computer reads only "denied", and the account gets no more pushes for now', async () => {
    const user = await newUser(w);
    const phone = await enrolledPhone(user);
    const { page } = phone.browser;
    const browser = await userAtDemo();
    await openDemoSignIn(browser.page, w.t.url);
    await typePassword(browser.page, user.username, PushWorld.password);
    await sendPushFromPage(browser.page);
    const cid = await pendingCid(user, browser.page);
    await phone.receive(cid);
    await clickNotification(await serviceWorker(phone.browser.context, '/pwa/'), cid);
    await page.getByRole('button', { name: 'Deny', exact: true }).click();
    await expect(page.getByTestId('request-result').textContent()).resolves.toMatch(/^Denied\. Nobody is signed in/);
    await page.getByRole('heading', { name: 'Was this you?' }).waitFor();
    // The computer moves on as soon as the Deny lands, before (and whatever) the owner answers the question.
    await browser.page.getByRole('heading', { name: 'Sign-in not approved' }).waitFor({ timeout: 10_000 });
    await page.getByRole('button', { name: 'No, report it' }).click();
    const told = (await page.getByTestId('report-result').textContent())!;
    expect(told).toMatch(/^Reported\. Pushes to your account are paused until (.+) \(local time\)\. Your passcodes still work\. Someone knows your password: change it now\.$/);
    // The time shown is the IdP's: the mute it recorded, in the phone's local time.
    const muted = (await auditFor(w, 'push.muted', cid))[0]!;
    const until = await page.evaluate((iso) => new Intl.DateTimeFormat(navigator.language, { hour: 'numeric', minute: '2-digit' }).format(new Date(iso)), muted.detail.until as string);
    expect(told).toContain(`until ${until} (local time)`);
    expect(await auditFor(w, 'push.reported', cid)).toHaveLength(1);

    // The computer's page says nothing of the report: whoever is there may be the attacker.
    await browser.page.reload();
    await expect(browser.page.locator('#result').textContent()).resolves.toBe('The request was denied on your phone.');
    expect(await browser.page.locator('body').textContent()).not.toMatch(/report/i);
    expect((await challengeAt(w, cid)).resolution).toMatchObject({ status: 'denied', decision: 'deny', reason: 'denied' });

    // A new sign-in finds the account muted: no push goes out.
    const again = await userAtDemo();
    await openDemoSignIn(again.page, w.t.url);
    await typePassword(again.page, user.username, PushWorld.password);
    await again.page.locator('#send-push').click();
    await expect(again.page.locator('h1').textContent()).resolves.toMatch(/paused/i);
    expect(await w.t.idp.challenges.listPending(user.id)).toEqual([]);
  });

  it('number matching: a wrong number denies the sign-in, on the phone and on the waiting page', async () => {
    const user = await newUser(w);
    const phone = await enrolledPhone(user);
    const { page } = phone.browser;
    const browser = await userAtDemo();
    await openDemoSignIn(browser.page, w.t.url);
    await typePassword(browser.page, user.username, PushWorld.password);
    const number = await sendPushFromPage(browser.page);
    const cid = await pendingCid(user, browser.page);
    await phone.receive(cid);
    // Approve on a number-matching request opens the page instead of answering blind.
    await clickNotification(await serviceWorker(phone.browser.context, '/pwa/'), cid, 'approve');
    await page.waitForURL((url) => url.searchParams.get('request') === cid);
    await page.getByTestId(`number-${number}`).waitFor();
    const choices = (await page.getByRole('group', { name: 'Choose the number shown on the sign-in screen' }).getByRole('button').allTextContents()).map(Number);
    expect(choices).toHaveLength(3);
    expect(choices).toContain(number);
    const wrong = choices.find((n) => n !== number)!;
    await page.getByTestId(`number-${wrong}`).click();
    await expect(page.getByTestId('request-result').textContent()).resolves.toMatch(/not the one on the sign-in screen/);

    await browser.page.getByRole('heading', { name: 'Sign-in not approved' }).waitFor({ timeout: 10_000 });
    await expect(browser.page.locator('#result').textContent()).resolves.toBe('The number chosen on the phone did not match. The request was denied.');
    expect((await challengeAt(w, cid)).resolution).toMatchObject({ status: 'denied', decision: 'approve', reason: 'wrong_number', amr: [] });
    await expect(browser.page.locator('#signed-in').count()).resolves.toBe(0);
  });

  it('poll mode (no push subscription): the open app lists the request, and its approval signs the user in', async () => {
    const user = await newUser(w);
    const phone = await enrolledPhone(user, { push: false });
    const { page } = phone.browser;
    expect(phone.enrolled.request.push).toBeNull();
    expect(await deviceRow(w, phone.enrolled.deviceId)).toMatchObject({ pushStatus: 'none', push: null });
    await expect(page.getByTestId('push-state').textContent()).resolves.toMatch(/Poll mode/);
    expect(phone.enrolled.response.policy.pollIntervalSeconds).toBe(2);

    const browser = await userAtDemo();
    await openDemoSignIn(browser.page, w.t.url);
    await typePassword(browser.page, user.username, PushWorld.password);
    const number = await sendPushFromPage(browser.page);
    const cid = await pendingCid(user, browser.page);
    // The app asks every policy.pollIntervalSeconds (2 s here) while open.
    await page.getByTestId(`pending-${cid}`).waitFor({ timeout: 6000 });
    await page.getByTestId(`pending-${cid}`).getByRole('button', { name: 'Review' }).click();
    await page.getByTestId(`number-${number}`).click();
    await expect(page.getByTestId('request-result').textContent()).resolves.toMatch(/^Approved/);
    expect(await signedInAmr(browser.page)).toBe('pwd otp swk mfa');
    // Nothing was pushed: the device has no subscription.
    expect(w.pushService.messages.some((m) => m.payload.cid === cid)).toBe(false);
  });

  it('a passcode read off the offline app, typed at the login page, signs in', async () => {
    const user = await newUser(w);
    const phone = await enrolledPhone(user);
    const { page, context } = phone.browser;
    await context.setOffline(true);
    await page.reload(); // from the worker's cache
    const shown = await shownCode(page);
    expect(isCodeOf(phone.enrolled.secret, shown)).toBe(true);

    const browser = await userAtDemo();
    await openDemoSignIn(browser.page, w.t.url);
    await typePassword(browser.page, user.username, PushWorld.password);
    await browser.page.locator('#use-passcode').click();
    await browser.page.locator('#passcode').fill(shown.code);
    await browser.page.getByRole('button', { name: 'Continue' }).click();
    expect(await signedInAmr(browser.page)).toBe('pwd otp mfa');
    expect((await deviceRow(w, phone.enrolled.deviceId)).lastOtpStep).toBeGreaterThan(0);
    await context.setOffline(false);
  });

  it('a device revoked at the IdP: its answer is refused, the app says so, offers to enroll again, and the new enrollment works', async () => {
    const user = await newUser(w);
    const phone = await enrolledPhone(user);
    const { page } = phone.browser;
    // A request reaches the phone, then the phone is reported lost and revoked.
    const browser = await userAtDemo();
    await openDemoSignIn(browser.page, w.t.url);
    await typePassword(browser.page, user.username, PushWorld.password);
    await sendPushFromPage(browser.page);
    const cid = await pendingCid(user, browser.page);
    await phone.receive(cid);
    expect((await w.t.idp.deviceService.revokeDevice(user.id, phone.enrolled.deviceId)).status).toBe('revoked');

    await clickNotification(await serviceWorker(phone.browser.context, '/pwa/'), cid);
    await page.waitForURL((url) => url.searchParams.get('request') === cid);
    await expect(page.getByTestId('request-message').textContent()).resolves.toMatch(/removed from your account by the sign-in server/);
    // The revoke ended the account's sessions, and with them the sign-in: its request is withdrawn.
    expect((await challengeAt(w, cid)).status).toBe('expired');

    await page.goto(`${w.t.url}/pwa/`);
    const card = page.locator(`[data-account="${phone.enrolled.key}"]`);
    await expect(card.getByRole('alert').textContent()).resolves.toMatch(/removed from your account by the sign-in server/);
    await expect(card.getByTestId('code').count()).resolves.toBe(0);
    await screenshot(page, 'phone-revoked');
    await card.getByRole('button', { name: 'Enroll again' }).click();
    await expect(page.getByTestId('issuer').inputValue()).resolves.toBe(w.t.url);

    // A new code from the IdP, typed in: a new device, and the push sign-in works again.
    const offer = await w.t.idp.deviceService.issueEnrollment(user.id, 'test');
    await page.getByLabel('Enrollment code').fill(offer.code);
    const exchange = enrollmentExchange(page);
    await page.getByTestId('enroll-submit').click();
    const { response } = await exchange;
    await page.getByTestId('enroll-done').waitFor();
    expect(response.deviceId).not.toBe(phone.enrolled.deviceId);
    expect(await deviceRow(w, response.deviceId)).toMatchObject({ status: 'active', pushStatus: 'active' });
    await page.getByTestId('enroll-finish').click();

    const again = await userAtDemo();
    await openDemoSignIn(again.page, w.t.url);
    await typePassword(again.page, user.username, PushWorld.password);
    const number = await sendPushFromPage(again.page);
    const cid2 = await pendingCid(user, again.page);
    await pushMessage(w, phone.subscription!, cid2);
    expect(w.pushService.messages.filter((m) => m.payload.cid === cid2).map((m) => m.payload.deviceId)).toEqual([response.deviceId]);
    await page.goto(`${w.t.url}/pwa/?${new URLSearchParams({ request: cid2, issuer: w.t.url, device: response.deviceId })}`);
    await page.getByTestId(`number-${number}`).click();
    expect(await signedInAmr(again.page)).toBe('pwd otp swk mfa');
    expect((await resolved(w, cid2)).resolution?.deviceId).toBe(response.deviceId);
  });
});
