import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chromium, type Browser as PwBrowser, type BrowserContext, type Page } from 'playwright-core';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../support/browser.js';
import { PushWorld } from '../support/push-world.js';
import { newUser, startPwaWorld, type User } from '../pwa/world.js';
import { checkPage } from './page-checks.js';

/**
 * The account page in Chromium, as a user on a computer meets it: "Add an authenticator" as a
 * wizard that notices the phone, and the device list, in English and in German (the browser's
 * Accept-Language). The computer's clock is in another zone
 * than the server's (UTC), so the local times are seen to be the user's. Every page is checked
 * with axe and kept as screenshots (light, dark, 200%).
 */
const ZONE = 'Asia/Kolkata';
let w: PushWorld;
let chrome: PwBrowser;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  w = await startPwaWorld();
  chrome = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}, 60_000);
afterAll(async () => {
  await chrome?.close();
  await w?.close();
});

/** A fresh desktop browser for each test; its locale is also its Accept-Language. */
async function desktop(locale = 'en-GB'): Promise<Page> {
  await context?.close().catch(() => {});
  context = await chrome.newContext({ viewport: { width: 1024, height: 800 }, timezoneId: ZONE, locale });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: w.t.url });
  page = await context.newPage();
  return page;
}

/** What the page's script should show for an ISO time, computed here with the user's zone and locale. */
function local(iso: string, options: Intl.DateTimeFormatOptions, locale = 'en-GB'): string {
  return new Intl.DateTimeFormat(locale, { ...options, timeZone: ZONE }).format(new Date(iso));
}

async function passwordSignIn(p: Page, user: User, button = 'Sign in'): Promise<void> {
  await p.locator('#username').fill(user.username);
  await p.locator('#password').fill(PushWorld.password);
  await p.getByRole('button', { name: button }).click();
}

/**
 * Waits for the account page (its heading) and for its deferred scripts to have run: a heading is
 * in the DOM before /static/account.js rewrites the UTC times, and a slow machine shows the gap.
 */
async function accountPage(p: Page, heading: string): Promise<void> {
  await p.getByRole('heading', { level: 1, name: heading }).waitFor();
  await p.waitForLoadState('domcontentloaded');
}

async function expectClean(p: Page, name: string): Promise<void> {
  const { violations } = await checkPage(p, name);
  expect(violations).toEqual([]);
}

