import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type CDPSession, type Page, type Worker } from 'playwright-core';

/**
 * Headless Debian Chromium for the PWA tests (../shared/STACK.md, "Browser tests"): a fresh
 * user-data-dir per launch, no network beyond what the test serves, and helpers for the parts a
 * phone would do: receive a push, tap a notification action, verify the user with WebAuthn.
 */

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM_PATH);
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Messages of console errors and uncaught page errors, in order. */
  errors: string[];
  /**
   * Chromium's own log line for each 4xx/5xx answer ("Failed to load resource: the server
   * responded with a status of …"), kept apart: tests that expect a refusal assert on it themselves.
   */
  httpErrors: string[];
  close(): Promise<void>;
}

export interface LaunchOptions {
  viewport?: { width: number; height: number };
  /** Permissions granted up front, e.g. ['notifications']. */
  permissions?: string[];
  /** Scripts run in every page before its own (e.g. a push subscription double). */
  initScripts?: string[];
  /** More Chromium flags, e.g. a fake camera. */
  args?: string[];
}

export async function launchBrowser(opts: LaunchOptions = {}): Promise<Browser> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'pwa-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS, ...(opts.args ?? [])],
    viewport: opts.viewport ?? { width: 360, height: 740 },
    serviceWorkers: 'allow',
  });
  if (opts.permissions?.length) await context.grantPermissions(opts.permissions);
  for (const script of opts.initScripts ?? []) await context.addInitScript(script);
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    ...watchConsole(context, page),
    async close() {
      await context.close().catch(() => {});
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Collects console errors and uncaught page errors of every page of `context`. */
function watchConsole(context: BrowserContext, page: Page): Pick<Browser, 'errors' | 'httpErrors'> {
  const errors: string[] = [];
  const httpErrors: string[] = [];
  const watch = (p: Page) => {
    p.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      const text = msg.text();
      (text.startsWith('Failed to load resource: the server responded with a status of') ? httpErrors : errors).push(text);
    });
    p.on('pageerror', (err) => errors.push(err.message));
  };
  watch(page);
  context.on('page', watch);
  return { errors, httpErrors };
}

export interface UserBrowsers {
  /** A fresh context (its own cookies) with one page: one person at a relying app. */
  open(opts?: { viewport?: { width: number; height: number } }): Promise<Browser>;
  close(): Promise<void>;
}

/**
 * The other side of a push sign-in: the user at the relying app and the IdP's login pages. One
 * ordinary (not persistent) Chromium per test file, a context per user, which is cheap (about
 * 0.3 s where a persistent phone context takes over 1 s); no service worker or push is needed here.
 */
export async function launchUserBrowsers(): Promise<UserBrowsers> {
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
  return {
    async open(opts = {}) {
      const context = await browser.newContext({ viewport: opts.viewport ?? { width: 360, height: 740 } });
      const page = await context.newPage();
      return { context, page, ...watchConsole(context, page), close: () => context.close().catch(() => {}) };
    },
    close: () => browser.close().catch(() => {}),
  };
}

/** Where screenshots go (gitignored): test-artifacts/screenshots/ at the project root. */
export const SCREENSHOT_DIR = fileURLToPath(new URL('../../test-artifacts/screenshots/', import.meta.url));

/** Saves a full-page PNG of `page` as <name>.png under SCREENSHOT_DIR and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  const path = screenshotPath(name);
  await page.screenshot({ path, fullPage: true, animations: 'disabled' });
  return path;
}

/**
 * A screenshot at a text size set with Page.setFontSizes (`standardPx`; 32 is 200 %). A full-page
 * capture re-applies the viewport emulation, which resets that setting: instead the page is shown in
 * a viewport as tall as itself, the size set again, the viewport captured, and both put back.
 */
