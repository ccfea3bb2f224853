import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { movableClock } from '../signin/helpers.js';
import { FormBrowser } from '../support/web-browser.js';
import { newUser, PASSWORD, startSessionWorld, type SessionWorld } from './session-helpers.js';

/**
 * Audit item 2 (/account): an attacker with the password signs in to /account before the user has
 * a phone; once the user enrolls one, that old session must not enroll a second phone (nor reach
 * the page at all). Enrolling or revoking needs a sign-in with the second factor no older than
 * 5 minutes (NIST SP 800-63B 6.1.2.1); only the account's very first device may come from a
 * password sign-in.
 */
describe('/account: enrolling or revoking needs a recent sign-in with the second factor', () => {
  const clock = movableClock();
  let w: SessionWorld;
  beforeAll(async () => { w = await startSessionWorld({ idp: { now: clock.now } }); });
  afterAll(() => w.close());

  const MIN = 60_000;
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const codesOf = async (accountId: string) =>
    Number((await w.t.idp.db.query<{ n: string }>('SELECT count(*) AS n FROM enrollment_codes WHERE account_id = $1', [accountId]))[0]!.n);
  const csrfOf = (html: string) => html.match(/name="csrf" value="([^"]+)"/)![1]!;
  const post = (browser: FormBrowser, path: string, csrf: string) => browser.request(path, { method: 'POST', headers: form, body: `csrf=${csrf}` });
  const enrollPhone = async (accountId: string) => {
    const offer = await w.t.idp.deviceService.issueEnrollment(accountId, 'test');
    return SimulatedAuthenticator.enroll(w.t.url, offer.code, { push: null, now: clock.now });
  };
  /** Password, then the phone's passcode when a second factor is asked. */
  const signInToAccount = async (browser: FormBrowser, username: string, phone?: SimulatedAuthenticator, start = '/account') => {
    const login = await browser.go(start);
    expect(login.body).toContain('name="password"');
    let page = await browser.submit(login.body, /\/login$/, { username, password: PASSWORD });
    if (phone) {
      const passcode = await browser.go(page.url.replace(/second-factor$/, 'passcode'));
      page = await browser.submit(passcode.body, /\/passcode$/, { passcode: phone.currentTotp() });
    }
    expect(page.url).toBe(`${w.t.url}/account`);
    return page;
  };

  it("an attacker's password session from before the user's first phone cannot enroll a second one", async () => {
    const accountId = await newUser(w, 'victim');
    const attacker = new FormBrowser(w.t.url);
    const page = await signInToAccount(attacker, 'victim');
    const csrf = csrfOf(page.body);

    await enrollPhone(accountId); // the user enrolls their phone
    const before = await codesOf(accountId);
    const enroll = await post(attacker, '/account/enroll', csrf);
    expect(enroll.status).toBe(401);
    expect(await codesOf(accountId)).toBe(before);
    // Nor does the old session open the page; and the password alone no longer signs in.
    const again = await attacker.go('/account');
    expect(again.body).toContain('name="password"');
    const next = await attacker.submit(again.body, /\/login$/, { username: 'victim', password: PASSWORD });
    expect(next.url).toMatch(/\/second-factor$/);
  });

  it('a second-factor sign-in older than 5 minutes must sign in again before enrolling or revoking', async () => {
    const accountId = await newUser(w, 'owner');
    const phone = await enrollPhone(accountId);
    const browser = new FormBrowser(w.t.url);
    let page = await signInToAccount(browser, 'owner', phone);
    clock.advance(6 * MIN);

    const codes = await codesOf(accountId);
    const enroll = await post(browser, '/account/enroll', csrfOf(page.body));
    expect(enroll.status).toBe(303);
    expect(enroll.headers.get('location')).toBe('/account/login?reauth=1');
    const revoke = await post(browser, `/account/devices/${phone.deviceId}/revoke`, csrfOf(page.body));
    expect(revoke.headers.get('location')).toBe('/account/login?reauth=1');
    expect(await codesOf(accountId)).toBe(codes);
    expect((await w.t.idp.devices.get(phone.deviceId))!.status).toBe('active');

    // The new sign-in is asked for even though the SSO session holds both factors (prompt=login).
    page = await signInToAccount(browser, 'owner', phone, '/account/login?reauth=1');
    const offer = await browser.submit(page.body, '/account/enroll', {});
    expect(offer.res.status).toBe(200);
    expect(offer.body).toMatch(/id="enroll-code">[^<]+</);
    expect(await codesOf(accountId)).toBe(codes + 1);
  });

  it("the first phone may follow a password sign-in, but a recent one", async () => {
    const accountId = await newUser(w, 'newcomer');
    const browser = new FormBrowser(w.t.url);
    const page = await signInToAccount(browser, 'newcomer');
    clock.advance(6 * MIN);
    expect((await post(browser, '/account/enroll', csrfOf(page.body))).headers.get('location')).toBe('/account/login?reauth=1');
    const fresh = await signInToAccount(browser, 'newcomer', undefined, '/account/login?reauth=1');
    expect((await browser.submit(fresh.body, '/account/enroll', {})).body).toMatch(/id="enroll-code">[^<]+</);
    expect(await codesOf(accountId)).toBe(1);
  });
});
