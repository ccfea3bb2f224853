import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { launchBrowser, type Browser } from '../support/browser.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import type { PushWorld } from '../support/push-world.js';
import { checkPage } from '../selfservice/page-checks.js';
import { answered, challengeAt, enrollFromLink, finishAtRp, newUser, pushSignIn, startPwaWorld, type Enrolled } from './world.js';

/**
 * Verified Push, per app (login policy `verifiedPush`): the phone is shown no choices and the user
 * types the number on the sign-in screen. What the phone can learn from the device API, and what
 * the IdP decides, are asserted; the number is never offered to the phone.
 */
let w: PushWorld;
let phone: Browser;
let device: Enrolled;

beforeAll(async () => {
  w = await startPwaWorld({ login: { numberMatching: true, verifiedPush: true } });
  phone = await launchBrowser();
  device = await enrollFromLink(phone.page, w);
}, 60_000);
afterAll(async () => {
  await phone?.close();
  await w?.close();
});

const requestUrl = (cid: string, deviceId = device.deviceId) => `${w.t.url}/pwa/?${new URLSearchParams({ request: cid, issuer: w.t.url, device: deviceId })}`;

describe('Verified Push', () => {
  it('the device API gives no choices, says verifiedPush, and only the typed right number approves', async () => {
    const user = await newUser(w);
    const tablet = await SimulatedAuthenticator.enroll(w.t.url, (await w.t.idp.deviceService.issueEnrollment(user.id, 'test')).code);
    const s = await pushSignIn(w, user);
    expect(s.number).toEqual(expect.any(Number));
    const view = await tablet.challenge(s.cid);
    expect(view).toMatchObject({ numberMatching: true, numberChoices: null, verifiedPush: true });
    expect(JSON.stringify(view)).not.toMatch(new RegExp(`\\b${s.number}\\b`));
    expect((await tablet.respond(s.cid, 'approve', { number: s.number! })).body).toEqual({ status: 'approved' });
    expect((await finishAtRp(w, s)).sub).toBe(user.id);
  });

  it('the phone asks to type the number: a wrong one denies, the right one approves', async () => {
    const { page } = phone;
    const wrongTry = await pushSignIn(w);
    await page.goto(requestUrl(wrongTry.cid));
    await page.getByTestId('typed-number').waitFor();
    await expect(page.getByRole('group', { name: 'Choose the number shown on the sign-in screen' }).count()).resolves.toBe(0);
    await expect(page.getByTestId('approve').isDisabled()).resolves.toBe(true);
    const { violations } = await checkPage(page, 'pwa-request-verified-push');
    expect(violations).toEqual([]);
    const wrong = String(((wrongTry.number! - 10 + 1) % 90) + 10);
    await page.getByLabel('Type the number shown on the sign-in screen').fill(wrong);
    await page.getByTestId('approve').click();
    await expect(page.getByTestId('request-result').textContent()).resolves.toMatch(/not the one on the sign-in screen/);
    expect(await answered(wrongTry)).toMatchObject({ status: 'denied', reason: 'wrong_number' });

    const s = await pushSignIn(w);
    await page.goto(requestUrl(s.cid));
    await page.getByTestId('typed-number').fill(String(s.number));
    await page.getByTestId('typed-number').press('Enter');
    await expect(page.getByTestId('request-result').textContent()).resolves.toMatch(/^Approved/);
    expect((await challengeAt(w, s.cid)).resolution).toMatchObject({ status: 'approved', deviceId: device.deviceId });
  });
});
