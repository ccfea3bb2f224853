import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import type { CDPSession, Page } from 'playwright-core';
import { chromiumAvailable, launchUserBrowsers, screenshot, screenshotAtTextSize, textLayout, type Browser, type UserBrowsers } from '../support/browser.js';
import { axeViolations, WCAG_22_AA } from '../support/axe.js';
import { testRp } from '../support/idp.js';
import { PushWorld } from '../support/push-world.js';
import { newUser } from '../pwa/world.js';

/**
 * The IdP's own pages as a user sees them in Chromium (issue 16, items 4, 6, 7, 8): each page in
 * light, dark, 200 % text and German, saved under test-artifacts/screenshots/ux-<page>-<variant>.png,
 * with axe-core finding nothing; paused and throttled pages that say until when; a way back to the
 * app from an ended sign-in; login_hint; the product name on every page.
 */

const APP_HOME = 'http://127.0.0.1:1/home';
const CALLBACK = 'http://127.0.0.1:1/cb';

type Variant = { name: string; dark?: boolean; bigText?: boolean; de?: boolean };
const VARIANTS: Variant[] = [{ name: 'light' }, { name: 'dark', dark: true }, { name: 'text200', bigText: true }, { name: 'de', de: true }];

let w: PushWorld;
let users: UserBrowsers;

beforeAll(async () => {
  w = await PushWorld.start({
    idp: { storage: 'postgres', env: { PUSH_LIMIT: '1', PRODUCT_NAME: 'Acme Sign-in' } },
    clients: [
      testRp({ client_id: 'ux-rp', client_name: 'Ux App', client_uri: APP_HOME, login: { consent: 'explicit' } }),
      testRp({ client_id: 'ux-strict', client_name: 'Strict App', client_uri: APP_HOME, login: { consent: 'implicit', noDevice: 'refuse' } }),
    ],
  });
  users = await launchUserBrowsers();
}, 150_000);

afterAll(async () => {
  await users?.close();
  await w?.close();
});

