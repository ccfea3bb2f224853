import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { launchBrowser, type Browser } from '../support/browser.js';
import type { PushWorld } from '../support/push-world.js';
import { auditEvents } from '../signin/helpers.js';
import { eventually, shownCode, storedAccounts } from './flows.js';
import {
  answered,
  challengeAt,
  deviceRow,
  enrollFromLink,
  finishAtRp,
  newUser,
  pushSignIn,
  startPwaWorld,
  type Enrolled,
} from './world.js';

/**
 * The request page and the account's life, against the real IdP: what asks to sign in, number
 * matching (a wrong pick denies), deny then report, expired and answered requests, poll mode,
 * removal and revocation. The phone has no notification permission: it is in poll mode.
 */

let w: PushWorld;
let phone: Browser;
let device: Enrolled;

beforeAll(async () => {
  w = await startPwaWorld(); // the test RP asks for number matching (the default)
  phone = await launchBrowser();
  device = await enrollFromLink(phone.page, w, { expectPush: /Notifications are off/ });
}, 60_000);

afterAll(async () => {
  await phone?.close();
  await w?.close();
});

const requestUrl = (cid: string, d: Pick<Enrolled, 'deviceId'> = device) => `${w.t.url}/pwa/?${new URLSearchParams({ request: cid, issuer: w.t.url, device: d.deviceId })}`;

