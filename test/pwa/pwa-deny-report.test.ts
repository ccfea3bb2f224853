import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { CDPSession, Page } from 'playwright-core';
import { launchBrowser, screenshot, type Browser } from '../support/browser.js';
import { axeViolations, WCAG_22_AA } from '../support/axe.js';
import type { PushWorld } from '../support/push-world.js';
import { sendPush } from '../signin/helpers.js';
import { answered, auditFor, challengeAt, enrollFromLink, newUser, pushSignIn, startPwaWorld, type Enrolled, type User } from './world.js';

/**
 * Issue 16 item 3 on the phone, in real Chromium: Deny is one button; then "Was this you?". "No,
 * report it" tells the owner until when pushes are paused (the IdP's time, in local time), that
 * passcodes still work and to change the password; the IdP audits push.reported and sends no push to
 * the next sign-in; the computer only ever reads "denied". "Yes, it was me" mutes nothing. Each step
 * in English and German, light and dark, saved as test-artifacts/screenshots/pwa-<step>-<variant>.png,
 * with axe-core finding nothing.
 */


type Variant = { name: string; lang: 'en' | 'de'; dark: boolean };
const VARIANTS: Variant[] = [
  { name: 'en-light', lang: 'en', dark: false },
  { name: 'en-dark', lang: 'en', dark: true },
  { name: 'de-light', lang: 'de', dark: false },
  { name: 'de-dark', lang: 'de', dark: true },
];
const TEXT = {
  en: { wasItYou: 'Was this you?', report: 'No, report it', mine: 'Yes, it was me', denied: /^Denied\. Nobody is signed in/, accounts: 'Accounts',
    reported: (time: string) => `Reported. Pushes to your account are paused until ${time} (local time). Your passcodes still work. Someone knows your password: change it now.` },
  de: { wasItYou: 'Waren Sie das?', report: 'Nein, melden', mine: 'Ja, das war ich', denied: /^Abgelehnt\. Mit dieser Anfrage ist niemand angemeldet/, accounts: 'Konten',
    reported: (time: string) => `Gemeldet. Anfragen an Ihr Konto sind bis ${time} Uhr (Ortszeit) pausiert. Ihre Einmalcodes funktionieren weiter. Jemand kennt Ihr Passwort: Ändern Sie es jetzt.` },
};

let w: PushWorld;
let phone: Browser;
let cdp: CDPSession;

beforeAll(async () => {
  w = await startPwaWorld({ env: { PUSH_MUTE_AFTER_REPORT: '1200' } }); // the test RP asks for number matching
  phone = await launchBrowser();
  cdp = await phone.context.newCDPSession(phone.page);
}, 60_000);

afterAll(async () => {
  await phone?.close();
  await w?.close();
});

/** The phone's language (navigator.languages, as Chromium's settings give it) and its light or dark mode. */
async function setVariant(page: Page, v: Pick<Variant, 'lang' | 'dark'>): Promise<void> {
  const userAgent = await page.evaluate(() => navigator.userAgent);
  await cdp.send('Emulation.setUserAgentOverride', { userAgent, acceptLanguage: v.lang === 'de' ? 'de-DE,de' : 'en-US,en' });
  await page.emulateMedia({ colorScheme: v.dark ? 'dark' : 'light' });
}


/** Screenshot and axe of what the phone shows now; `<html lang>` is the variant's. */
async function capture(page: Page, step: string, v: Variant): Promise<void> {
  expect(await page.locator('html').getAttribute('lang')).toBe(v.lang);
  if (v.dark) expect(await page.evaluate(() => matchMedia('(prefers-color-scheme: dark)').matches)).toBe(true);
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
  await screenshot(page, `pwa-${step}-${v.name}`);
  expect(await axeViolations(page, WCAG_22_AA)).toEqual([]);
}

const requestUrl = (cid: string, d: Enrolled) => `${w.t.url}/pwa/?${new URLSearchParams({ request: cid, issuer: w.t.url, device: d.deviceId })}`;

/** A user with this phone enrolled (each report mutes its own account only). */
async function enrolledUser(name: string): Promise<{ user: User; device: Enrolled }> {
  await setVariant(phone.page, { lang: 'en', dark: false });
  const user = await newUser(w, name);
  return { user, device: await enrollFromLink(phone.page, w, { user }) };
}

