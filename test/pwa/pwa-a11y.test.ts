import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';
import { launchBrowser, screenshotAtTextSize, textLayout, type Browser } from '../support/browser.js';
import type { PushWorld } from '../support/push-world.js';
import { enrollFromLink, newUser, pushSignIn, startPwaWorld, type Enrolled, type User } from './world.js';

/**
 * What a screen-reader or keyboard user, or someone on a small or dim screen, meets: one h1 per
 * view, named controls, labelled fields, WCAG AA contrast in light and dark mode, no sideways
 * scrolling at 360 px, and a request that can be answered with the keyboard alone.
 */

let w: PushWorld;
let phone: Browser;
let user: User;
let device: Enrolled;

beforeAll(async () => {
  w = await startPwaWorld(); // the test RP asks for number matching
  phone = await launchBrowser({ viewport: { width: 360, height: 740 } });
  // A long name must wrap on a small screen (the home card and the request page show it).
  user = await newUser(w, 'Maximiliana Theodora Featherstonehaugh-Cholmondeley of Accounts Payable');
  device = await enrollFromLink(phone.page, w, { user });
}, 60_000);

afterAll(async () => {
  await phone?.close();
  await w?.close();
});

interface Audit {
  h1: number;
  unnamedButtons: string[];
  unlabelledInputs: string[];
  lowContrast: string[];
  scrollWidth: number;
}

