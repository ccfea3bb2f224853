import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { launchUserBrowsers, type UserBrowsers } from '../support/browser.js';
import { PushWorld } from '../support/push-world.js';

/**
 * /account opened in two tabs of one browser (real Chromium): its own sign-in kept one transaction
 * per browser, so the second tab's visit replaced the first's, and the first tab, password and phone
 * done, ended on "Sign-in failed: this is not the answer to the sign-in under way here" (red-team,
 * pages). Each tab's sign-in now finishes into the account page.
 */
let w: PushWorld;
let users: UserBrowsers;
beforeAll(async () => {
  w = await PushWorld.start({ idp: { storage: 'postgres' } });
  users = await launchUserBrowsers();
}, 150_000);
afterAll(async () => { await users?.close(); await w?.close(); });

it('the tab opened first signs in with password and phone and lands in the account page; so does the other', async () => {
  const { phone } = await w.enrollPhone();
  const b = await users.open();
  const t1 = b.page; const t2 = await b.context.newPage();
  try {
    await t1.goto(`${w.t.url}/account`); await t1.locator('#username').waitFor();
    await t2.goto(`${w.t.url}/account`); await t2.locator('#username').waitFor();
    await t1.locator('#username').fill('alice'); await t1.locator('#password').fill(PushWorld.password);
    await t1.locator('form[action$="/login"] button[type=submit]').click();
    await t1.locator('#send-push').click(); await t1.waitForURL(/\/wait/);
    const n = Number(await t1.locator('#match-number').textContent());
    const [c] = await phone.pending();
    expect((await phone.respond(c!.id, 'approve', { number: n })).status).toBe(200);
    await t1.waitForURL(`${w.t.url}/account`);
    expect((await t1.locator('h1').textContent())?.trim()).toBe('Your account');
    // The second tab's login page: signed in by now, a reload of /account there finishes too.
    await t2.goto(`${w.t.url}/account`);
    await t2.waitForURL(`${w.t.url}/account`);
    expect((await t2.locator('h1').textContent())?.trim()).toBe('Your account');
  } finally { await b.close(); }
}, 100_000);
