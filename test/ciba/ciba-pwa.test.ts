import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { newChallenge } from '../../src/challenge/model.js';
import { launchBrowser, type Browser } from '../support/browser.js';
import type { PushWorld } from '../support/push-world.js';
import { enrollFromLink, startPwaWorld, type Enrolled } from '../pwa/world.js';

/**
 * The PWA's request page in Chromium (the real app against the real IdP): a request that carries
 * an OpenID CIBA binding_message shows it, as text, in place of the number to choose; a browser
 * sign-in's request still asks for the number.
 */
describe('the phone shows a CIBA binding message', () => {
  let w: PushWorld;
  let phone: Browser;
  let device: Enrolled;

  beforeAll(async () => {
    w = await startPwaWorld();
    phone = await launchBrowser();
    device = await enrollFromLink(phone.page, w, { expectPush: /Notifications are off/ });
  }, 60_000);
  afterAll(async () => {
    await phone?.close();
    await w?.close();
  });

  const requestUrl = (cid: string) => `${w.t.url}/pwa/?${new URLSearchParams({ request: cid, issuer: w.t.url, device: device.deviceId })}`;

  async function request(opts: { bindingMessage: string | null; numberMatching: boolean }) {
    const challenge = newChallenge({
      accountId: w.accountId, signInId: null, clientId: 'ciba-poll', appName: 'Call Centre', ip: '203.0.113.9',
      browser: 'Unknown browser', location: null, ttlMs: 60_000, now: Date.now(), ...opts,
    });
    await w.t.idp.challenges.create(challenge);
    return challenge;
  }

  it('the binding message is on the request page, no numbers are asked for, and Approve is enabled', async () => {
    const { page } = phone;
    const ch = await request({ bindingMessage: 'Order 4711', numberMatching: false });
    await page.goto(requestUrl(ch.id));
    await expect(page.getByTestId('request-binding-message').textContent()).resolves.toBe('Order 4711');
    await expect(page.getByTestId('request-app').textContent()).resolves.toBe('Call Centre');
    await expect(page.getByRole('group', { name: 'Choose the number shown on the sign-in screen' }).count()).resolves.toBe(0);
    await expect(page.getByTestId('approve').isDisabled()).resolves.toBe(false);
  });

  it('a request without one shows none, and number matching still asks for the number', async () => {
    const { page } = phone;
    const ch = await request({ bindingMessage: null, numberMatching: true });
    await page.goto(requestUrl(ch.id));
    await page.getByRole('group', { name: 'Choose the number shown on the sign-in screen' }).waitFor();
    await expect(page.getByTestId('request-binding-message').count()).resolves.toBe(0);
    // Nothing approves without a number: the numbers are the only way to approve (one tap).
    await expect(page.getByTestId('approve').count()).resolves.toBe(0);
  });
});