export async function screenshotAtTextSize(page: Page, cdp: CDPSession, name: string, standardPx: number): Promise<string> {
  const fontSizes = { standard: standardPx, fixed: Math.round(standardPx * 13 / 16) };
  const viewport = page.viewportSize() ?? { width: 360, height: 740 };
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  await page.setViewportSize({ width: viewport.width, height: Math.max(height, viewport.height) });
  await cdp.send('Page.setFontSizes', { fontSizes });
  const path = screenshotPath(name);
  await page.screenshot({ path, animations: 'disabled' });
  await page.setViewportSize(viewport);
  await cdp.send('Page.setFontSizes', { fontSizes });
  return path;
}

/**
 * Runs in the page: words that a line break cuts in two (a word whose text spans two line boxes),
 * elements matching `whole` whose text takes more than one line, how many rows those elements
 * occupy, and the page's width.
 */
export function textLayout(page: Page, whole: string): Promise<{ brokenWords: string[]; multiLine: string[]; rows: number; scrollWidth: number }> {
  return page.evaluate((selector) => {
    const brokenWords: string[] = [];
    // A word wider than its whole line may wrap (or it would scroll sideways); any other must not.
    const fitsALine = (word: string, el: Element): boolean => {
      let block: Element = el;
      while (getComputedStyle(block).display.startsWith('inline') && block.parentElement) block = block.parentElement;
      const probe = document.createElement('span');
      // Properties, not cssText: the PWA's CSP (style-src 'self') refuses inline style text.
      probe.style.position = 'absolute';
      probe.style.visibility = 'hidden';
      probe.style.whiteSpace = 'nowrap';
      probe.textContent = word;
      el.appendChild(probe);
      const width = probe.getBoundingClientRect().width;
      probe.remove();
      const cs = getComputedStyle(block);
      return width <= block.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!el || el.closest('[hidden], .visually-hidden, script, style') || el.getBoundingClientRect().width === 0) continue;
      const text = n.textContent ?? '';
      // A word: what lies between spaces and hyphens (a break after a hyphen is a break between words).
      for (const m of text.matchAll(/[^\s-]+/g)) {
        const r = document.createRange();
        r.setStart(n, m.index!);
        r.setEnd(n, m.index! + m[0].length);
        const lines = new Set([...r.getClientRects()].filter((q) => q.width > 0).map((q) => Math.round(q.top)));
        if (lines.size > 1 && fitsALine(m[0], el)) brokenWords.push(m[0]);
      }
    }
    const els = [...document.querySelectorAll<HTMLElement>(selector)];
    const oneLine = (el: HTMLElement) => {
      const r = document.createRange();
      r.selectNodeContents(el);
      return new Set([...r.getClientRects()].filter((q) => q.width > 0).map((q) => Math.round(q.top))).size <= 1;
    };
    return {
      brokenWords,
      multiLine: els.filter((el) => !oneLine(el)).map((el) => el.textContent ?? ''),
      rows: new Set(els.map((el) => Math.round(el.getBoundingClientRect().top))).size,
      scrollWidth: document.documentElement.scrollWidth,
    };
  }, whole);
}

/** Where the screenshot called `name` is kept (the folder is made now). */
export function screenshotPath(name: string): string {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return join(SCREENSHOT_DIR, `${name}.png`);
}

const ROOT = new URL('../../', import.meta.url);

/** `npm test` builds the PWA first; a lone jest run on a fresh checkout builds it here. */
export function ensurePwaBuilt(): void {
  if (existsSync(new URL('pwa/dist/sw.js', ROOT))) return;
  execFileSync(process.execPath, ['scripts/build-pwa.mjs', '--no-check'], { cwd: ROOT, stdio: 'inherit' });
}

/** Waits until the page is controlled by an activated service worker. */
export async function waitForController(page: Page, timeoutMs = 20_000): Promise<void> {
  await page.waitForFunction(() => navigator.serviceWorker.controller?.state === 'activated', null, { timeout: timeoutMs });
}

