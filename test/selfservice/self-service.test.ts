import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { hashPassword } from '../../src/accounts/passwords.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { PushWorld } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';

/** The self-service page: a user signs in, enrolls a phone from the QR/link, renames and revokes it. */
describe('self-service page', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await PushWorld.start(); });
  afterAll(() => w.close());

  const signInToAccount = async (username = 'alice', browser = new FormBrowser(w.t.url)) => {
    const login = await browser.go('/account');
    expect(login.body).toContain('name="password"');
    expect(login.body).toContain('Your account');
    return { browser, next: await browser.submit(login.body, /\/login$/, { username, password: PushWorld.password }) };
  };
  /** A user of their own, with no device (the first test enrolls and revokes alice's). */
  const newUser = async (username: string) => {
    await w.t.idp.accounts.create({ username, passwordHash: await hashPassword(PushWorld.password) });
    return username;
  };

  it('enrolls, renames and revokes a phone; a second phone needs the first one to get in', async () => {
    const { browser, next: page } = await signInToAccount();
    expect(page.url).toBe(`${w.t.url}/account`);
    expect(page.body).toContain('You have no authenticator yet');

    const offer = await browser.submit(page.body, '/account/enroll', {});
    expect(offer.body).toContain('<svg');
    const code = offer.body.match(/id="enroll-code">([^<]+)</)![1]!;
    const link = offer.body.match(/id="enroll-link" href="([^"]+)"/)![1]!.replace(/&amp;/g, '&');
    expect(new URL(link).searchParams.get('enroll')).toBe(code);
    const phone = await SimulatedAuthenticator.enroll(w.t.url, code, { name: 'Pixel' });
    await expect(SimulatedAuthenticator.enroll(w.t.url, code, { name: 'Again' })).rejects.toMatchObject({ status: 400 });

    // With a phone enrolled, the password-only session no longer opens the page, and the password
    // alone no longer signs in (no enrolling behind the user's back): this browser signs in again.
    const listed = await browser.go('/account');
    expect(listed.body).toContain('name="password"');
    const second = await browser.submit(listed.body, /\/login$/, { username: 'alice', password: PushWorld.password });
    expect(second.url).toMatch(/\/second-factor$/);
    const passcode = await browser.go(second.url.replace(/second-factor$/, 'passcode'));
    const inside = await browser.submit(passcode.body, /\/passcode$/, { passcode: phone.currentTotp() });
    expect(inside.url).toBe(`${w.t.url}/account`);
    expect(inside.body).toContain('Pixel');

    const renamed = await browser.submit(inside.body, `/account/devices/${phone.deviceId}/rename`, { name: 'Work phone' });
    expect(renamed.body).toContain('Work phone');
    expect((await w.t.idp.devices.get(phone.deviceId))!.name).toBe('Work phone');

    // Revoking ends every session of the account, this page's included.
    const revoked = await browser.submit(renamed.body, `/account/devices/${phone.deviceId}/revoke`, {});
    expect(revoked.url).toBe(`${w.t.url}/account/signed-out?notice=revoked`);
    expect(revoked.body).toContain('The device was revoked');
    expect((await w.t.idp.devices.get(phone.deviceId))!.status).toBe('revoked');
    expect((await browser.go('/account')).body).toContain('name="password"');
  });

  it('refuses a form without its CSRF token and a request without a session', async () => {
    const { browser } = await signInToAccount(await newUser('bob'));
    const forged = await browser.go('/account/enroll', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=nope' });
    expect(forged.res.status).toBe(403);
    const anonymous = await new FormBrowser(w.t.url).go('/account/enroll', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=x' });
    expect(anonymous.res.status).toBe(401);
  });

  it('does not let a user touch another user\'s device', async () => {
    const other = await w.t.idp.accounts.create({ username: 'mallory' });
    const offer = await w.t.idp.deviceService.issueEnrollment(other.id, 'test');
    const theirs = await SimulatedAuthenticator.enroll(w.t.url, offer.code);
    const { browser, next } = await signInToAccount(await newUser('carol'));
    const csrf = next.body.match(/name="csrf" value="([^"]+)"/)![1]!;
    const res = await browser.go(`/account/devices/${theirs.deviceId}/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${csrf}` });
    expect(res.res.status).toBe(404);
    expect((await w.t.idp.devices.get(theirs.deviceId))!.status).toBe('active');
  });
  // Found by a hostile-input sweep: the form parser kept a malformed escape as its literal text, so
  // a device was renamed to '%ED%A0%80'; a bidi override could make one name pass for another.
  it('refuses a malformed form and a name that reorders text: 400, the name unchanged', async () => {
    const username = await newUser('dora');
    const account = (await w.t.idp.accounts.findByUsername(username))!;
    const offer = await w.t.idp.deviceService.issueEnrollment(account.id, 'test');
    await expect(SimulatedAuthenticator.enroll(w.t.url, offer.code, { name: 'Pixel \u202Eenohp' })).rejects.toMatchObject({ status: 400 });
    const phone = await SimulatedAuthenticator.enroll(w.t.url, offer.code, { name: 'Pixel' });
    const browser = new FormBrowser(w.t.url);
    const login = await browser.go('/account');
    const second = await browser.submit(login.body, /\/login$/, { username, password: PushWorld.password });
    const passcode = await browser.go(second.url.replace(/second-factor$/, 'passcode'));
    const inside = await browser.submit(passcode.body, /\/passcode$/, { passcode: phone.currentTotp() });
    expect(inside.url).toBe(`${w.t.url}/account`);
    const csrf = inside.body.match(/name="csrf" value="([^"]+)"/)![1]!;
    // Also a line separator (splits the notice other phones get) and the implicit bidi marks.
    for (const name of ['%ED%A0%80', '%E0%A4%A', '%C0%AF', 'Pixel%00', 'Pixel%20%E2%80%AEenohp', 'Pixel%20%E2%81%A6x', 'a%E2%80%A8b', 'a%E2%80%A9b', 'a%E2%80%8Fb', 'a%E2%80%8Eb', 'a%D8%9Cb',
      // Names that show nothing, or look exactly like another: a zero-width space, a Hangul filler, a joiner before a blank.
      '%E2%80%8B', '%E3%85%A4', 'Pixel%E2%80%8D%20x']) {
      const res = await browser.go(`/account/devices/${phone.deviceId}/rename`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${encodeURIComponent(csrf)}&name=${name}`,
      });
      expect({ name, status: res.res.status }).toEqual({ name, status: 400 });
    }
    expect((await w.t.idp.devices.get(phone.deviceId))!.name).toBe('Pixel');
    // The same form, well formed, still renames.
    const ok = await browser.go(`/account/devices/${phone.deviceId}/rename`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${encodeURIComponent(csrf)}&name=Work%20phone%20%E2%9C%93`,
    });
    expect(ok.res.status).toBeLessThan(400);
    expect((await w.t.idp.devices.get(phone.deviceId))!.name).toBe('Work phone \u2713');
  });
});
