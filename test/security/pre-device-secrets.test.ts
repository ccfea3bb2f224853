import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { FormBrowser } from '../support/web-browser.js';
import { newUser, PASSWORD, startSessionWorld, type SessionWorld } from './session-helpers.js';

/**
 * Re-audit, item 3 "through another door": before a user's first phone, the password alone may
 * open /account and ask for an enrollment code (the account is password-only then). What that
 * password session took away must not outlive the user's first phone: an enrollment code kept for
 * later would enroll the attacker's phone, and the recovery codes shown with it would sign in with
 * the password alone, both invisibly (the device list shows neither).
 */
describe('secrets a password-only session took before the first phone die with the first enrollment', () => {
  let w: SessionWorld;
  beforeAll(async () => { w = await startSessionWorld(); });
  afterAll(() => w.close());

  const csrfOf = (html: string) => html.match(/name="csrf" value="([^"]+)"/)![1]!;

  /** The attacker: password sign-in to /account while the account has no device, then "Enroll". */
  async function attackerTakesCodes(username: string) {
    const browser = new FormBrowser(w.t.url);
    const login = await browser.go('/account');
    const page = await browser.submit(login.body, /\/login$/, { username, password: PASSWORD });
    expect(page.url).toBe(`${w.t.url}/account`);
    const offer = await browser.request('/account/enroll', {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${csrfOf(page.body)}`,
    });
    const html = await offer.text();
    const code = html.match(/id="enroll-code">([^<]+)</)![1]!;
    const recoveryCodes = [...html.matchAll(/<li><code>([0-9A-Z-]+)<\/code><\/li>/g)].map((m) => m[1]!);
    expect(recoveryCodes).toHaveLength(10);
    return { code, recoveryCodes };
  }

  it("an enrollment code taken before the user's first phone no longer enrolls once that phone is there", async () => {
    const accountId = await newUser(w, 'early-code');
    const stolen = await attackerTakesCodes('early-code');
    // The user enrolls their first phone with the admin's code.
    const offer = await w.t.idp.deviceService.issueEnrollment(accountId, 'admin');
    await SimulatedAuthenticator.enroll(w.t.url, offer.code, { push: null, name: 'Phone' });

    await expect(SimulatedAuthenticator.enroll(w.t.url, stolen.code, { push: null, name: 'Attacker' }))
      .rejects.toThrow(/invalid_enrollment_code/);
    const devices = await w.t.idp.devices.listByAccount(accountId);
    expect(devices.map((d) => d.name)).toEqual(['Phone']);
  });

  it("recovery codes taken before the user's first phone do not sign in once that phone is there; the user's own do", async () => {
    const accountId = await newUser(w, 'early-recovery');
    const stolen = await attackerTakesCodes('early-recovery');
    const offer = await w.t.idp.deviceService.issueEnrollment(accountId, 'admin');
    // The user's code comes with the user's own recovery codes.
    expect(offer.recoveryCodes).toHaveLength(10);
    await SimulatedAuthenticator.enroll(w.t.url, offer.code, { push: null, name: 'Phone', confirm: true });

    const recoveryPage = async () => {
      const browser = new FormBrowser(w.t.url);
      const { authorize } = await import('./session-helpers.js');
      const started = await authorize(w.open, browser);
      const next = await browser.submit(started.page.body, /\/login$/, { username: 'early-recovery', password: PASSWORD });
      expect(next.url).toMatch(/\/second-factor$/);
      return { browser, page: await browser.go(next.url.replace(/second-factor$/, 'recovery')) };
    };
    const attacker = await recoveryPage();
    const tried = await attacker.browser.submit(attacker.page.body, /\/recovery$/, { code: stolen.recoveryCodes[0]! });
    expect(tried.res.status).toBe(401);
    expect(tried.body).toContain('That recovery code is not right');

    const user = await recoveryPage();
    const own = await user.browser.submit(user.page.body, /\/recovery$/, { code: offer.recoveryCodes![0]! });
    expect(own.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
  });
  /** The attacker goes one step further: enrolls a phone with the code, and never confirms it. */
  async function attackerPlantsDevice(username: string) {
    const stolen = await attackerTakesCodes(username);
    const hidden = await SimulatedAuthenticator.enroll(w.t.url, stolen.code, { push: null, name: 'Attacker' });
    return { ...stolen, hidden };
  }
  const age = (deviceId: string, minutes: number) =>
    w.t.idp.db.query(`UPDATE devices SET created_at = now() - make_interval(mins => $2) WHERE id = $1`, [deviceId, minutes]);
  /** A sign-in as the user, up to the second-factor choice, then the page of `method`. */
  async function secondFactorPage(username: string, method: 'passcode' | 'recovery') {
    const browser = new FormBrowser(w.t.url);
    const { authorize } = await import('./session-helpers.js');
    const started = await authorize(w.open, browser);
    const next = await browser.submit(started.page.body, /\/login$/, { username, password: PASSWORD });
    expect(next.url).toMatch(/\/second-factor$/);
    return { browser, page: await browser.go(next.url.replace(/second-factor$/, method)) };
  }

  // Red-team run: the planted phone, never confirmed, was hidden from the user's list after ten
  // minutes (nothing to revoke) while its passcodes still signed in, with mfa, after the user's own
  // phone was enrolled; from that session /account issued new enrollment codes.
  it('a phone planted before the first one and never confirmed: hidden after ten minutes, and its passcodes no longer sign in', async () => {
    const accountId = await newUser(w, 'planted-old');
    const { hidden } = await attackerPlantsDevice('planted-old');
    await age(hidden.deviceId, 11);
    const offer = await w.t.idp.deviceService.issueEnrollment(accountId, 'admin');
    const phone = await SimulatedAuthenticator.enroll(w.t.url, offer.code, { push: null, name: 'Phone' });
    expect((await phone.request('GET', '/api/device/challenges')).status).toBe(200);
    expect((await w.t.idp.deviceService.listDevices(accountId)).map((d) => d.name)).toEqual(['Phone']);

    const attacker = await secondFactorPage('planted-old', 'passcode');
    const tried = await attacker.browser.submit(attacker.page.body, /\/passcode$/, { passcode: hidden.currentTotp() });
    expect(tried.url).not.toMatch(/\/cb\?code=/);
    expect(tried.res.status).toBe(401);
    const user = await secondFactorPage('planted-old', 'passcode');
    expect((await user.browser.submit(user.page.body, /\/passcode$/, { passcode: phone.currentTotp() })).url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
  });

  // The other order: the user's phone comes while the planted one is still young (it then counted as
  // "a device already", so the user's enrollment was not the first and the attacker's recovery codes
  // outlived it).
  it('a phone planted and still young when the user enrolls: the attacker\'s recovery codes die with the user\'s enrollment', async () => {
    const accountId = await newUser(w, 'planted-young');
    const { recoveryCodes } = await attackerPlantsDevice('planted-young');
    const offer = await w.t.idp.deviceService.issueEnrollment(accountId, 'admin');
    expect(offer.recoveryCodes).toHaveLength(10);
    await SimulatedAuthenticator.enroll(w.t.url, offer.code, { push: null, name: 'Phone', confirm: true });
    const attacker = await secondFactorPage('planted-young', 'recovery');
    const tried = await attacker.browser.submit(attacker.page.body, /\/recovery$/, { code: recoveryCodes[0]! });
    expect(tried.res.status).toBe(401);
    const user = await secondFactorPage('planted-young', 'recovery');
    expect((await user.browser.submit(user.page.body, /\/recovery$/, { code: offer.recoveryCodes![0]! })).url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
  });
  // Red-team run: the planted phone was left pending, and confirmed by the attacker only after the
  // user's own first phone was enrolled and confirmed, within the ten minutes: it then stood beside
  // the user's phone, confirmed, and its passcodes signed in with mfa.
  it("a phone planted and left pending is revoked by the user's first enrollment: it cannot be confirmed later, nor sign in", async () => {
    const accountId = await newUser(w, 'planted-late');
    const { hidden } = await attackerPlantsDevice('planted-late');
    const offer = await w.t.idp.deviceService.issueEnrollment(accountId, 'admin');
    expect(offer.recoveryCodes).toHaveLength(10); // the account's first enrollment
    const phone = await SimulatedAuthenticator.enroll(w.t.url, offer.code, { push: null, name: 'Phone' });
    expect((await phone.request('GET', '/api/device/challenges')).status).toBe(200);

    const confirm = await hidden.request('GET', '/api/device/challenges');
    expect(confirm.status).toBe(401);
    expect(confirm.body).toMatchObject({ error: 'device_revoked' });
    const devices = await w.t.idp.devices.listByAccount(accountId);
    expect(devices.map((d) => [d.name, d.status, d.lastUsedAt === null ? 'pending' : 'confirmed'])).toEqual([
      ['Attacker', 'revoked', 'pending'], ['Phone', 'active', 'confirmed'],
    ]);
    const revoked = await w.t.idp.db.query<{ detail: { deviceId: string; by: string } }>(
      "SELECT detail FROM audit_events WHERE type = 'device.revoked' AND account_id = $1", [accountId]);
    expect(revoked.map((r) => r.detail)).toEqual([{ deviceId: hidden.deviceId, by: 'first_enrollment' }]);

    const attacker = await secondFactorPage('planted-late', 'passcode');
    const tried = await attacker.browser.submit(attacker.page.body, /\/passcode$/, { passcode: hidden.currentTotp() });
    expect(tried.url).not.toMatch(/\/cb\?code=/);
    const user = await secondFactorPage('planted-late', 'passcode');
    expect((await user.browser.submit(user.page.body, /\/passcode$/, { passcode: phone.currentTotp() })).url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
  });

  // The same planted phone confirmed by the attacker before a newer phone of the account was: a
  // device the account's owner enrolled after it and confirmed first leaves it void (registry confirm).
  it('a pending phone is never confirmed once a device enrolled after it was', async () => {
    const accountId = await newUser(w, 'planted-race');
    const { hidden } = await attackerPlantsDevice('planted-race');
    // As if the user's enrollment had not revoked it (a phone enrolled while it was there, confirmed first).
    const offer = await w.t.idp.deviceService.issueEnrollment(accountId, 'admin');
    const phone = await SimulatedAuthenticator.enroll(w.t.url, offer.code, { push: null, name: 'Phone' });
    await w.t.idp.db.query("UPDATE devices SET status = 'active' WHERE id = $1", [hidden.deviceId]);
    expect((await phone.request('GET', '/api/device/challenges')).status).toBe(200);
    expect((await hidden.request('GET', '/api/device/challenges')).status).toBe(401);
    expect((await w.t.idp.devices.get(hidden.deviceId))!.lastUsedAt).toBeNull();
  });
});