/** The running service worker whose registration scope ends with `scopeSuffix`. */
export async function serviceWorker(context: BrowserContext, scopeSuffix = '/pwa/', timeoutMs = 10_000): Promise<Worker> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const worker of context.serviceWorkers()) {
      const scope = await worker.evaluate(() => (self as unknown as ServiceWorkerGlobalScope).registration.scope).catch(() => '');
      if (scope.endsWith(scopeSuffix)) {
        // Chromium reconciles its notification database with what is on screen on the first
        // getNotifications() after start; when that races with the first showNotification(), the
        // new notification is dropped from the list (about one run in four here). Settle it now.
        await worker.evaluate(() => (self as unknown as ServiceWorkerGlobalScope).registration.getNotifications());
        return worker;
      }
    }
    if (Date.now() > deadline) throw new Error(`no service worker with scope *${scopeSuffix}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Delivers `data` to the worker's push event over the DevTools protocol, as a push service would
 * after decryption. `registrationId` comes from ServiceWorker.workerRegistrationUpdated.
 */
export async function pushSession(page: Page): Promise<{ cdp: CDPSession; registrationId(scope: string): Promise<string>; deliver(origin: string, scope: string, data: unknown): Promise<void> }> {
  const cdp = await page.context().newCDPSession(page);
  const registrations = new Map<string, string>();
  cdp.on('ServiceWorker.workerRegistrationUpdated', (ev) => {
    for (const reg of ev.registrations) if (!reg.isDeleted) registrations.set(reg.scopeURL, reg.registrationId);
  });
  await cdp.send('ServiceWorker.enable');
  const registrationId = async (scope: string) => {
    const deadline = Date.now() + 5000;
    while (!registrations.has(scope)) {
      if (Date.now() > deadline) throw new Error(`no registration for ${scope}; known: ${[...registrations.keys()].join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return registrations.get(scope)!;
  };
  return {
    cdp,
    registrationId,
    async deliver(origin, scope, data) {
      await cdp.send('ServiceWorker.deliverPushMessage', {
        origin: origin.endsWith('/') ? origin : `${origin}/`,
        registrationId: await registrationId(scope),
        data: typeof data === 'string' ? data : JSON.stringify(data),
      });
    },
  };
}

/**
 * Delivers a push and waits until the worker shows a notification `shown` accepts; returns them all.
 * Under a loaded CI run a DevTools push sometimes ends in no notification at all (seen about once
 * in three full runs, in whichever test came first after the app page loaded); a push service
 * would not resend, but the test is about what the worker shows for a push it gets, so a push that
 * shows nothing in 8 s is delivered once more (the same tag: a second one replaces the first).
 */