/** Runs in the page: structure, names, and WCAG 2.x contrast of every visible text. */
function audit(page: Page): Promise<Audit> {
  return page.evaluate(() => {
    const parse = (c: string): number[] => (c.match(/[\d.]+/g) ?? []).map(Number);
    const lum = ([r, g, b]: number[]) => {
      const f = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      return 0.2126 * f(r!) + 0.7152 * f(g!) + 0.0722 * f(b!);
    };
    const background = (el: Element | null): number[] => {
      for (let e = el; e; e = e.parentElement) {
        const c = parse(getComputedStyle(e).backgroundColor);
        if (c.length >= 3 && (c[3] === undefined || c[3] > 0.5)) return c;
      }
      return parse(getComputedStyle(document.body).backgroundColor);
    };
    const visible = (el: Element) => {
      const r = el.getBoundingClientRect();
      return r.width > 1 && r.height > 1 && getComputedStyle(el).visibility !== 'hidden' && !el.closest('[aria-hidden="true"], .visually-hidden, [hidden]');
    };
    const lowContrast: string[] = [];
    for (const el of document.querySelectorAll('body *')) {
      const hasText = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent!.trim());
      if (!hasText || !visible(el) || el.closest('button:disabled')) continue;
      const style = getComputedStyle(el);
      const fg = parse(style.color);
      const [l1, l2] = [lum(fg), lum(background(el))].sort((a, b) => b - a);
      const ratio = (l1! + 0.05) / (l2! + 0.05);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) lowContrast.push(`${el.tagName.toLowerCase()} "${el.textContent!.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
    }
    const name = (el: Element) => (el.getAttribute('aria-label') ?? el.textContent ?? '').trim();
    return {
      h1: document.querySelectorAll('h1').length,
      unnamedButtons: [...document.querySelectorAll('button')].filter((b) => visible(b) && !name(b)).map((b) => b.outerHTML.slice(0, 60)),
      unlabelledInputs: [...document.querySelectorAll('input')]
        .filter((i) => visible(i) && i.labels?.length === 0 && !i.getAttribute('aria-label'))
        .map((i) => i.outerHTML.slice(0, 60)),
      lowContrast,
      scrollWidth: document.documentElement.scrollWidth,
    };
  });
}

const requestUrl = (cid: string) => `${w.t.url}/pwa/?${new URLSearchParams({ request: cid, issuer: w.t.url, device: device.deviceId })}`;

/** The app's three views; the request one for a real sign-in at the IdP, with number matching. */
const views = async () => ({
  home: `${w.t.url}/pwa/`,
  enroll: `${w.t.url}/pwa/?add=1`,
  request: requestUrl((await pushSignIn(w, user)).cid),
});

describe('accessibility', () => {
  for (const scheme of ['light', 'dark'] as const) {
    it(`every view has one h1, named controls, labelled fields, AA contrast and no sideways scroll (${scheme})`, async () => {
      const { page } = phone;
      await page.emulateMedia({ colorScheme: scheme });
      for (const [view, url] of Object.entries(await views())) {
        await page.goto(url);
        await page.locator('h1').waitFor();
        if (view === 'request') await page.getByTestId('deny').waitFor();
        if (view === 'home') await page.locator('[data-code]').waitFor();
        const result = await audit(page);
        expect({ view, ...result }).toEqual({ view, h1: 1, unnamedButtons: [], unlabelledInputs: [], lowContrast: [], scrollWidth: 360 });
      }
    });
  }

  it('moves focus to the new view’s heading on navigation', async () => {
    const { page } = phone;
    await page.goto(`${w.t.url}/pwa/`);
    await page.getByTestId('add-account').click();
    await expect(page.evaluate(() => document.activeElement?.tagName + ':' + document.activeElement?.textContent)).resolves.toBe('H1:Add account');
  });

  it('a request can be answered with the keyboard alone, the numbers coming before the answers', async () => {
    const { page } = phone;
    const s = await pushSignIn(w, user);
    const choices = (await w.t.idp.challenges.get(s.cid))!.numberChoices!;
    await page.goto(requestUrl(s.cid));
    await page.getByTestId(`number-${s.number}`).waitFor();
    const order: string[] = [];
    for (let i = 0; i < 5; i++) {
      await page.keyboard.press('Tab');
      order.push(await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.testid ?? ''));
    }
    // Under number matching there is no separate Approve: the number is the answer.
    expect(order).toEqual([...choices.map((n) => `number-${n}`), 'deny', 'back']);
    await expect(page.getByTestId('approve').count()).resolves.toBe(0);
    // Tab to the right number and press Enter: one key approves.
    await page.getByTestId(`number-${s.number}`).focus();
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('request-result').textContent()).resolves.toMatch(/^Approved/);
    expect((await w.t.idp.challenges.get(s.cid))!.resolution).toMatchObject({ status: 'approved', deviceId: device.deviceId });
  });

  it('at 200 % text size on a 360 px screen: the numbers wrap, no word breaks mid-word, the passcode stays on one line', async () => {
    const { page } = phone;
    const cdp = await phone.context.newCDPSession(page);
    // Chromium's text size setting (the PWA sizes everything in rem): 32 px is 200 %.
    await cdp.send('Page.setFontSizes', { fontSizes: { standard: 32, fixed: 26 } });
    try {
      for (const scheme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: scheme });
        const s = await pushSignIn(w, user);
        await page.goto(requestUrl(s.cid));
        await page.getByTestId(`number-${s.number}`).waitFor();
        expect(await page.evaluate(() => getComputedStyle(document.documentElement).fontSize)).toBe('32px');
        const request = await textLayout(page, '.number');
        expect(request.brokenWords).toEqual([]);
        expect(request.scrollWidth).toBe(360);
        // Three numbers at 200 % do not fit one 360 px row: they wrap onto rows, each number whole.
        expect(request.rows).toBeGreaterThan(1);
        expect(request.multiLine).toEqual([]);
        expect((await audit(page)).lowContrast).toEqual([]);
        await screenshotAtTextSize(page, cdp, `pwa-request-text200-${scheme}`, 32);

        await page.goto(`${w.t.url}/pwa/`);
        await page.locator('[data-code]').waitFor();
        const home = await textLayout(page, '[data-testid="code"]');
        expect(home.brokenWords).toEqual([]);
        expect(home.scrollWidth).toBe(360);
        expect(home.multiLine).toEqual([]);
        await screenshotAtTextSize(page, cdp, `pwa-home-text200-${scheme}`, 32);
      }
    } finally {
      await cdp.send('Page.setFontSizes', { fontSizes: { standard: 16, fixed: 13 } });
      await cdp.detach();
    }
  });

  it('logged no console error', () => {
    expect(phone.errors).toEqual([]);
  });
});
