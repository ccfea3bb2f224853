import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { hashPassword } from '../../src/accounts/passwords.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { PushWorld } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';

/** The self-service page: a user signs in, enrolls a phone from the QR/link, renames and revokes it. */
describe('self-service page', () => {
  let w: PushWorld;
  beforeAll(async () => {
    w = await PushWorld.start();
    // The first test revokes alice's only phone, after which her password alone no longer opens
    // this page (audit item 3); the other tests sign in as bob, who never had one.
    await w.t.idp.accounts.create({ username: 'bob', passwordHash: await hashPassword(PushWorld.password) });
  });
  afterAll(() => w.close());

  const signInToAccount = async (username = 'alice') => {
    const browser = new FormBrowser(w.t.url);
    const login = await browser.go('/account');
    expect(login.body).toContain('name="password"');
    expect(login.body).toContain('Your account');
    return { browser, next: await browser.submit(login.body, /\/login$/, { username, password: PushWorld.password }) };
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

    const listed = await browser.go('/account');
    expect(listed.body).toContain('Pixel');
    const renamed = await browser.submit(listed.body, `/account/devices/${phone.deviceId}/rename`, { name: 'Work phone' });
    expect(renamed.body).toContain('Work phone');
    expect((await w.t.idp.devices.get(phone.deviceId))!.name).toBe('Work phone');

    // With a phone enrolled, the password alone no longer opens the page (no enrolling behind the user's back).
    const second = await signInToAccount();
    expect(second.next.url).toMatch(/\/second-factor$/);
    const passcode = await second.browser.go(second.next.url.replace(/second-factor$/, 'passcode'));
    const inside = await second.browser.submit(passcode.body, /\/passcode$/, { passcode: phone.currentTotp() });
    expect(inside.url).toBe(`${w.t.url}/account`);

    const revoked = await browser.submit(renamed.body, `/account/devices/${phone.deviceId}/revoke`, {});
    expect(revoked.body).toContain('The device was revoked');
    expect((await w.t.idp.devices.get(phone.deviceId))!.status).toBe('revoked');
  });

  it('refuses a form without its CSRF token and a request without a session', async () => {
    const { browser } = await signInToAccount('bob');
    const forged = await browser.go('/account/enroll', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=nope' });
    expect(forged.res.status).toBe(403);
    const anonymous = await new FormBrowser(w.t.url).go('/account/enroll', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=x' });
    expect(anonymous.res.status).toBe(401);
  });

  it('does not let a user touch another user\'s device', async () => {
    const other = await w.t.idp.accounts.create({ username: 'mallory' });
    const offer = await w.t.idp.deviceService.issueEnrollment(other.id, 'test');
    const theirs = await SimulatedAuthenticator.enroll(w.t.url, offer.code);
    const { browser, next } = await signInToAccount('bob');
    const csrf = next.body.match(/name="csrf" value="([^"]+)"/)![1]!;
    const res = await browser.go(`/account/devices/${theirs.deviceId}/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${csrf}` });
    expect(res.res.status).toBe(404);
    expect((await w.t.idp.devices.get(theirs.deviceId))!.status).toBe('active');
  });
});