async function open(): Promise<{ b: Browser; page: Page; cdp: CDPSession }> {
  const b = await users.open();
  // The relying app itself: a page that answers, so a finished or cancelled sign-in lands somewhere.
  await b.page.route('http://127.0.0.1:1/**', (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><html lang="en"><title>Ux App</title><h1>Ux App</h1></html>' }));
  return { b, page: b.page, cdp: await b.context.newCDPSession(b.page) };
}

async function variant(page: Page, cdp: CDPSession, v: Variant): Promise<void> {
  await page.emulateMedia({ colorScheme: v.dark ? 'dark' : 'light' });
  await page.setExtraHTTPHeaders({ 'Accept-Language': v.de ? 'de-DE,de;q=0.9,en;q=0.5' : 'en-GB,en;q=0.9' });
  // Chromium's text size setting (the pages size everything in rem): 32 px is 200 %.
  await cdp.send('Page.setFontSizes', { fontSizes: { standard: v.bigText ? 32 : 16, fixed: v.bigText ? 26 : 13 } });
}


/** Shows a page in every variant (`show` brings it up after the variant is set), screenshots it, runs axe, and lets `check` look at it. */
async function everyVariant(page: Page, cdp: CDPSession, name: string, show: (v: Variant) => Promise<void>, check: (v: Variant) => Promise<void> = async () => {}) {
  for (const v of VARIANTS) {
    await variant(page, cdp, v);
    await show(v);
    // A click's navigation may show the new page's elements before its stylesheet has loaded.
    await page.waitForLoadState('load');
    await page.locator('h1').waitFor();
    expect(await page.locator('html').getAttribute('lang')).toBe(v.de ? 'de' : 'en');
    await expect(page.locator('#product-name').textContent()).resolves.toBe('Acme Sign-in');
    if (v.dark) expect(await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor)).toBe('rgb(18, 18, 18)');
    if (v.bigText) expect(await page.evaluate(() => getComputedStyle(document.documentElement).fontSize)).toBe('32px');
    // Nothing wider than the 360 px screen, and no word cut that would fit its line, whatever the text size.
    const text = await textLayout(page, 'h1');
    expect(text.scrollWidth).toBeLessThanOrEqual(360);
    expect({ page: name, variant: v.name, brokenWords: text.brokenWords }).toEqual({ page: name, variant: v.name, brokenWords: [] });
    if (v.bigText) await screenshotAtTextSize(page, cdp, `ux-${name}-${v.name}`, 32);
    else await screenshot(page, `ux-${name}-${v.name}`);
    expect(await axeViolations(page, WCAG_22_AA)).toEqual([]);
    await check(v);
  }
}

async function authorizeUrl(client: string, extra: Record<string, string> = {}): Promise<string> {
  const config = await oidc.discovery(new URL(w.t.url), client, 'unused', undefined, { execute: [oidc.allowInsecureRequests] });
  return oidc.buildAuthorizationUrl(config, {
    redirect_uri: CALLBACK, scope: 'openid profile', state: oidc.randomState(),
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256', ...extra,
  }).href;
}

/** At the app's sign-in: the IdP's login page, whose URL is returned. */
async function toLogin(page: Page, client = 'ux-rp', extra: Record<string, string> = {}): Promise<string> {
  await page.goto(await authorizeUrl(client, extra));
  await page.locator('#username').waitFor();
  return page.url();
}

async function password(page: Page, username: string, pw = PushWorld.password): Promise<void> {
  await page.locator('#username').fill(username);
  await page.locator('#password').fill(pw);
  await page.locator('form[action$="/login"] button[type=submit]').click();
}

const heading = (page: Page) => page.locator('h1').textContent().then((s) => (s ?? '').trim());

describe('the sign-in pages in light, dark, 200 % text and German (axe: 0 violations)', () => {
  it('login, login_hint, second factor, passcode, waiting, paused', async () => {
    const { b, page, cdp } = await open();
    try {
      const phone = await w.enrollPhone();
      const login = await toLogin(page);
      await everyVariant(page, cdp, 'login', () => page.goto(login).then(() => {}), async (v) => {
        expect(await heading(page)).toBe(v.de ? 'Anmelden' : 'Sign in');
        expect(await page.locator('.sub').textContent()).toBe(v.de ? 'um mit Ux App fortzufahren' : 'to continue to Ux App');
      });

      // login_hint prefills the username, and the password has the focus.
      await variant(page, cdp, VARIANTS[0]!);
      await toLogin(page, 'ux-rp', { login_hint: 'alice' });
      expect(await page.locator('#username').inputValue()).toBe('alice');
      // Chromium applies autofocus at a later rendering step: wait for it (a check right after load raced it under load).
      await page.waitForFunction(() => document.activeElement?.id === 'password', undefined, { timeout: 5000 }).catch(() => undefined);
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('password');
      await screenshot(page, 'ux-login-hint-light');

      await password(page, 'alice');
      await page.waitForURL(/\/second-factor$/);
      const uid = new URL(page.url()).pathname.split('/')[2]!;
      const base = `${w.t.url}/interaction/${uid}`;
      await everyVariant(page, cdp, 'second-factor', () => page.goto(`${base}/second-factor`).then(() => {}), async (v) => {
        expect(await heading(page)).toBe(v.de ? 'Bestätigen Sie, dass Sie es sind' : 'Confirm it is you');
      });
      await everyVariant(page, cdp, 'passcode', () => page.goto(`${base}/passcode`).then(() => {}));

      // The waiting page: the countdown says seconds with the plural right.
      await variant(page, cdp, VARIANTS[0]!);
      await page.goto(`${base}/second-factor`);
      await page.locator('#send-push').click();
      await page.waitForURL(/\/wait$/);
      await everyVariant(page, cdp, 'wait', () => page.goto(`${base}/wait`).then(() => {}), async (v) => {
        expect(await page.locator('#countdown').textContent()).toMatch(v.de ? /^Die Anfrage läuft in \d+ Sekunden ab\.$/ : /^The request expires in \d+ seconds\.$/);
      });
      // The phone says no: this push counts as unapproved (PUSH_LIMIT=1), so the next one is refused.
      const [pending] = await phone.phone.pending();
      await phone.phone.respond(pending!.id, 'deny');
      // The waiting page hears it and moves on by itself: let it, or its navigation aborts the next one.
      await page.locator('h1', { hasText: /Sign-in not approved|Anmeldung nicht bestätigt/ }).waitFor();
      await page.waitForLoadState('load');
      // A new sign-in (its own "Send again" spacing does not apply): the account's limit does.
      await toLogin(page);
      await password(page, 'alice');
      await page.waitForURL(/\/second-factor$/);
      const base2 = page.url().replace(/\/second-factor$/, '');
      await page.locator('#send-push').click();
      await page.waitForURL(/notice=limit/);
      const paused = page.url();
      expect(new URL(paused).searchParams.get('until')).toMatch(/^\d+$/);
      await everyVariant(page, cdp, 'paused', () => page.goto(paused).then(() => {}), async (v) => {
        // The heading says so, with the time it ends; no "Try again"; the passcode has the focus.
        expect(await heading(page)).toMatch(v.de ? /^Bis \d{1,2}:\d\d keine Anfragen mehr an Ihr Telefon$/ : /^No more requests to your phone until \d{1,2}:\d\d(?:\s?[AP]M)?$/);
        await expect(page.locator('#send-again').count()).resolves.toBe(0);
        await page.waitForFunction(() => document.activeElement?.id === 'passcode', undefined, { timeout: 5000 }).catch(() => undefined);
        expect(await page.evaluate(() => document.activeElement?.id)).toBe('passcode');
      });

      // The paused page's passcode signs in.
      await variant(page, cdp, VARIANTS[0]!);
      await page.goto(paused);
      // The deny took this 30 s step's code (each step is taken once): the app's next one.
      await page.locator('#passcode').fill(phone.phone['nextOtp']().otp);
      await page.locator('#paused-passcode button[type=submit]').click();
      // Ux App asks for consent (explicit): Allow, and the app gets its code.
      await page.locator('form[action$="/confirm"] button').click();
      await page.waitForURL(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);

      // Back after sign-in: not "session_not_found" but the way back to the app.
      await page.goBack();
      await page.locator('h1').waitFor();
      expect(await heading(page)).toBe('This sign-in has ended');
      expect(await page.locator('#back-to-app').getAttribute('href')).toBe(APP_HOME);
      expect(await page.locator('#back-to-app').textContent()).toBe('Back to Ux App');
      await everyVariant(page, cdp, 'ended', () => page.goto(`${base2}/second-factor`).then(() => {}), async (v) => {
        expect(await page.locator('#back-to-app').textContent()).toBe(v.de ? 'Zurück zu Ux App' : 'Back to Ux App');
      });
      await page.locator('#back-to-app').click();
      await page.waitForURL(APP_HOME);
    } finally {
      await b.close();
    }
  }, 180_000);

  it('the throttle: "Wait N seconds" with the plural right, counted down, and the time it ends', async () => {
    const { b, page, cdp } = await open();
    try {
      const login = await toLogin(page);
      const who = `nobody-${Date.now()}`;
      // Three failures are free; then each further one waits longer.
      for (let i = 0; i < 4; i++) {
        await password(page, who, 'wrong password');
        await page.locator('#login-error').waitFor();
      }
      await everyVariant(page, cdp, 'throttled', async () => {
        // Until a failure comes within its wait (each wait grows; ten failures lock the name for 15 minutes).
        for (let i = 0; i < 12; i++) {
          await page.goto(login);
          await password(page, who, 'wrong password');
          await page.locator('#login-error').waitFor();
          if (await page.locator('#throttle').count()) return;
        }
      }, async (v) => {
        const text = (await page.locator('#throttle').textContent())!;
        const n = Number(/\d+/.exec(text)![0]);
        if (/gesperrt|locked/.test(text)) return; // a lockout (ten failures): said in minutes
        const unit = /Minute|minute/.test(text)
          ? (v.de ? (n === 1 ? 'Minute' : 'Minuten') : (n === 1 ? 'minute' : 'minutes'))
          : (v.de ? (n === 1 ? 'Sekunde' : 'Sekunden') : (n === 1 ? 'second' : 'seconds'));
        expect(text).toBe(v.de ? `Zu viele fehlgeschlagene Versuche. Warten Sie ${n} ${unit} und versuchen Sie es dann erneut.` : `Too many failed attempts. Wait ${n} ${unit} and try again.`);
        expect(await page.locator('#unlock-at time').getAttribute('datetime')).toMatch(/^\d{4}-\d\d-\d\dT/);
        // Seconds are counted down (the plural form follows the number).
        if (/econd|Sekunde/.test(text) && n > 1) await page.locator('#throttle', { hasNotText: text }).waitFor({ timeout: 10_000 });
      });
    } finally {
      await b.close();
    }
  }, 240_000);

  it('consent, no device (with a link to /account and back to the app), sign out, signed out', async () => {
    const { b, page, cdp } = await open();
    try {
      const user = await newUser(w);
      await toLogin(page, 'ux-rp');
      await password(page, user.username);
      await page.locator('form[action$="/confirm"]').waitFor();
      const consent = page.url();
      await everyVariant(page, cdp, 'consent', () => page.goto(consent).then(() => {}), async (v) => {
        expect(await heading(page)).toBe(v.de ? 'Zugriff erlauben?' : 'Allow access?');
        expect(await page.locator('.scopes li').first().textContent()).toBe(v.de ? 'Wissen, wer Sie sind' : 'Know who you are');
      });

      await everyVariant(page, cdp, 'no-device', async () => {
        await toLogin(page, 'ux-strict');
        await password(page, user.username);
        await page.locator('#error-description').waitFor();
      }, async (v) => {
        expect(await page.locator('code').textContent()).toBe('no_device');
        expect(await page.locator('#to-account').getAttribute('href')).toBe('/account');
        expect(await page.locator('#back-to-app').textContent()).toBe(v.de ? 'Zurück zu Strict App' : 'Back to Strict App');
      });

      await everyVariant(page, cdp, 'logout', () => page.goto(`${w.t.url}/session/end`).then(() => {}), async (v) => {
        expect(await heading(page)).toBe(v.de ? 'Abmelden?' : 'Sign out?');
      });
      await everyVariant(page, cdp, 'logged-out', async () => {
        await page.goto(`${w.t.url}/session/end`);
        await page.locator('button[name=logout]').or(page.getByRole('heading', { name: /Signed out|Abgemeldet/ })).first().waitFor();
        if (await page.locator('button[name=logout]').count()) await page.locator('button[name=logout]').click();
        await page.waitForURL(/session\/end\/success/);
      }, async (v) => {
        expect(await heading(page)).toBe(v.de ? 'Abgemeldet' : 'Signed out');
      });
    } finally {
      await b.close();
    }
  }, 240_000);

  it('ui_locales outranks Accept-Language; an unknown page is a translated 404', async () => {
    const { b, page, cdp } = await open();
    try {
      await variant(page, cdp, VARIANTS[0]!);
      await toLogin(page, 'ux-rp', { ui_locales: 'fr de' });
      expect(await page.locator('html').getAttribute('lang')).toBe('de');
      expect(await heading(page)).toBe('Anmelden');
      await everyVariant(page, cdp, 'not-found', () => page.goto(`${w.t.url}/no-such-page`).then(() => {}), async (v) => {
        expect(await page.locator('#error-description').textContent()).toBe(v.de ? 'Unter dieser Adresse gibt es nichts.' : 'There is nothing at this address.');
      });
    } finally {
      await b.close();
    }
  }, 120_000);
});

if (!chromiumAvailable()) throw new Error('Chromium is needed for test/ux (CHROMIUM_PATH)');