describe('request page', () => {
  it('shows who asks, and the three numbers of the IdP: the right one approves; the page then says it was answered', async () => {
    const { page } = phone;
    const s = await pushSignIn(w);
    const challenge = await challengeAt(w, s.cid);
    await page.goto(requestUrl(s.cid));
    await expect(page.getByTestId('request-app').textContent()).resolves.toBe('Test RP');
    await page.getByText(challenge.ip, { exact: true }).waitFor();
    await page.getByText(challenge.browser, { exact: true }).waitFor();
    const numbers = page.getByRole('group', { name: 'Choose the number shown on the sign-in screen' }).getByRole('button');
    await expect(numbers.allTextContents()).resolves.toEqual(challenge.numberChoices!.map(String));
    // No separate Approve: one tap on the right number approves.
    await expect(page.getByRole('button', { name: 'Approve' }).count()).resolves.toBe(0);
    await page.getByTestId(`number-${s.number}`).click();
    await expect(page.getByTestId('request-result').textContent()).resolves.toMatch(/^Approved/);
    expect((await finishAtRp(w, s)).amr).toEqual(['pwd', 'otp', 'swk', 'mfa']);

    await page.reload();
    await expect(page.getByTestId('request-message').textContent()).resolves.toMatch(/already approved/);
    await expect(page.getByTestId('approve').count()).resolves.toBe(0);
  });

  it('a wrong number denies the sign-in and says so', async () => {
    const { page } = phone;
    const s = await pushSignIn(w);
    const wrong = (await challengeAt(w, s.cid)).numberChoices!.find((n) => n !== s.number)!;
    await page.goto(requestUrl(s.cid));
    await page.getByTestId(`number-${wrong}`).click();
    await expect(page.getByTestId('request-result').textContent()).resolves.toMatch(/not the one on the sign-in screen/);
    expect(await answered(s)).toMatchObject({ status: 'denied', reason: 'wrong_number' });
  });

  it('Deny is one button; "Was this you? — No, report it" then reports the denied request', async () => {
    const { page } = phone;
    // Another account: alice's last two answers took both TOTP steps this app may use right now.
    const carol = await newUser(w, 'Carol');
    const carolDevice = await enrollFromLink(page, w, { user: carol });
    const s = await pushSignIn(w, carol);
    await page.goto(requestUrl(s.cid, carolDevice));
    await page.getByTestId('deny').waitFor();
    await expect(page.getByRole('button', { name: /report/i }).count()).resolves.toBe(0);
    await page.getByTestId('deny').click();
    await expect(page.getByTestId('request-result').textContent()).resolves.toMatch(/^Denied/);
    await page.getByRole('heading', { name: 'Was this you?' }).waitFor();
    expect(await answered(s)).toMatchObject({ status: 'denied', reason: 'denied' });
    await page.getByRole('button', { name: 'No, report it' }).click();
    // This IdP mutes nothing after a report (the tests' PUSH_MUTE_AFTER_REPORT=0): the phone names no end time.
    await expect(page.getByTestId('report-result').textContent()).resolves.toBe('Reported. Your passcodes still work. Someone knows your password: change it now.');
    expect((await challengeAt(w, s.cid)).resolution).toMatchObject({ decision: 'deny', reason: 'denied', deviceId: carolDevice.deviceId });
    expect((await auditEvents(w, 'push.reported')).filter((e) => e.detail.challengeId === s.cid)).toHaveLength(1);
  });

  it('a third answer within one 30 s step says it waits for the next passcode, then is accepted', async () => {
    const { page } = phone;
    const before = (await deviceRow(w, device.deviceId)).lastAnswerStep;
    const s = await pushSignIn(w);
    await page.goto(requestUrl(s.cid));
    await page.getByTestId('deny').waitFor();
    // Every text the progress line shows, however briefly (the wait may be short).
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { progressSeen: string[] }).progressSeen = seen;
      new MutationObserver(() => {
        const text = document.querySelector('[data-testid="request-progress"]')?.textContent;
        if (text && seen.at(-1) !== text) seen.push(text);
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    const at = Date.now();
    await page.getByTestId('deny').click();
    await page.getByTestId('request-result').waitFor({ timeout: 35_000 });
    expect(await answered(s)).toMatchObject({ status: 'denied', reason: 'denied' });
    expect((await deviceRow(w, device.deviceId)).lastAnswerStep).toBeGreaterThan(before);
    // alice answered twice just now (steps T and T+1) unless a step boundary fell in between: if
    // the IdP's clock was still in T, well before its end, the app had to wait for T+1.
    const seen = await page.evaluate(() => (window as unknown as { progressSeen: string[] }).progressSeen);
    if (before === Math.floor(at / 30_000) + 1 && at % 30_000 < 28_000) {
      expect(seen).toContainEqual(expect.stringMatching(/next one in \d+ s/));
    }
  }, 45_000);

  it('says when a request has expired (the sign-in was finished with a passcode), and offers no answer', async () => {
    const { page } = phone;
    const dave = await newUser(w, 'Dave');
    const daveDevice = await enrollFromLink(page, w, { user: dave });
    const s = await pushSignIn(w, dave);
    // The user types the passcode instead: the sign-in ends, and the IdP withdraws its push.
    const card = page.locator(`[data-account="${daveDevice.key}"]`);
    const code = await card.getByTestId('code').and(page.locator('[data-code]')).evaluate((el) => (el as HTMLElement).dataset.code!);
    const form = await s.browser.go(`/interaction/${s.uid}/passcode`);
    const done = await s.browser.submit(form.body, /\/passcode$/, { passcode: code });
    expect((await w.tokens(done.url, s.verifier, s.state)).claims()!.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect((await challengeAt(w, s.cid)).status).toBe('expired');

    await page.goto(requestUrl(s.cid, daveDevice));
    await expect(page.getByTestId('request-message').textContent()).resolves.toMatch(/expired/);
    await expect(page.getByTestId('approve').count()).resolves.toBe(0);
  });

  it('says so for a request of an account that is not on this phone', async () => {
    const { page } = phone;
    await page.goto(requestUrl('nope', { deviceId: 'dev_unknown' }));
    await expect(page.getByTestId('request-message').textContent()).resolves.toMatch(/not on this device/);
  });
});

describe('poll mode and the account’s life', () => {
  it('polls while open: a new request appears on the home screen and Review opens it', async () => {
    const { page } = phone;
    await page.goto(`${w.t.url}/pwa/`);
    await expect(page.getByTestId('push-state').first().textContent()).resolves.toMatch(/Poll mode/);
    await shownCode(page); // the home screen is up
    const s = await pushSignIn(w);
    // POLL_INTERVAL is 2 s in these worlds.
    await page.getByTestId(`pending-${s.cid}`).waitFor({ timeout: 6000 });
    await page.getByTestId(`pending-${s.cid}`).getByRole('button', { name: 'Review' }).click();
    await expect(page.getByTestId('request-app').textContent()).resolves.toBe('Test RP');
    await page.getByTestId(`number-${s.number}`).waitFor();
  });

  it('removing an account deletes its keys here and unregisters the device at the IdP', async () => {
    const { page } = phone;
    const bob = await newUser(w, 'Bob');
    const bobDevice = await enrollFromLink(page, w, { user: bob });
    const before = await page.getByTestId('account').count();
    const card = page.locator(`[data-account="${bobDevice.key}"]`);
    await card.getByTestId('remove').click();
    const unregistered = page.waitForResponse((res) => res.url() === `${w.t.url}/api/device` && res.request().method() === 'DELETE');
    await card.getByTestId('confirm-remove').click();
    expect((await unregistered).status()).toBe(200);
    await eventually(() => page.getByTestId('account').count(), (n) => n === before - 1);
    expect((await deviceRow(w, bobDevice.deviceId)).status).toBe('revoked');
    expect((await auditEvents(w, 'device.revoked')).find((e) => e.detail.deviceId === bobDevice.deviceId)?.detail.by).toBe('device');
    const stored = await storedAccounts(page);
    expect(stored.map((a) => a.deviceId)).not.toContain(bobDevice.deviceId);
    expect(stored.map((a) => a.deviceId)).toContain(device.deviceId);
  });

  it('a device revoked at the IdP is told so and offered a new enrollment', async () => {
    const { page } = phone;
    await w.t.idp.deviceService.revokeDevice(w.accountId, device.deviceId);
    await page.goto(`${w.t.url}/pwa/`);
    const card = page.locator(`[data-account="${device.key}"]`);
    await expect(card.getByRole('alert').textContent()).resolves.toMatch(/removed from your account by the sign-in server/);
    expect(phone.httpErrors.some((line) => line.includes('status of 401'))).toBe(true);
    await card.getByRole('button', { name: 'Enroll again' }).click();
    await expect(page.getByTestId('issuer').inputValue()).resolves.toBe(w.t.url);
    const stored = (await storedAccounts(page)).find((a) => a.deviceId === device.deviceId);
    expect(stored!.revoked).toBe(true);
  });

  it('logged no console error', () => {
    expect(phone.errors).toEqual([]);
  });
});
