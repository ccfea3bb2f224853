import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import type { Page } from 'playwright-core';
import { launchUserBrowsers, screenshot, type UserBrowsers } from '../support/browser.js';
import { axeViolations, WCAG_22_AA } from '../support/axe.js';
import { testRp } from '../support/idp.js';
import { PushWorld } from '../support/push-world.js';

/**
 * `login.autoPush` in Chromium: the user types the password and presses Enter; the next page is
 * the waiting page with the number (no choice page), the phone approves, and the page goes on to
 * the app by itself (its long-poll script). The waiting page also offers "I lost my phone".
 */
const CALLBACK = 'http://127.0.0.1:1/cb';

let w: PushWorld;
let users: UserBrowsers;

beforeAll(async () => {
  w = await PushWorld.start({
    idp: { storage: 'postgres' },
    clients: [testRp({ client_id: 'auto-rp', client_name: 'Auto App', login: { consent: 'implicit', autoPush: true } })],
  });
  users = await launchUserBrowsers();
}, 150_000);

afterAll(async () => {
  await users?.close();
  await w?.close();
});

async function signIn(page: Page): Promise<void> {
  const config = await oidc.discovery(new URL(w.t.url), 'auto-rp', 'unused', undefined, { execute: [oidc.allowInsecureRequests] });
  await page.goto(oidc.buildAuthorizationUrl(config, {
    redirect_uri: CALLBACK, scope: 'openid', state: oidc.randomState(),
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
  }).href);
  await page.locator('#username').fill('alice');
  await page.locator('#password').fill(PushWorld.password);
  await page.locator('#password').press('Enter');
  await page.waitForURL(/\/interaction\/[^/]+\/wait$/);
}

describe('autoPush in Chromium', () => {
  it('Enter on the password shows the waiting page with the number; the phone approves and the page reaches the app by itself', async () => {
    const { phone, subscription } = await w.enrollPhone();
    const b = await users.open();
    try {
      await signIn(b.page);
      const number = Number(await b.page.locator('#match-number').textContent());
      expect(number).toBeGreaterThanOrEqual(10);
      expect(await b.page.locator('#send-push').count()).toBe(0);
      await expect(b.page.locator('#use-recovery').textContent()).resolves.not.toBe('');
      await screenshot(b.page, 'ux-auto-push-wait');
      expect(await axeViolations(b.page, WCAG_22_AA)).toEqual([]);
      // The browser's request to the app's callback, with a code (Playwright routes only the first
      // request of a redirect chain, so the app itself is not served here).
      const toApp = b.page.waitForRequest((r) => r.url().startsWith(`${CALLBACK}?code=`) && r.isNavigationRequest(), { timeout: 15_000 });
      const cid = (await w.pushService.waitForMessage(subscription!.id)).payload.cid;
      expect((await phone.respond(cid, 'approve', { number })).body).toEqual({ status: 'approved' });
      expect(new URL((await toApp).url()).searchParams.get('code')).toBeTruthy();
    } finally {
      await b.close();
    }
  });

  it('"I lost my phone" on the waiting page opens the recovery code page', async () => {
    await w.enrollPhone();
    const b = await users.open();
    try {
      await signIn(b.page);
      await b.page.locator('#use-recovery').click();
      await b.page.waitForURL(/\/interaction\/[^/]+\/recovery$/);
      expect(await b.page.locator('input[name="code"]').count()).toBe(1);
    } finally {
      await b.close();
    }
  });
});
