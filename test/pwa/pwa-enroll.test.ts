import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import QRCode from 'qrcode';
import { launchBrowser, pushSubscriptionDouble, servePwa, type Browser, type Served } from '../support/browser.js';
import { createFakeDeviceApi, totpForStep, type FakeDeviceApi } from './fake-device-api.js';
import { enrollViaLink, shownCode, storedAccounts } from './flows.js';

/**
 * Enrollment as a user meets it: a typed code, a photographed QR code, a bad code; the device key
 * never leaves WebCrypto; push is set up after enrollment and falls back to poll mode when the
 * push service never answers; several accounts live side by side.
 */

let served: Served;
let api: FakeDeviceApi;
let browser: Browser;

const DOUBLE = { endpoint: 'https://push.example.test/send/abc123', keys: { p256dh: 'BNc-p256dh-key-of-the-double', auth: 'auth-secret-16b' } };

beforeAll(async () => {
  api = createFakeDeviceApi();
  served = await servePwa(api.routes());
  api.issuer = served.origin;
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await served?.close();
});

function codeMatches(secret: string, shown: { code: string; at: number }): boolean {
  const step = Math.floor(shown.at / 30_000);
  return [totpForStep(secret, step), totpForStep(secret, step - 1)].includes(shown.code);
}

describe('enrollment', () => {
  it('enrolls from a typed code with a non-extractable P-256 key, and stores no readable secret', async () => {
    const { page } = browser;
    const code = api.newCode('acc-alice');
    await page.goto(`${served.origin}/pwa/?add=1`);
    await page.getByLabel('Sign-in server').fill(served.origin);
    await page.getByLabel('Enrollment code').fill(code);
    await page.getByLabel('Name of this device').fill('Test phone');
    await page.getByRole('button', { name: 'Add account' }).click();
    await page.getByTestId('enroll-done').waitFor();

    const body = api.enrollBodies.at(-1)!;
    expect(body).toMatchObject({ code, name: 'Test phone', push: null });
    // Only the public half travels: no `d` member.
    expect(Object.keys(body.publicJwk as object).sort()).toEqual(['crv', 'kty', 'x', 'y']);

    const [stored] = await storedAccounts(page);
    const device = api.devices.get(stored!.deviceId as string)!;
    expect(stored!.secrets).toMatchObject({
      kind: 'plain',
      privateKey: { cryptoKey: true, type: 'private', extractable: false, algorithm: 'ECDSA' },
      totpKey: { cryptoKey: true, extractable: false, algorithm: 'HMAC' },
    });
    expect(JSON.stringify(stored)).not.toContain(device.secret);
    expect(stored!.push).toMatchObject({ status: 'none' });

    await page.getByTestId('enroll-finish').click();
    expect(codeMatches(device.secret, await shownCode(page))).toBe(true);
    await expect(page.getByTestId('push-state').textContent()).resolves.toMatch(/Poll mode/);
  });

  it('reads the enrollment link from a photo of its QR code', async () => {
    const { page } = browser;
    const code = api.newCode('acc-bob');
    const link = `${served.origin}/pwa/?${new URLSearchParams({ enroll: code, issuer: served.origin })}`;
    await page.goto(`${served.origin}/pwa/?add=1`);
    await page.getByTestId('qr-file').setInputFiles({ name: 'qr.png', mimeType: 'image/png', buffer: await QRCode.toBuffer(link, { scale: 6 }) });
    await page.waitForFunction(() => (document.querySelector('[data-testid="code-input"]') as HTMLInputElement).value !== '');
    await expect(page.getByTestId('code-input').inputValue()).resolves.toBe(code);
    await expect(page.getByTestId('issuer').inputValue()).resolves.toBe(served.origin);
    await page.getByTestId('enroll-submit').click();
    await page.getByTestId('enroll-done').waitFor();
    expect(await page.getByTestId('enroll-done').textContent()).toContain('Bob Builder');
  });

  it('keeps several accounts side by side, each with its own passcode', async () => {
    const { page } = browser;
    await page.goto(`${served.origin}/pwa/`);
    await expect(page.getByTestId('account').count()).resolves.toBe(2);
    const devices = [...api.devices.values()];
    for (const [i, device] of devices.entries()) {
      const card = page.getByTestId('account').nth(i);
      expect(await card.getByRole('heading').textContent()).toBe(api.accounts.get(device.accountId)!.displayName);
      expect(codeMatches(device.secret, await shownCode(page, i))).toBe(true);
    }
  });

  it('says when a code is unknown or used, and enrolls nothing', async () => {
    const { page } = browser;
    const before = api.devices.size;
    await page.goto(`${served.origin}/pwa/?enroll=NOPE-NOPE-NOPE&issuer=${encodeURIComponent(served.origin)}`);
    await page.getByTestId('enroll-submit').click();
    await expect(page.getByTestId('enroll-error').textContent()).resolves.toMatch(/unknown, already used or expired/);
    expect(api.devices.size).toBe(before);
    expect(browser.httpErrors.some((line) => line.includes('status of 400'))).toBe(true);
    // The code does not stay in the address bar.
    expect(new URL(page.url()).searchParams.has('enroll')).toBe(false);
  });

  it('warns before enrolling at an issuer other than the app’s own site', async () => {
    const { page } = browser;
    await page.goto(`${served.origin}/pwa/?enroll=ABCD-EFGH&issuer=${encodeURIComponent('https://idp.other.example')}`);
    await expect(page.getByTestId('enroll-issuer').textContent()).resolves.toBe('idp.other.example');
    await page.getByText(/This code is for another site/).waitFor();
  });

  it('refuses an enrollment link to a plain-http issuer that is not this machine', async () => {
    const { page } = browser;
    await page.goto(`${served.origin}/pwa/?add=1`);
    await page.getByLabel('Sign-in server').fill('http://idp.example.com');
    await page.getByLabel('Enrollment code').fill('ABCD-EFGH');
    await page.getByTestId('enroll-submit').click();
    await expect(page.getByTestId('enroll-error').textContent()).resolves.toMatch(/https:\/\//);
  });

  it('logged no console error', () => {
    expect(browser.errors).toEqual([]);
  });
});

describe('push set-up after enrollment', () => {
  it('subscribes with the IdP’s VAPID key and PUTs the subscription', async () => {
    const phone = await launchBrowser({ permissions: ['notifications'], initScripts: [pushSubscriptionDouble(DOUBLE)] });
    try {
      const device = await enrollViaLink(phone.page, api, 'acc-alice', { expectPush: /Notifications are on/ });
      expect(api.enrollBodies.at(-1)!.push).toBeNull();
      expect(device.push).toEqual({ endpoint: DOUBLE.endpoint, expirationTime: null, keys: DOUBLE.keys });
      expect(api.log).toContainEqual({ method: 'PUT', path: '/api/device/push-subscription', status: 200 });
      const key = await phone.page.evaluate(async () => {
        const sub = await (await navigator.serviceWorker.ready).pushManager.getSubscription();
        const bytes = new Uint8Array(sub!.options.applicationServerKey!);
        return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      });
      expect(key).toBe(api.vapidPublicKey);
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
      const device = await enrollViaLink(phone.page, api, 'acc-bob', { expectPush: /Notifications are off: The push service did not answer/ });
      expect(Date.now() - started).toBeGreaterThanOrEqual(8000);
      expect(device.push).toBeNull();
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
    const code = api.newCode('acc-alice');
    const clip = join(dir, 'qr.y4m');
    writeFileSync(clip, qrVideo(`${served.origin}/pwa/?${new URLSearchParams({ enroll: code, issuer: served.origin })}`));
    const phone = await launchBrowser({
      permissions: ['camera'],
      args: ['--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${clip}`, '--use-fake-ui-for-media-stream'],
    });
    try {
      await phone.page.goto(`${served.origin}/pwa/?add=1`);
      await phone.page.getByRole('button', { name: 'Scan QR code' }).click();
      await phone.page.waitForFunction(() => (document.querySelector('[data-testid="code-input"]') as HTMLInputElement).value !== '', null, { timeout: 10_000 });
      await expect(phone.page.getByTestId('code-input').inputValue()).resolves.toBe(code);
      await expect(phone.page.getByTestId('issuer').inputValue()).resolves.toBe(served.origin);
      // The camera is released once the code is read.
      await expect(phone.page.locator('video').evaluate((v) => (v as HTMLVideoElement).srcObject)).resolves.toBeNull();
      expect(phone.errors).toEqual([]);
    } finally {
      await phone.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
