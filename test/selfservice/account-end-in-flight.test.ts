import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FormBrowser } from '../support/web-browser.js';
import { authorize, enrollPhone, isLoginPage, newUser, PASSWORD, startSessionWorld, type SessionWorld } from '../security/session-helpers.js';

/**
 * Red-team (end of access across doors): /account checks its SSO session with
 * sessionEndedBeforeItsSecond (a sign-in in the end's very second still counts, so that a sign-in
 * just after a new password opens the page it asked for), every authorization with
 * sessionEndedSince. A session signed in during the end's second and saved back by a request in
 * flight (as session-end.test.ts's "racer" does) was refused at every authorization but kept
 * /account open, renaming and revoking phones, for the session's whole life. /account now compares
 * the end with its own sign-in to the millisecond.
 */
describe('/account after an end in its sign-in\'s second, session saved back in flight', () => {
  let w: SessionWorld;
  beforeAll(async () => { w = await startSessionWorld(); });
  afterAll(() => w.close());

  it('an end in the sign-in\'s second closes /account too: no page, no rename', async () => {
    let tries = 0;
    for (;;) {
      tries++;
      const username = `same-sec-${Date.now()}`;
      const id = await newUser(w, username);
      const phone = await enrollPhone(w, id);
      const browser = new FormBrowser(w.t.url);
      // Wait for the start of a second, then sign in to /account with password + passcode.
      await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
      const login = await browser.go('/account');
      const second = await browser.submit(login.body, /\/login$/, { username, password: PASSWORD });
      const form = await browser.go(second.url.replace(/second-factor$/, 'passcode'));
      const page = await browser.submit(form.body, /\/passcode$/, { passcode: phone.currentTotp() });
      expect(page.url).toBe(`${w.t.url}/account`);
      const [row] = await w.t.idp.db.query<{ uid: string; ts: string }>(`SELECT payload->>'uid' AS uid, payload->>'loginTs' AS ts FROM oidc_payloads WHERE model = 'Session' AND payload->>'accountId' = $1`, [id]);
      const inFlight = (await w.t.idp.provider.Session.findByUid(row!.uid))!;
      // The admin's `user sign-out` (same function), in the sign-in's second.
      if (Math.floor(Date.now() / 1000) !== Number(row!.ts)) { if (tries > 8) throw new Error('never the same second'); continue; }
      await w.t.idp.endAccountSessions(id);
      await inFlight.save(600); // a request of this browser in flight saves it back
      expect(Math.floor((await w.t.idp.accounts.findById(id))!.sessionsEndedAt!.getTime() / 1000)).toBe(Number(row!.ts));
      await new Promise((r) => setTimeout(r, 2500));
      // SSO is refused (sessionEndedSince)...
      expect(isLoginPage((await authorize(w.open, browser)).page)).toBe(true);
      // ...and so is /account, seconds later: it asks for a new sign-in and changes nothing.
      const later = await browser.go('/account');
      // The page's own form, taken before the end, posted after it.
      const csrf = page.body.match(/name="csrf" value="([^"]+)"/)?.[1];
      expect(csrf).toBeTruthy();
      const renamed = await browser.go(`/account/devices/${phone.deviceId}/rename`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf: csrf!, name: 'renamed after sign-out' }).toString() });
      const names = (await w.t.idp.db.query<{ name: string }>('SELECT name FROM devices WHERE id = $1', [phone.deviceId])).map((r) => r.name);
      expect({ accountPage: later.url, rename: renamed.res.status, names }).toEqual({ accountPage: expect.stringMatching(/\/account\/login|\/interaction\//), rename: 401, names: ['Phone'] });
      return;
    }
  });
});
