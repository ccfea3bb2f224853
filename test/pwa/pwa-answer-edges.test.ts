import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Worker } from 'playwright-core';
import { throttleKeys } from '../../src/defences/throttle-keys.js';
import { totpAt } from '../../src/otp/totp.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { clickNotification, deliverUntilShown, launchBrowser, notifications, pushSession, serviceWorker, waitForController, type Browser } from '../support/browser.js';
import type { MintedSubscription } from '../support/push-service.js';
import type { PushWorld } from '../support/push-world.js';
import { auditFor, challengeAt, enrollFromLink, newUser, phoneSubscription, pushMessage, pushSignIn, resolved, startPwaWorld, type Enrolled, type PushSignIn, type User } from './world.js';

/**
 * The PWA where its answers meet the IdP's limits (red-team, PWA round, real Chromium):
 * - four Denies tapped at once: the fourth reserved the TOTP step T+3 but waited only for T+1, and its
 *   code was refused as a wrong TOTP, counted toward the account's passcode limit (seven at once then
 *   held up the user's own typed passcode);
 * - "Remove account" while the IdP refused the unregister: the keys were deleted and "removed" said,
 *   while the IdP kept the device active;
 * - "Remove account" right after answers that hold the next passcode step waited without a word;
 * - "No, report it" on a request another phone denied showed the refusal's code and offered the button again.
 */
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
}, 90_000);

afterAll(async () => {
  await phone?.close();
  await w?.close();
});

const requestUrl = (cid: string, d: Pick<Enrolled, 'deviceId'>) =>
  `${w.t.url}/pwa/?${new URLSearchParams({ request: cid, issuer: w.t.url, device: d.deviceId })}`;

async function deliver(s: Pick<PushSignIn, 'cid'>) {
  const message = await pushMessage(w, subscription, s.cid);
  await deliverUntilShown(push, worker, w.t.url, message.payload, (n) => n.tag === s.cid);
}

describe('answers at once', () => {
  it('Deny tapped on four notifications at once: all four are denied, none with a wrong TOTP, and the user\'s passcode still works', async () => {
    const gina: User = await newUser(w, 'Gina');
    const device = await enrollFromLink(phone.page, w, { user: gina, expectPush: /Notifications are on/ });
    await phone.page.goto(`${w.t.url}/pwa/`);
    const signIns: PushSignIn[] = [];
    for (let i = 0; i < 4; i++) signIns.push(await pushSignIn(w, gina));
    for (const s of signIns) await deliver(s);
    // Not at the very end of a 30-s step, so that all four reserve their steps within one.
    const into = Date.now() % 30_000;
    if (into > 25_000) await new Promise((r) => setTimeout(r, 30_500 - into));
    await Promise.all(signIns.map((s) => clickNotification(worker, s.cid, 'deny')));
    // The fourth waits until the step before its own begins (at most a minute here).
    const statuses = await Promise.all(signIns.map(async (s) => (await resolved(w, s.cid, 90_000)).status));
    expect(statuses).toEqual(['denied', 'denied', 'denied', 'denied']);
    const left = (await notifications(worker)).filter((n) => signIns.some((s) => s.cid === n.tag));
    expect(left).toEqual([]);
    // No wrong TOTP was counted: the passcode the app shows signs in at the computer.
    expect((await w.t.idp.redis.hget(`thr:otp:${gina.id}`, 'f'))).toBeNull();
    const next = await pushSignIn(w, gina);
    const form = await next.browser.go(`/interaction/${next.uid}/passcode`);
    const done = await next.browser.submit(form.body, /\/passcode$/, { passcode: totpAt(device.secret, Date.now()) });
    expect(done.body).not.toMatch(/id="passcode-error"/);
  }, 150_000);
});

describe('removing an account the IdP will not let go', () => {
  it('Remove while the IdP refuses the unregister (too_many_attempts): the account stays on the phone, and the phone says why', async () => {
    const { page } = phone;
    const ivy: User = await newUser(w, 'Ivy');
    const ivyDevice = await enrollFromLink(page, w, { user: ivy });
    // Another device of Ivy's sends wrong TOTPs until the IdP holds the account's devices' limit;
    // then the count stands at the lockout (ten in a row: 15 minutes), so the refusal still holds
    // when the phone's Remove arrives, however slow the machine (the first refusals are 1-s delays).
    const offer = await w.t.idp.deviceService.issueEnrollment(ivy.id, 'test');
    const other = await SimulatedAuthenticator.enroll(w.t.url, offer.code, { push: null, name: 'Other' });
    const s = await pushSignIn(w, ivy);
    let refused = false;
    for (let i = 0; i < 8 && !refused; i++) {
      refused = (await other.respond(s.cid, 'deny', { otp: '000000' })).status === 429;
      if (!refused) await new Promise((res) => setTimeout(res, 300));
    }
    expect(refused).toBe(true);
    await w.t.idp.redis.hset(throttleKeys.devicePasscodes(ivy.id), 'f', '10', 'l', String(Date.now()));
    await page.goto(`${w.t.url}/pwa/`);
    const card = page.locator(`[data-account="${ivyDevice.key}"]`);
    await card.getByTestId('remove').click();
    const del = page.waitForResponse((res) => new URL(res.url()).pathname === '/api/device' && res.request().method() === 'DELETE');
    await card.getByTestId('confirm-remove').click();
    expect((await del).status()).toBe(429);
    const said = await page.waitForFunction(() => document.getElementById('status')?.textContent || null).then((x) => x.jsonValue());
    expect(said).toMatch(/was not removed/);
    expect(said).toMatch(/account page/);
    await expect(page.locator(`[data-account="${ivyDevice.key}"]`).count()).resolves.toBe(1);
    expect((await w.t.idp.devices.get(ivyDevice.deviceId))?.status).toBe('active');
  }, 60_000);
});