describe('Add an authenticator', () => {
  it('shows the code with a copy button, the QR and link, the expiry in local time, then notices the phone and offers a test', async () => {
    const user = await newUser(w);
    const p = await desktop();
    await p.goto(`${w.t.url}/account`);
    await passwordSignIn(p, user);
    await p.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();
    await expectClean(p, 'account-empty');
    await p.getByRole('button', { name: 'Add an authenticator' }).click();
    await p.getByRole('heading', { level: 1, name: 'Add an authenticator' }).waitFor();

    // Explicitly for the phone, and this IdP (plain HTTP on 127.0.0.1) is one a phone cannot reach.
    await expect(p.getByRole('heading', { level: 2, name: 'Open this on your phone' }).isVisible()).resolves.toBe(true);
    await expect(p.locator('#https-warning').textContent()).resolves.toMatch(/works only on this computer[\s\S]*HTTPS/);
    const code = (await p.locator('#enroll-code').textContent())!;
    expect(code).toMatch(/^[A-Z0-9]{4}(-[A-Z0-9]{4}){3}$/);
    const link = new URL((await p.locator('#enroll-link').getAttribute('href'))!);
    expect(link.searchParams.get('enroll')).toBe(code);
    await expect(p.getByRole('img', { name: /QR code/ }).locator('svg').count()).resolves.toBe(1);

    // The copy button copies the code itself.
    await p.getByRole('button', { name: 'Copy code' }).click();
    await p.waitForFunction(() => document.getElementById('copy-status')?.textContent === 'Code copied.');
    await expect(p.evaluate(() => navigator.clipboard.readText())).resolves.toBe(code);

    // The expiry in the user's zone (the server gave UTC), about 15 minutes ahead.
    const expiresAt = (await p.locator('#enroll-expiry').getAttribute('datetime'))!;
    await expect(p.locator('#enroll-expiry').textContent()).resolves.toBe(local(expiresAt, { hour: 'numeric', minute: '2-digit', timeZoneName: 'short' }));
    expect(Date.parse(expiresAt) - Date.now()).toBeGreaterThan(10 * 60_000);
    await p.waitForFunction(() => document.getElementById('enroll-status')?.textContent === 'Waiting for your phone…');
    await expect(p.locator('#enroll-test').isVisible()).resolves.toBe(false);
    await expectClean(p, 'account-enroll-waiting');

    // The phone enrolls: the page sees the device, pending until the phone's first signed call.
    const phone = await SimulatedAuthenticator.enroll(w.t.url, code, { name: 'Pixel 8 (Chrome), 3 Dec 2026' });
    await p.waitForFunction(() => /was added\. Waiting for the phone to confirm/.test(document.getElementById('enroll-status')?.textContent ?? ''), null, { timeout: 10_000 });
    await expect(p.locator('#enroll-test').isVisible()).resolves.toBe(false);
    await phone.pending();
    await p.waitForFunction(() => document.getElementById('enroll-status')?.textContent === 'Your phone “Pixel 8 (Chrome), 3 Dec 2026” is ready.', null, { timeout: 10_000 });
    await expect(p.getByRole('link', { name: 'Send a test sign-in request' }).isVisible()).resolves.toBe(true);
    await expectClean(p, 'account-enroll-ready');

    // The test: signing in to this page again, at the second-factor level, sends the phone a request.
    await p.getByRole('link', { name: 'Send a test sign-in request' }).click();
    await p.locator('#password').waitFor();
    await passwordSignIn(p, user);
    await p.locator('#send-push').click();
    const pending = await (async () => {
      for (let i = 0; i < 50; i++) {
        const list = await phone.pending();
        if (list.length) return list;
        await new Promise((r) => setTimeout(r, 200));
      }
      return [];
    })();
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({ app: 'Your account' });
  });
});

describe('the device list', () => {
  it('shows times in local time, marks a phone that never confirmed, keeps rename folded and asks before revoking', async () => {
    const user = await newUser(w);
    // One confirmed phone (used once), one that enrolled and never checked in.
    const first = await SimulatedAuthenticator.enroll(w.t.url, (await w.t.idp.deviceService.issueEnrollment(user.id, 'test')).code, { name: 'Work phone' });
    await first.pending();
    const silent = await SimulatedAuthenticator.enroll(w.t.url, (await w.t.idp.deviceService.issueEnrollment(user.id, 'test')).code, { name: 'Old tablet' });

    const p = await desktop();
    await p.goto(`${w.t.url}/account`);
    await passwordSignIn(p, user);
    await p.getByRole('button', { name: 'Enter a passcode instead' }).click();
    await p.locator('input[name="passcode"]').fill(first.currentTotp());
    await p.locator('input[name="passcode"]').press('Enter');
    await accountPage(p, 'Your account');

    const firstRow = (await w.t.idp.devices.get(first.deviceId))!;
    const card = p.locator('section.device', { has: p.getByRole('heading', { name: 'Work phone' }) });
    await expect(card.locator('time[datetime]').nth(1).textContent()).resolves.toBe(
      local(firstRow.lastUsedAt!.toISOString(), { day: 'numeric', month: 'short', year: 'numeric', hour: 'numeric', minute: '2-digit' }));
    await expect(card.getByText('Not confirmed by the phone yet').count()).resolves.toBe(0);
    const tablet = p.locator('section.device', { has: p.getByRole('heading', { name: 'Old tablet' }) });
    await expect(tablet.getByText('Not confirmed by the phone yet').isVisible()).resolves.toBe(true);
    await expect(tablet.textContent()).resolves.toMatch(/last used never/);

    // Rename is folded until asked for.
    await expect(card.getByLabel('New name').isVisible()).resolves.toBe(false);
    await card.getByText('Rename', { exact: true }).click();
    await expect(card.getByLabel('New name').isVisible()).resolves.toBe(true);
    await expectClean(p, 'account-devices');

    // Revoking asks first; the question names the device and what follows.
    await expect(tablet.getByRole('button', { name: /Yes, revoke/ }).isVisible()).resolves.toBe(false);
    await tablet.getByText('Revoke', { exact: true }).click();
    await expect(tablet.getByText(/will no longer approve sign-ins, and you will be signed out/).isVisible()).resolves.toBe(true);
    await expectClean(p, 'account-revoke-confirm');
    expect((await w.t.idp.devices.get(silent.deviceId))!.status).toBe('active');
    await tablet.getByRole('button', { name: 'Yes, revoke “Old tablet”' }).click();
    await p.waitForURL(/\/account\/signed-out\?notice=revoked$/);
    expect((await w.t.idp.devices.get(silent.deviceId))!.status).toBe('revoked');
    expect((await w.t.idp.devices.get(first.deviceId))!.status).toBe('active');
  });
});

