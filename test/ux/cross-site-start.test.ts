import { afterAll, beforeAll, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import type { Page } from 'playwright-core';
import { launchUserBrowsers, type UserBrowsers } from '../support/browser.js';
import { testRp } from '../support/idp.js';
import { PushWorld } from '../support/push-world.js';

/**
 * A sign-in started by a cross-site form POST to /auth (Entra ID's External MFA does it; so can any
 * page) carries no SameSite=Lax cookie. Red-team (pages): the browser binding made a new key and set
 * it over the user's, so every sign-in under way in that browser stopped, and the waiting page,
 * retrying the refusals, never finished after the phone approved. Now the cross-site start gets a
 * key of its own, the user's waiting page finishes, and a waiting page refused for good shows why.
 */
const CALLBACK = 'http://127.0.0.1:1/cb';
let w: PushWorld;
let users: UserBrowsers;
beforeAll(async () => {
  w = await PushWorld.start({
    login: { numberMatching: false },
    idp: { storage: 'postgres', idp: { longPollMs: 3000 } },
    clients: [testRp({ client_id: 'app-b', client_name: 'App B', client_uri: 'http://127.0.0.1:1/b', login: { consent: 'implicit', numberMatching: false } })],
  });
  users = await launchUserBrowsers();
}, 150_000);
afterAll(async () => { await users?.close(); await w?.close(); });

async function authParams() {
  const config = await oidc.discovery(new URL(w.t.url), 'app-b', 'unused', undefined, { execute: [oidc.allowInsecureRequests] });
  return new URL(oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', state: oidc.randomState(), code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256' }).href).searchParams;
}

/** App B's sign-in in this tab up to the waiting page (password, then "Send a push"). */
async function toWaitingPage(page: Page): Promise<void> {
  await page.goto(`${w.t.url}/auth?${await authParams()}`);
  await page.locator('#username').fill('alice'); await page.locator('#password').fill(PushWorld.password);
  await page.locator('form[action$="/login"] button[type=submit]').click();
  await page.locator('#send-push').click(); await page.waitForURL(/\/wait$/);
}

it('another site\'s auto-POST to /auth leaves the sign-in under way alone: its waiting page finishes when the phone approves', async () => {
  const { phone } = await w.enrollPhone();
  const b = await users.open();
  try {
    const t1 = b.page;
    await toWaitingPage(t1);
    const key = async (name: string) => (await b.context.cookies()).find((c) => c.name === name)?.value;
    const before = await key('browser');
    expect(before).toBeTruthy();

    const fields = [...(await authParams()).entries()].map(([k, v]) => `<input type="hidden" name="${k}" value="${v}">`).join('');
    await b.context.route('http://elsewhere.test/**', (r) => r.fulfill({ status: 200, contentType: 'text/html', body: `<form id=f method=post action="${w.t.url}/auth">${fields}</form><script>f.submit()</script>` }));
    const t2 = await b.context.newPage();
    await t2.goto('http://elsewhere.test/');
    await t2.waitForURL(/\/interaction\//);
    expect(await key('browser')).toBe(before); // the user's key stays
    expect((await b.context.cookies()).some((c) => c.name.startsWith('browser-x.'))).toBe(true); // the cross-site start has its own
    await t2.locator('#username').waitFor(); // and its login page is served to this browser

    // The app's callback (port 1: Chromium refuses to load it, but the navigation to it is the answer).
    const toApp = new Promise<string>((resolve) => t1.on('request', (r) => { if (r.url().startsWith(CALLBACK)) resolve(r.url()); }));
    const [c] = await phone.pending();
    expect((await phone.respond(c!.id, 'approve')).status).toBe(200);
    expect(await Promise.race([toApp, new Promise((r) => setTimeout(() => r('no navigation to the app'), 15_000))])).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
  } finally { await b.close(); }
}, 100_000);

it('a waiting page whose status is refused for good (its sign-in ended elsewhere) stops waiting and says so', async () => {
  await w.enrollPhone();
  const b = await users.open();
  try {
    const t1 = b.page;
    await toWaitingPage(t1);
    // The browser loses its key (cleared cookies in another tab, say): the status is refused from now on.
    const others = (await b.context.cookies()).filter((c) => c.name !== 'browser');
    await b.context.clearCookies();
    await b.context.addCookies(others);
    await t1.waitForFunction(() => document.querySelector('#error-description') !== null, undefined, { timeout: 15_000 });
    expect(await t1.locator('#error-description').textContent()).toContain('belongs to another sign-in');
  } finally { await b.close(); }
}, 100_000);

/** Another site's page that auto-POSTs app B's authorization request to /auth, opened in a new tab. */
async function crossSiteStart(b: Awaited<ReturnType<UserBrowsers['open']>>, site: string): Promise<Page> {
  const fields = [...(await authParams()).entries()].map(([k, v]) => `<input type="hidden" name="${k}" value="${v}">`).join('');
  await b.context.route(`http://${site}/**`, (r) => r.fulfill({ status: 200, contentType: 'text/html', body: `<form id=f method=post action="${w.t.url}/auth">${fields}</form><script>f.submit()</script>` }));
  const tab = await b.context.newPage();
  await tab.goto(`http://${site}/`);
  await tab.waitForURL(/\/interaction\//);
  return tab;
}

// Red-team (broker round): every cross-site start shared one `browser-x` cookie, so another site's
// auto-POST replaced the key of an Entra MFA sign-in under way, and its approved push finished nothing.
it('a sign-in started cross-site (as Entra ID starts one) still finishes after another site auto-POSTs to /auth in the same browser', async () => {
  const { phone } = await w.enrollPhone();
  const b = await users.open();
  try {
    const entraLike = await crossSiteStart(b, 'entra.test');
    await entraLike.locator('#username').fill('alice'); await entraLike.locator('#password').fill(PushWorld.password);
    await entraLike.locator('form[action$="/login"] button[type=submit]').click();
    await entraLike.locator('#send-push').click(); await entraLike.waitForURL(/\/wait$/);

    const other = await crossSiteStart(b, 'elsewhere.test');
    await other.locator('#username').waitFor(); // its own sign-in, served to this browser

    const toApp = new Promise<string>((resolve) => entraLike.on('request', (r) => { if (r.url().startsWith(CALLBACK)) resolve(r.url()); }));
    const [c] = await phone.pending();
    expect((await phone.respond(c!.id, 'approve')).status).toBe(200);
    expect(await Promise.race([toApp, new Promise((r) => setTimeout(() => r('no navigation to the app'), 15_000))])).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
    expect((await b.context.cookies()).filter((k) => /^browser-x\.[\w-]{12}$/.test(k.name))).toHaveLength(2); // one per cross-site start
  } finally { await b.close(); }
}, 100_000);
