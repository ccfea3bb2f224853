import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import QRCode from 'qrcode';
import { launchBrowser, type Browser } from '../support/browser.js';
import type { PushWorld } from '../support/push-world.js';
import { shownCode, storedAccounts } from './flows.js';
import {
  deviceRow,
  enrollFromLink,
  enrollmentExchange,
  isCodeOf,
  newUser,
  phoneSubscription,
  pushMessage,
  pushSignIn,
  startPwaWorld,
  type Enrolled,
  type User,
} from './world.js';

/**
 * Enrollment as a user meets it, against the real IdP: a typed code, a photographed QR code, a bad
 * code; the device key never leaves WebCrypto; push is set up after enrollment (with the IdP's VAPID
 * key) and falls back to poll mode when the push service never answers; several accounts live side
 * by side.
 */

let w: PushWorld;
let browser: Browser;
let bob: User;
const enrolled: Enrolled[] = [];

beforeAll(async () => {
  w = await startPwaWorld();
  bob = await newUser(w, 'Bob Builder');
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await w?.close();
});

const deviceCount = async () => Number((await w.t.idp.db.query<{ n: string }>('SELECT count(*) AS n FROM devices'))[0]!.n);

describe('enrollment', () => {
  it('enrolls from a typed code with a non-extractable P-256 key, and stores no readable secret', async () => {
    const { page } = browser;
    const offer = await w.t.idp.deviceService.issueEnrollment(w.accountId, 'test');
    await page.goto(`${w.t.url}/pwa/?add=1`);
    await page.getByLabel('Sign-in server').fill(w.t.url);
    await page.getByLabel('Enrollment code').fill(offer.code);
    await page.getByLabel('Name of this device').fill('Test phone');
    const exchange = enrollmentExchange(page);
    await page.getByRole('button', { name: 'Add account' }).click();
    await page.getByTestId('enroll-done').waitFor();

    const { request, response, status } = await exchange;
    expect(status).toBe(201);
    expect(request).toMatchObject({ code: offer.code, name: 'Test phone', push: null });
    // Only the public half travels: no `d` member.
    expect(Object.keys(request.publicJwk as object).sort()).toEqual(['crv', 'kty', 'x', 'y']);
    expect(await deviceRow(w, response.deviceId)).toMatchObject({ name: 'Test phone', accountId: w.accountId, pushStatus: 'none', publicJwk: request.publicJwk });

    const [stored] = await storedAccounts(page);
    expect(stored).toMatchObject({ deviceId: response.deviceId, issuer: w.t.url });
    expect(stored!.secrets).toMatchObject({
      kind: 'plain',
      privateKey: { cryptoKey: true, type: 'private', extractable: false, algorithm: 'ECDSA' },
      totpKey: { cryptoKey: true, extractable: false, algorithm: 'HMAC' },
    });
    expect(JSON.stringify(stored)).not.toContain(response.totp.secret);
    expect(stored!.push).toMatchObject({ status: 'none' });

    await page.getByTestId('enroll-finish').click();
    expect(isCodeOf(response.totp.secret, await shownCode(page))).toBe(true);
    await expect(page.getByTestId('push-state').textContent()).resolves.toMatch(/Poll mode/);
    enrolled.push({ deviceId: response.deviceId, secret: response.totp.secret, key: `${w.t.url} ${response.deviceId}`, issuer: w.t.url, request, response });
  });

  it('reads the enrollment link from a photo of its QR code', async () => {
    const { page } = browser;
    const offer = await w.t.idp.deviceService.issueEnrollment(bob.id, 'test');
    await page.goto(`${w.t.url}/pwa/?add=1`);
    // The very link the IdP puts in its QR code.
    await page.getByTestId('qr-file').setInputFiles({ name: 'qr.png', mimeType: 'image/png', buffer: await QRCode.toBuffer(offer.url, { scale: 6 }) });
    await page.waitForFunction(() => (document.querySelector('[data-testid="code-input"]') as HTMLInputElement).value !== '');
    await expect(page.getByTestId('code-input').inputValue()).resolves.toBe(offer.code);
    await expect(page.getByTestId('issuer').inputValue()).resolves.toBe(w.t.url);
    const exchange = enrollmentExchange(page);
    await page.getByTestId('enroll-submit').click();
    await page.getByTestId('enroll-done').waitFor();
    expect(await page.getByTestId('enroll-done').textContent()).toContain('Bob Builder');
    const { request, response } = await exchange;
    expect(response.account).toMatchObject({ id: bob.id, username: bob.username, displayName: 'Bob Builder' });
    enrolled.push({ deviceId: response.deviceId, secret: response.totp.secret, key: `${w.t.url} ${response.deviceId}`, issuer: w.t.url, request, response });
  });

  it('keeps several accounts side by side, each with its own passcode', async () => {
    const { page } = browser;
    await page.goto(`${w.t.url}/pwa/`);
    // The cards are drawn once the app has read its accounts from storage: wait for the second.
    await page.getByTestId('account').nth(1).waitFor();
    await expect(page.getByTestId('account').count()).resolves.toBe(2);
    expect(enrolled).toHaveLength(2);
    for (const device of enrolled) {
      const card = page.locator(`[data-account="${device.key}"]`);
      expect(await card.getByRole('heading').textContent()).toBe(device.response.account.displayName);
      const shown = await card.getByTestId('code').and(page.locator('[data-code]')).evaluate((el) => ({ code: (el as HTMLElement).dataset.code!, at: Date.now() }));
      expect(isCodeOf(device.secret, shown)).toBe(true);
    }
  });

  it('says when a code is unknown or used, and enrolls nothing', async () => {
    const { page } = browser;
    const before = await deviceCount();
    // A used code: the first test's.
    const used = enrolled[0]!.request.code as string;
    await page.goto(`${w.t.url}/pwa/?enroll=${used}&issuer=${encodeURIComponent(w.t.url)}`);
    const exchange = enrollmentExchange(page);
    await page.getByTestId('enroll-submit').click();
    await page.getByTestId('enroll-error').filter({ hasText: /unknown, already used or expired/ }).waitFor(); // filled in once the IdP answers
    expect(await exchange).toMatchObject({ status: 400, response: { error: 'invalid_enrollment_code' } });
    expect(await deviceCount()).toBe(before);
    expect(browser.httpErrors.some((line) => line.includes('status of 400'))).toBe(true);
    // The code does not stay in the address bar.
    expect(new URL(page.url()).searchParams.has('enroll')).toBe(false);
  });

  it('warns before enrolling at an issuer other than the app’s own site', async () => {
    const { page } = browser;
    await page.goto(`${w.t.url}/pwa/?enroll=ABCD-EFGH&issuer=${encodeURIComponent('https://idp.other.example')}`);
    await expect(page.getByTestId('enroll-issuer').textContent()).resolves.toBe('idp.other.example');
    await page.getByText(/This code is for another site/).waitFor();
  });

  it('refuses an enrollment link to a plain-http issuer that is not this machine', async () => {
    const { page } = browser;
    await page.goto(`${w.t.url}/pwa/?add=1`);
    await page.getByLabel('Sign-in server').fill('http://idp.example.com');
    await page.getByLabel('Enrollment code').fill('ABCD-EFGH');
    await page.getByTestId('enroll-submit').click();
    await page.getByTestId('enroll-error').filter({ hasText: /https:\/\// }).waitFor(); // the app's own check, before any request
  });

  it('logged no console error', () => {
    expect(browser.errors).toEqual([]);
  });
});

describe('push set-up after enrollment', () => {
  it('subscribes with the IdP’s VAPID key and PUTs the subscription; the IdP’s pushes then reach it', async () => {
    const { subscription, initScript } = phoneSubscription(w);
    const phone = await launchBrowser({ permissions: ['notifications'], initScripts: [initScript] });
    try {
      const user = await newUser(w);
      const put = phone.page.waitForResponse((res) => res.url().endsWith('/api/device/push-subscription') && res.request().method() === 'PUT');
      const device = await enrollFromLink(phone.page, w, { user, expectPush: /Notifications are on/ });
      expect(device.request.push).toBeNull();
      expect((await put).status()).toBe(200);
      expect(await deviceRow(w, device.deviceId)).toMatchObject({ pushStatus: 'active', push: { endpoint: subscription.endpoint, keys: subscription.keys } });
      const key = await phone.page.evaluate(async () => {
        const sub = await (await navigator.serviceWorker.ready).pushManager.getSubscription();
        const bytes = new Uint8Array(sub!.options.applicationServerKey!);
        return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      });
      expect(key).toBe(device.response.vapidPublicKey);
      // The key the IdP signs its pushes with (RFC 8292 `k`), checked by the push service.
      const s = await pushSignIn(w, user);
      expect((await pushMessage(w, subscription, s.cid)).vapidKey).toBe(key);
      await expect(phone.page.getByTestId('push-state').textContent()).resolves.toBe('Notifications on');
      expect(phone.errors).toEqual([]);
    } finally {
      await phone.close();
    }
  });

  it('gives up on a push service that never answers after 8 s: poll mode, and the user is told', async () => {
    // No double: pushManager.subscribe() never settles on these machines (STACK.md).
    const phone = await launchBrowser({ permissions: ['notifications'] });
    try {
      const started = Date.now();
      const device = await enrollFromLink(phone.page, w, { user: await newUser(w), expectPush: /Notifications are off: The push service did not answer/ });
      expect(Date.now() - started).toBeGreaterThanOrEqual(8000);
      expect(await deviceRow(w, device.deviceId)).toMatchObject({ pushStatus: 'none', push: null });
      await expect(phone.page.getByTestId('push-state').textContent()).resolves.toMatch(/Poll mode/);
    } finally {
      await phone.close();
    }
  }, 40_000);
});

/** A YUV4MPEG2 clip (what Chromium's fake camera plays) of one frame showing `text` as a QR code. */
function qrVideo(text: string): Buffer {
  const { size, data } = QRCode.create(text, { errorCorrectionLevel: 'M' }).modules;
  const [w, h, scale] = [640, 480, 8];
  const offset = { x: (w - size * scale) / 2, y: (h - size * scale) / 2 };
  const y = Buffer.alloc(w * h, 235);
  for (let row = 0; row < size; row++) {
    for (let col = 0; col < size; col++) {
      if (!data[row * size + col]) continue;
      for (let dy = 0; dy < scale; dy++) y.fill(16, (offset.y + row * scale + dy) * w + offset.x + col * scale, (offset.y + row * scale + dy) * w + offset.x + (col + 1) * scale);
    }
  }
  const chroma = Buffer.alloc((w / 2) * (h / 2) * 2, 128);
  return Buffer.concat([Buffer.from(`YUV4MPEG2 W${w} H${h} F10:1 Ip A1:1 C420jpeg\n`), Buffer.from('FRAME\n'), y, chroma]);
}

describe('QR code from the camera', () => {
  it('fills in the issuer and code from what the camera sees (jsQR on video frames here)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pwa-camera-'));
    const offer = await w.t.idp.deviceService.issueEnrollment(w.accountId, 'test');
    const clip = join(dir, 'qr.y4m');
    writeFileSync(clip, qrVideo(offer.url));
    const phone = await launchBrowser({
      permissions: ['camera'],
      args: ['--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${clip}`, '--use-fake-ui-for-media-stream'],
    });
    try {
      await phone.page.goto(`${w.t.url}/pwa/?add=1`);
      await phone.page.getByRole('button', { name: 'Scan QR code' }).click();
      await phone.page.waitForFunction(() => (document.querySelector('[data-testid="code-input"]') as HTMLInputElement).value !== '', null, { timeout: 10_000 });
      await expect(phone.page.getByTestId('code-input').inputValue()).resolves.toBe(offer.code);
      await expect(phone.page.getByTestId('issuer').inputValue()).resolves.toBe(w.t.url);
      // The camera is released once the code is read.
      await expect(phone.page.locator('video').evaluate((v) => (v as HTMLVideoElement).srcObject)).resolves.toBeNull();
      expect(phone.errors).toEqual([]);
    } finally {
      await phone.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Red-team (PWA): a link to the real app, `/pwa/?add=1&issuer=https://attacker`, filled the
// attacker's server in; the code the user typed went there, and the attacker enrolled his own device
// with it. Now only this app's server (or one this phone already has an account with) is filled in,
// and a typed or scanned code for another site is sent only after a warning and a second tap.
describe('enrollment codes for another site', () => {
  it('the address cannot choose the server a typed code goes to; another site is named and sent to only on a second tap', async () => {
    const phone = await launchBrowser();
    const elsewhere = 'https://127.0.0.1:4849'; // nothing listens there
    const sent: string[] = [];
    phone.page.on('request', (r) => { if (r.url().startsWith(elsewhere)) sent.push(r.url()); });
    try {
      const offer = await w.t.idp.deviceService.issueEnrollment(w.accountId, 'test');
      await phone.page.goto(`${w.t.url}/pwa/?${new URLSearchParams({ add: '1', issuer: elsewhere })}`);
      await phone.page.getByTestId('code-input').waitFor();
      await expect(phone.page.getByTestId('issuer').inputValue()).resolves.toBe(w.t.url);

      // Typed in by the user (as a message might tell them to): warned first, nothing sent.
      await phone.page.getByTestId('issuer').fill(elsewhere);
      await phone.page.getByTestId('code-input').fill(offer.code);
      await phone.page.getByTestId('enroll-submit').click();
      await expect(phone.page.getByTestId('enroll-error').textContent()).resolves.toMatch(/^This code is for another site than this app \(127\.0\.0\.1:\d+\)\. Continue only if you started it from 127\.0\.0\.1:4849\. To send it there, tap Add account again\.$/);
      expect(sent).toEqual([]);
      // The second tap sends it where the user said.
      await phone.page.getByTestId('enroll-submit').click();
      await phone.page.getByTestId('enroll-error').filter({ hasText: /network|reach/i }).waitFor({ timeout: 15_000 });
      expect(sent.length).toBeGreaterThan(0);
      // And the code, never sent to this IdP, still works here.
      await phone.page.goto(`${w.t.url}/pwa/?add=1`);
      await phone.page.getByTestId('code-input').fill(offer.code);
      const exchange = enrollmentExchange(phone.page);
      await phone.page.getByTestId('enroll-submit').click();
      expect((await exchange).status).toBe(201);
    } finally {
      await phone.close();
    }
  }, 60_000);
});
