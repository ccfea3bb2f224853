import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { launchBrowser, screenshot, type Browser } from '../support/browser.js';
import type { PushWorld } from '../support/push-world.js';
import { axeViolations } from '../support/axe.js';
import { enrollmentExchange, newUser, startPwaWorld } from './world.js';

/**
 * Before the phone registers (issue 16, item 1): under DEVICE_UNLOCK=pin the app asks for the PIN,
 * and says its rule, before anything reaches the IdP, so stopping there leaves no device behind;
 * the app offers to install itself, and on an iPhone says to add it to the Home Screen first.
 */
let w: PushWorld;
const opened: Browser[] = [];

beforeAll(async () => {
  w = await startPwaWorld({ env: { DEVICE_UNLOCK: 'pin' } });
}, 60_000);
afterAll(async () => {
  for (const b of opened) await b.close();
  await w?.close();
});

async function phone(initScripts: string[] = []): Promise<Browser> {
  const b = await launchBrowser({ initScripts });
  opened.push(b);
  return b;
}

describe('enrolling under the PIN policy', () => {
  it('asks for the PIN, with its rule, before registering; the device exists only after', async () => {
    const user = await newUser(w);
    const { page } = await phone();
    const offer = await w.t.idp.deviceService.issueEnrollment(user.id, 'test');
    expect(new URL(offer.url).searchParams.get('unlock')).toBe('pin');
    const enrollCalls: string[] = [];
    page.on('request', (req) => { if (new URL(req.url()).pathname === '/api/device/enroll') enrollCalls.push(req.method()); });
    await page.goto(offer.url);
    await page.getByTestId('enroll-submit').click();
    await page.getByTestId('new-pin').waitFor();
    await expect(page.getByTestId('pin-rule').textContent()).resolves.toMatch(/at least 6 characters/);
    expect(enrollCalls).toEqual([]);
    expect(await w.t.idp.devices.listByAccount(user.id)).toEqual([]);
    expect(await axeViolations(page)).toEqual([]);
    await screenshot(page, 'pwa-enroll-pin-first');

    // A PIN that breaks the rule is refused on the phone, still before any registration.
    await page.getByTestId('new-pin').fill('123');
    await page.getByTestId('new-pin-again').fill('123');
    await page.getByTestId('new-pin-submit').click();
    await page.getByText('The PIN needs at least 6 characters.').waitFor();
    expect(enrollCalls).toEqual([]);

    const exchange = enrollmentExchange(page);
    await page.getByTestId('new-pin').fill('482916');
    await page.getByTestId('new-pin-again').fill('482916');
    await page.getByTestId('new-pin-submit').click();
    await page.getByTestId('enroll-done').waitFor({ timeout: 30_000 });
    const { status, response } = await exchange;
    expect(status).toBe(201);
    expect(enrollCalls).toEqual(['POST']);
    expect(await w.t.idp.devices.get(response.deviceId)).toMatchObject({ accountId: user.id, unlock: 'pin', status: 'active' });
  });
});

describe('installing first', () => {
  it('offers to install when the browser allows it, and uses the browser\'s prompt', async () => {
    const user = await newUser(w);
    const { page } = await phone();
    const offer = await w.t.idp.deviceService.issueEnrollment(user.id, 'test');
    await page.goto(offer.url);
    await page.getByTestId('enroll-submit').waitFor();
    // Chromium judges the app installable (manifest, service worker) and fires beforeinstallprompt.
    await page.getByTestId('install-app').waitFor();
    // That event, replaced by one whose prompt the test can see being called.
    await page.evaluate(() => {
      const event = Object.assign(new Event('beforeinstallprompt', { cancelable: true }), {
        prompt: async () => { (window as unknown as { prompted: boolean }).prompted = true; },
        userChoice: Promise.resolve({ outcome: 'accepted' }),
      });
      window.dispatchEvent(event);
    });
    await page.getByTestId('install-app').click();
    await page.waitForFunction(() => (window as unknown as { prompted?: boolean }).prompted === true);
    await page.waitForFunction(() => !document.querySelector('[data-testid="install-app"]'));
    expect(await axeViolations(page)).toEqual([]);
  });

  it('on an iPhone says to add the app to the Home Screen before enrolling', async () => {
    const user = await newUser(w);
    const iphone = "Object.defineProperty(Navigator.prototype, 'userAgent', { get: () => 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1' });";
    const { page } = await phone([iphone]);
    const offer = await w.t.idp.deviceService.issueEnrollment(user.id, 'test');
    await page.goto(offer.url);
    await expect(page.getByTestId('ios-home-screen').textContent()).resolves.toMatch(/add this app to the Home Screen[\s\S]*separate storage/);
    expect(await axeViolations(page)).toEqual([]);
    await screenshot(page, 'pwa-enroll-ios-home-screen');
  });
});
