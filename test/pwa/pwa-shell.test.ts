import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { launchBrowser, waitForController, type Browser } from '../support/browser.js';
import type { PushWorld } from '../support/push-world.js';
import { shownCode } from './flows.js';
import { enrollFromLink, isCodeOf, startPwaWorld, type Enrolled } from './world.js';

/**
 * The installable shell, as the IdP serves it at /pwa/: a phone can add it to the home screen
 * (manifest, icons, iOS meta), its service worker takes control of /pwa/, it fits a 360 px screen,
 * and its passcodes are the RFC 6238 codes of the secret the IdP issued, also offline.
 */

let w: PushWorld;
let browser: Browser;
let device: Enrolled;

beforeAll(async () => {
  w = await startPwaWorld();
  browser = await launchBrowser({ viewport: { width: 360, height: 740 } });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await w?.close();
});

function pngSize(bytes: Buffer): { width: number; height: number } {
  expect(bytes.subarray(0, 8).equals(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]))).toBe(true);
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

describe('PWA shell', () => {
  it('links a valid web app manifest with installable icons, and the iOS home-screen tags', async () => {
    const { page } = browser;
    await page.goto(`${w.t.url}/pwa/`);
    const manifestUrl = await page.locator('link[rel="manifest"]').evaluate((el) => (el as HTMLLinkElement).href);
    const res = await fetch(manifestUrl);
    expect(res.headers.get('content-type')).toMatch(/^application\/manifest\+json/);
    const manifest = (await res.json()) as Record<string, unknown> & { icons: { src: string; sizes: string; type: string; purpose: string }[] };
    expect(manifest.name).toBeTruthy();
    expect(manifest.short_name).toBeTruthy();
    expect(new URL(manifest.start_url as string, manifestUrl).href).toBe(`${w.t.url}/pwa/`);
    expect(new URL(manifest.scope as string, manifestUrl).href).toBe(`${w.t.url}/pwa/`);
    expect(manifest.display).toBe('standalone');
    expect(manifest.theme_color).toMatch(/^#[0-9a-f]{6}$/i);

    const wanted = [['192x192', 'any'], ['512x512', 'any'], ['192x192', 'maskable'], ['512x512', 'maskable']];
    for (const [sizes, purpose] of wanted) {
      const icon = manifest.icons.find((i) => i.sizes === sizes && i.purpose === purpose && i.type === 'image/png');
      expect(icon).toBeDefined();
      const png = Buffer.from(await (await fetch(new URL(icon!.src, manifestUrl))).arrayBuffer());
      const [w, h] = sizes!.split('x').map(Number);
      expect(pngSize(png)).toEqual({ width: w, height: h });
    }

    const touch = await page.locator('link[rel="apple-touch-icon"]').evaluate((el) => (el as HTMLLinkElement).href);
    expect(pngSize(Buffer.from(await (await fetch(touch)).arrayBuffer()))).toEqual({ width: 180, height: 180 });
    expect(await page.locator('meta[name="apple-mobile-web-app-capable"]').getAttribute('content')).toBe('yes');
    expect(await page.locator('meta[name="theme-color"]').getAttribute('content')).toBe(manifest.theme_color);
    // CSP script-src 'self': no inline script anywhere in the shell.
    expect(await page.locator('script:not([src])').count()).toBe(0);
  });

  it('registers its service worker with scope /pwa/, which controls the page', async () => {
    const { page } = browser;
    await page.goto(`${w.t.url}/pwa/`);
    // Wait for an active worker, not for control of this first load: a page whose navigation began
    // while the worker was still installing can miss its clients.claim() (a race in the spec).
    const scope = await page.evaluate(async () => (await navigator.serviceWorker.ready).scope);
    expect(scope).toBe(`${w.t.url}/pwa/`);
    await page.reload();
    await waitForController(page);
    expect(await page.evaluate(() => navigator.serviceWorker.controller?.scriptURL)).toBe(`${w.t.url}/pwa/sw.js`);
  });

  it('renders the home screen at 360 px without sideways scrolling', async () => {
    const { page } = browser;
    await page.goto(`${w.t.url}/pwa/`);
    await page.getByRole('heading', { level: 1, name: 'Accounts' }).waitFor();
    await page.getByRole('button', { name: 'Add account' }).waitFor();
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(360);
  });

  it('shows the RFC 6238 passcode of the secret the IdP issued, as computed in Node', async () => {
    const { page } = browser;
    device = await enrollFromLink(page, w);
    expect(isCodeOf(device.secret, await shownCode(page))).toBe(true);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
  });

  it('shows passcodes offline, from the cached shell', async () => {
    const { page, context } = browser;
    await waitForController(page);
    await context.setOffline(true);
    try {
      await page.reload();
      expect(isCodeOf(device.secret, await shownCode(page))).toBe(true);
    } finally {
      await context.setOffline(false);
    }
  });

  it('logged no console error', () => {
    expect(browser.errors).toEqual([]);
  });
});