describe('in German (Accept-Language: de)', () => {
  it('the account page, the wizard and its progress, the device list and the revoke question speak German, with dates in German', async () => {
    const user = await newUser(w);
    const p = await desktop('de-DE');
    await p.goto(`${w.t.url}/account`);
    // The sign-in page names the IdP's own account page in German too.
    await expect(p.locator('.sub').textContent()).resolves.toBe('um mit Ihr Konto fortzufahren');
    await passwordSignIn(p, user, 'Anmelden');
    await p.getByRole('heading', { level: 1, name: 'Ihr Konto' }).waitFor();
    await expect(p.locator('html').getAttribute('lang')).resolves.toBe('de');
    await expect(p.title()).resolves.toMatch(/^Ihr Konto/);
    await expect(p.locator('#no-devices').textContent()).resolves.toBe('Sie haben noch keinen Authenticator. Fügen Sie einen hinzu, um Anmeldungen mit einem Tippen zu bestätigen.');
    await expectClean(p, 'account-empty-de');

    await p.getByRole('button', { name: 'Authenticator hinzufügen' }).click();
    await p.getByRole('heading', { level: 1, name: 'Authenticator hinzufügen' }).waitFor();
    await expect(p.getByRole('heading', { level: 2, name: 'Öffnen Sie dies auf Ihrem Telefon' }).isVisible()).resolves.toBe(true);
    await expect(p.getByRole('img', { name: 'QR-Code des Registrierungslinks für Ihr Telefon' }).count()).resolves.toBe(1);
    await expect(p.locator('#https-warning').textContent()).resolves.toMatch(/funktioniert nur auf diesem Computer/);
    await expect(p.getByRole('link', { name: 'der Registrierungslink' }).isVisible()).resolves.toBe(true);
    await expect(p.locator('#step-phone + p').textContent()).resolves.toMatch(/tippen Sie auf Konto hinzufügen\./);
    const code = (await p.locator('#enroll-code').textContent())!;
    await p.getByRole('button', { name: 'Code kopieren' }).click();
    await p.waitForFunction(() => document.getElementById('copy-status')?.textContent === 'Code kopiert.');

    // The expiry in German style ("19:35 GMT+5:30"), in the user's zone.
    const expiresAt = (await p.locator('#enroll-expiry').getAttribute('datetime'))!;
    const expiry = local(expiresAt, { hour: 'numeric', minute: '2-digit', timeZoneName: 'short' }, 'de-DE');
    await expect(p.locator('#enroll-expiry').textContent()).resolves.toBe(expiry);
    await expect(p.locator('#enroll-expiry').locator('..').textContent()).resolves.toBe(`Der Code funktioniert einmal und läuft um ${expiry} ab.`);
    await p.waitForFunction(() => document.getElementById('enroll-status')?.textContent === 'Warten auf Ihr Telefon …');
    await expectClean(p, 'account-enroll-waiting-de');

    const phone = await SimulatedAuthenticator.enroll(w.t.url, code, { name: 'Pixel 8' });
    await p.waitForFunction(() => document.getElementById('enroll-status')?.textContent === '„Pixel 8“ wurde hinzugefügt. Warten auf die Bestätigung durch das Telefon …', null, { timeout: 10_000 });
    await phone.pending();
    await p.waitForFunction(() => document.getElementById('enroll-status')?.textContent === 'Ihr Telefon „Pixel 8“ ist bereit.', null, { timeout: 10_000 });
    await expect(p.getByRole('link', { name: 'Test-Anmeldeanfrage senden' }).isVisible()).resolves.toBe(true);
    await expect(p.getByRole('link', { name: 'Zurück zu Ihrem Konto' }).getAttribute('href')).resolves.toBe('/account');
    await expectClean(p, 'account-enroll-ready-de');

    // The test sign-in, then the list: the page now needs the second factor, asked for in German too.
    await p.getByRole('link', { name: 'Test-Anmeldeanfrage senden' }).click();
    await p.locator('#password').waitFor();
    await passwordSignIn(p, user, 'Anmelden');
    await p.getByRole('button', { name: 'Stattdessen einen Einmalcode eingeben' }).click();
    await p.locator('input[name="passcode"]').fill(phone.currentTotp());
    await p.locator('input[name="passcode"]').press('Enter');
    await accountPage(p, 'Ihr Konto');
    const card = p.locator('section.device', { has: p.getByRole('heading', { name: 'Pixel 8' }) });
    const row = (await w.t.idp.devices.get(phone.deviceId))!;
    const added = local(row.createdAt.toISOString(), { day: 'numeric', month: 'short', year: 'numeric' }, 'de-DE');
    const used = local(row.lastUsedAt!.toISOString(), { day: 'numeric', month: 'short', year: 'numeric', hour: 'numeric', minute: '2-digit' }, 'de-DE');
    await expect(card.locator('p.hint').last().textContent()).resolves.toContain(` · hinzugefügt am ${added} · zuletzt verwendet am ${used}`);
    await card.getByText('Umbenennen', { exact: true }).click();
    await expect(card.getByLabel('Neuer Name').isVisible()).resolves.toBe(true);
    await expect(card.getByRole('button', { name: 'Namen speichern' }).isVisible()).resolves.toBe(true);
    await expectClean(p, 'account-devices-de');

    await card.getByText('Widerrufen', { exact: true }).click();
    await expect(card.getByText('„Pixel 8“ kann dann keine Anmeldungen mehr bestätigen, und Sie werden hier und überall sonst abgemeldet.', { exact: false }).isVisible()).resolves.toBe(true);
    await expectClean(p, 'account-revoke-confirm-de');
    await card.getByRole('button', { name: 'Ja, „Pixel 8“ widerrufen' }).click();
    await p.waitForURL(/\/account\/signed-out\?notice=revoked$/);
    await expect(p.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Abgemeldet');
    await expect(p.locator('main').textContent()).resolves.toMatch(/Das Gerät wurde widerrufen\.[\s\S]*Sie haben sich von Ihrer Kontoseite abgemeldet\./);
    expect((await w.t.idp.devices.get(phone.deviceId))!.status).toBe('revoked');
  });
});

describe('the enrollment poll', () => {
  it('answers only this page\'s own session, and refuses a malformed time without a 500', async () => {
    const anonymous = await fetch(`${w.t.url}/account/enroll/status`, { headers: { accept: 'application/json' } });
    expect(anonymous.status).toBe(401);
    const user = await newUser(w);
    const p = await desktop();
    await p.goto(`${w.t.url}/account`);
    await passwordSignIn(p, user);
    await p.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();
    const ask = (q: string) => p.evaluate(async (query) => {
      const res = await fetch(`/account/enroll/status${query}`, { headers: { accept: 'application/json' } });
      return { status: res.status, body: (await res.json()) as unknown };
    }, q);
    await expect(ask('')).resolves.toEqual({ status: 200, body: { state: 'waiting' } });
    for (const bad of ['?after=yesterday', '?after=a&after=b', `?after=${'9'.repeat(50)}`, '?after=%00']) {
      expect((await ask(bad)).status).toBe(400);
    }
  });
});