describe('Deny, then "Was this you?"', () => {
  it.each(VARIANTS)('$name: No, report it: the phone says until when pushes are paused; the IdP mutes the account; the computer reads "denied"', async (v) => {
    const { page } = phone;
    const { user, device } = await enrolledUser(`Reporter ${v.name}`);
    await setVariant(page, v);
    const s = await pushSignIn(w, user);
    await page.goto(requestUrl(s.cid, device));
    await page.getByTestId('deny').waitFor();
    // One Deny, no "Deny and report" beside it.
    await expect(page.locator('.answer button').count()).resolves.toBe(1);
    await capture(page, 'request', v);

    await page.getByTestId('deny').click();
    await expect(page.getByTestId('request-result').textContent()).resolves.toMatch(TEXT[v.lang].denied);
    await page.getByRole('heading', { name: TEXT[v.lang].wasItYou }).waitFor();
    await capture(page, 'was-it-you', v);
    expect(await answered(s)).toMatchObject({ status: 'denied', reason: 'denied' });

    await page.getByRole('button', { name: TEXT[v.lang].report }).click();
    const told = (await page.getByTestId('report-result').textContent())!;
    const until = (await auditFor(w, 'push.muted', s.cid))[0]!.detail.until as string;
    const local = await page.evaluate(([iso, lang]) => new Intl.DateTimeFormat(lang, { hour: 'numeric', minute: '2-digit' }).format(new Date(iso!)), [until, v.lang]);
    expect(told).toBe(TEXT[v.lang].reported(local));
    await capture(page, 'reported', v);

    expect(await auditFor(w, 'push.reported', s.cid)).toHaveLength(1);
    // The computer: denied, not "reported" (whoever is there may be the attacker).
    expect(await answered(s)).toMatchObject({ status: 'denied', reason: 'denied' });
    const waiting = await s.browser.go(`/interaction/${s.uid}/wait`);
    expect(waiting.body).toContain('The request was denied on your phone.');
    expect(waiting.body).not.toMatch(/report/i);
    // A new sign-in gets no push: the account is muted.
    const again = await w.startSignIn({ username: user.username });
    const page2 = await sendPush(again.browser, again.next.body);
    expect(page2.body).toMatch(/paused/i);
    expect(await w.t.idp.challenges.listPending(user.id)).toEqual([]);

    // The home page in the same language and mode.
    await page.goto(`${w.t.url}/pwa/`);
    await page.getByRole('heading', { level: 1, name: TEXT[v.lang].accounts }).waitFor();
    await page.locator('[data-code]').first().waitFor();
    await capture(page, 'home', v);
  });

  it('Yes, it was me: nothing is reported and the next sign-in gets its push', async () => {
    const { page } = phone;
    const { user, device } = await enrolledUser('Own Denier');
    const s = await pushSignIn(w, user);
    await page.goto(requestUrl(s.cid, device));
    await page.getByTestId('deny').click();
    await page.getByRole('button', { name: TEXT.en.mine }).click();
    await expect(page.getByTestId('it-was-me').textContent()).resolves.toMatch(/^Denied\. Nothing else happens/);
    await expect(page.getByRole('button', { name: TEXT.en.report }).count()).resolves.toBe(0);
    expect(await auditFor(w, 'push.reported', s.cid)).toEqual([]);
    expect(await auditFor(w, 'push.muted', s.cid)).toEqual([]);
    expect((await challengeAt(w, s.cid)).resolution).toMatchObject({ status: 'denied', reason: 'denied' });
    const next = await pushSignIn(w, user); // throws if the IdP made no challenge
    expect((await challengeAt(w, next.cid)).status).toBe('pending');
  });

  it('a request denied earlier (on the notification, or before a reload) can still be reported from its page, once', async () => {
    const { page } = phone;
    const { user, device } = await enrolledUser('Later Reporter');
    const s = await pushSignIn(w, user);
    await page.goto(requestUrl(s.cid, device));
    await page.getByTestId('deny').click();
    await page.getByRole('heading', { name: TEXT.en.wasItYou }).waitFor();
    await page.reload();
    await expect(page.getByTestId('request-message').textContent()).resolves.toBe('This sign-in request was already denied.');
    await page.getByRole('button', { name: TEXT.en.report }).click();
    await expect(page.getByTestId('report-result').textContent()).resolves.toMatch(/^Reported\. Pushes to your account are paused until/);
    expect(await auditFor(w, 'push.reported', s.cid)).toHaveLength(1);
    // Asked again after another reload, the IdP refuses a second report and the page says so.
    await page.reload();
    await page.getByRole('button', { name: TEXT.en.report }).click();
    await expect(page.getByTestId('report-result').textContent()).resolves.toBe('This sign-in request was already reported.');
    expect(await auditFor(w, 'push.reported', s.cid)).toHaveLength(1);
  });

  it.each(VARIANTS)('$name: the enroll view speaks the phone\'s language too', async (v) => {
    await setVariant(phone.page, v);
    await phone.page.goto(`${w.t.url}/pwa/?add=1`);
    await phone.page.getByRole('heading', { level: 1, name: v.lang === 'de' ? 'Konto hinzufügen' : 'Add account' }).waitFor();
    await capture(phone.page, 'enroll', v);
  });

  it('logged no console error', () => {
    expect(phone.errors).toEqual([]);
  });
});