describe('removing an account while its next passcode is held by answers just sent', () => {
  it('Remove says why it waits for the next passcode step, then removes the account at the IdP too', async () => {
    const { page } = phone;
    const uma: User = await newUser(w, 'Uma');
    const umaDevice = await enrollFromLink(page, w, { user: uma });
    await page.goto(`${w.t.url}/pwa/`);
    // Not near the end of a step, so that the step the phone holds is still ahead at the tap.
    const into = Date.now() % 30_000;
    if (into > 20_000) await new Promise((r) => setTimeout(r, 30_500 - into));
    // As after two answers within one 30-s step: the phone has used this step and the next.
    await page.evaluate(async (key) => {
      const db = await new Promise<IDBDatabase>((res, rej) => {
        const req = indexedDB.open('pushotp-authenticator');
        req.onsuccess = () => res(req.result);
        req.onerror = () => rej(req.error);
      });
      const store = db.transaction('accounts', 'readwrite').objectStore('accounts');
      const account = await new Promise<{ lastUsedStep: number }>((res) => {
        const get = store.get(key);
        get.onsuccess = () => res(get.result);
      });
      account.lastUsedStep = Math.floor(Date.now() / 30_000) + 1;
      await new Promise((res) => {
        store.put(account).onsuccess = res;
      });
      db.close();
    }, umaDevice.key);
    await page.reload();
    const card = page.locator(`[data-account="${umaDevice.key}"]`);
    await card.getByTestId('remove').click();
    const del = page.waitForResponse((res) => new URL(res.url()).pathname === '/api/device' && res.request().method() === 'DELETE', { timeout: 45_000 });
    await card.getByTestId('confirm-remove').click();
    // The live region may still hold an earlier announcement (a request waiting): wait for this one.
    const waiting = await page.waitForFunction(() => {
      const said = document.getElementById('status')?.textContent ?? '';
      return /Removing /.test(said) ? said : null;
    }, undefined, { timeout: 20_000 }).then((x) => x.jsonValue());
    expect(waiting).toMatch(/Removing .*waits for the next one \(\d+ s\)/);
    expect((await del).status()).toBe(200);
    await page.waitForFunction(() => /was removed/.test(document.getElementById('status')?.textContent ?? ''));
    await expect(page.locator(`[data-account="${umaDevice.key}"]`).count()).resolves.toBe(0);
    expect((await w.t.idp.devices.get(umaDevice.deviceId))?.status).not.toBe('active');
    expect((await w.t.idp.redis.hget(`thr:otp:${uma.id}`, 'f'))).toBeNull();
  }, 90_000);
});

describe('reporting a request another phone denied', () => {
  it('"No, report it": the phone says plainly that it was not reported and why, and offers it no more', async () => {
    const { page } = phone;
    const erin: User = await newUser(w, 'Erin');
    const erinDevice = await enrollFromLink(page, w, { user: erin });
    const offer = await w.t.idp.deviceService.issueEnrollment(erin.id, 'test');
    const otherPhone = await SimulatedAuthenticator.enroll(w.t.url, offer.code, { push: null, name: 'Other phone' });
    const s = await pushSignIn(w, erin);
    expect((await otherPhone.respond(s.cid, 'deny')).status).toBe(200);
    await page.goto(requestUrl(s.cid, erinDevice));
    await expect(page.getByTestId('request-message').textContent()).resolves.toMatch(/already denied/);
    await page.getByTestId('report-it').click();
    const result = page.getByTestId('report-result');
    await result.waitFor();
    await expect(result.textContent()).resolves.toMatch(/Not reported: .*only the device that denied it can report it/);
    expect(await page.getByTestId('report-it').count()).toBe(0);
    expect(await auditFor(w, 'push.reported', s.cid)).toEqual([]);
    expect((await challengeAt(w, s.cid)).resolution?.reason).not.toBe('reported');
  }, 60_000);
});