export async function deliverUntilShown(
  push: { deliver(origin: string, scope: string, data: unknown): Promise<void> },
  worker: Worker, origin: string, data: unknown, shown: (n: ShownNotification) => boolean,
): Promise<ShownNotification[]> {
  for (let attempt = 1; ; attempt++) {
    await push.deliver(origin, `${origin}/pwa/`, data);
    const deadline = Date.now() + (attempt === 1 ? 8_000 : 15_000);
    for (;;) {
      const list = await notifications(worker);
      if (list.some(shown)) return list;
      if (Date.now() > deadline) {
        if (attempt === 2) throw new Error(`no notification shown for a push delivered twice; showing: ${JSON.stringify(list)}`);
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export interface ShownNotification {
  title: string;
  body: string;
  tag: string;
  actions: { action: string; title: string }[];
  data: unknown;
}

/** What the worker's registration shows now. */
export async function notifications(worker: Worker): Promise<ShownNotification[]> {
  return worker.evaluate(async () => {
    const sw = self as unknown as ServiceWorkerGlobalScope;
    const list = await sw.registration.getNotifications();
    return list.map((n) => ({
      title: n.title,
      body: n.body,
      tag: n.tag,
      actions: ((n as Notification & { actions?: { action: string; title: string }[] }).actions ?? []).map((a) => ({ action: a.action, title: a.title })),
      data: n.data as unknown,
    }));
  });
}

/**
 * Keeps a reference to the notification shown with this tag, as the user's thumb is on it: a later
 * clickNotification taps it even if the worker or the app has closed it meanwhile (a request
 * answered elsewhere is closed within seconds; the tap that comes first is the case under test).
 */
export async function holdNotification(worker: Worker, tag: string): Promise<void> {
  await worker.evaluate(async (tag) => {
    const sw = self as unknown as ServiceWorkerGlobalScope & { heldNotifications?: Record<string, Notification> };
    const [notification] = await sw.registration.getNotifications({ tag });
    if (!notification) throw new Error(`no notification with tag ${tag}`);
    (sw.heldNotifications ??= {})[tag] = notification;
  }, tag);
}

/**
 * Taps a shown notification (by tag; or the one held by holdNotification) or one of its actions:
 * dispatches notificationclick in the worker and waits for the handler's waitUntil promises.
 */
export async function clickNotification(worker: Worker, tag: string, action = ''): Promise<void> {
  await worker.evaluate(
    async ({ tag, action }) => {
      const sw = self as unknown as ServiceWorkerGlobalScope & { heldNotifications?: Record<string, Notification> };
      const [shown] = await sw.registration.getNotifications({ tag });
      const notification = shown ?? sw.heldNotifications?.[tag];
      if (!notification) throw new Error(`no notification with tag ${tag}`);
      const pending: Promise<unknown>[] = [];
      const event = new NotificationEvent('notificationclick', { notification, action });
      const original = event.waitUntil.bind(event);
      event.waitUntil = (p: Promise<unknown>) => {
        pending.push(p);
        try {
          original(p);
        } catch {
          // Outside a real dispatch waitUntil may throw; the promise is awaited below anyway.
        }
      };
      sw.dispatchEvent(event);
      await Promise.allSettled(pending);
    },
    { tag, action },
  );
}

/** A CTAP2 platform authenticator with user verification (STACK.md), for 'webauthn' accounts. */
export async function virtualAuthenticator(page: Page): Promise<{ cdp: CDPSession; authenticatorId: string; setUserVerified(ok: boolean): Promise<void> }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return {
    cdp,
    authenticatorId,
    setUserVerified: async (isUserVerified) => {
      await cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified });
    },
  };
}

/**
 * An init script that replaces PushManager.subscribe/getSubscription with a double: subscribe()
 * returns `subscription` (as a push-service double would make it), or rejects when it is null.
 * Without it, subscribe() never settles on these machines.
 */
export function pushSubscriptionDouble(subscription: { endpoint: string; keys: { p256dh: string; auth: string } } | null): string {
  return `(() => {
    if (typeof PushManager === 'undefined') return;
    const made = ${JSON.stringify(subscription)};
    const STORE = 'push-subscription-double';
    const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)));
    const unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0)).buffer;
    const build = (keyB64) => ({
      endpoint: made.endpoint,
      expirationTime: null,
      options: { userVisibleOnly: true, applicationServerKey: unb64(keyB64) },
      toJSON() { return { endpoint: made.endpoint, expirationTime: null, keys: made.keys }; },
      unsubscribe: async () => { localStorage.removeItem(STORE); return true; },
      getKey: () => null,
    });
    PushManager.prototype.subscribe = async function (options) {
      if (!made) throw new DOMException('push service unavailable (test double)', 'AbortError');
      const key = options.applicationServerKey;
      const bytes = key instanceof ArrayBuffer ? key : key.buffer.slice(key.byteOffset, key.byteOffset + key.byteLength);
      localStorage.setItem(STORE, b64(bytes));
      return build(b64(bytes));
    };
    PushManager.prototype.getSubscription = async function () {
      const key = localStorage.getItem(STORE);
      return made && key ? build(key) : null;
    };
  })();`;
}
