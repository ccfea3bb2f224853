import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { FormBrowser } from '../support/web-browser.js';
import { newUser, PASSWORD, startSessionWorld, type SessionWorld } from './session-helpers.js';

/**
 * Red-team: with FIRST_DEVICE=self (the default) whoever has a password and gets to /account
 * before the user enrolls their own phone, enrolling theirs, then passes the second factor
 * everywhere (README says so). FIRST_DEVICE=admin closes that: an account's first authenticator
 * comes only with an administrator's enrollment code; later ones need the second factor as ever.
 */
describe('FIRST_DEVICE=admin: the password alone never sets up an authenticator', () => {
  let w: SessionWorld;
  beforeAll(async () => { w = await startSessionWorld({ env: { FIRST_DEVICE: 'admin' } }); });
  afterAll(() => w.close());

  const codesOf = async (accountId: string) =>
    Number((await w.t.idp.db.query<{ n: string }>('SELECT count(*) AS n FROM enrollment_codes WHERE account_id = $1', [accountId]))[0]!.n);
  const csrfOf = (html: string) => html.match(/name="csrf" value="([^"]+)"/)![1]!;
  const enroll = (browser: FormBrowser, csrf: string) =>
    browser.request('/account/enroll', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${csrf}` });

  it('a password sign-in at /account offers no enrollment and is refused one; the admin\'s code works, then the phone adds more', async () => {
    const accountId = await newUser(w, 'newcomer');
    const attacker = new FormBrowser(w.t.url);
    const login = await attacker.go('/account');
    const page = await attacker.submit(login.body, /\/login$/, { username: 'newcomer', password: PASSWORD });
    expect(page.url).toBe(`${w.t.url}/account`);
    expect(page.body).toContain('id="first-by-admin"');
    expect(page.body).not.toContain('id="add-device"');
    const refused = await enroll(attacker, csrfOf(page.body));
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('enrollment code from your administrator');
    expect(await codesOf(accountId)).toBe(0);

    // The administrator's code sets up the first phone; with it, /account adds another.
    const offer = await w.t.idp.deviceService.issueEnrollment(accountId, 'admin');
    const phone = await SimulatedAuthenticator.enroll(w.t.url, offer.code, { push: null });
    const owner = new FormBrowser(w.t.url);
    const again = await owner.go('/account');
    const second = await owner.submit(again.body, /\/login$/, { username: 'newcomer', password: PASSWORD });
    const passcode = await owner.go(second.url.replace(/second-factor$/, 'passcode'));
    const inside = await owner.submit(passcode.body, /\/passcode$/, { passcode: phone.currentTotp() });
    expect(inside.url).toBe(`${w.t.url}/account`);
    expect(inside.body).toContain('id="add-device"');
    const before = await codesOf(accountId);
    expect((await enroll(owner, csrfOf(inside.body))).status).toBe(200);
    expect(await codesOf(accountId)).toBe(before + 1);
  });
});
