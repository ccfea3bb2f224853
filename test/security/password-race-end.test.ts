import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { hashPassword } from '../../src/accounts/passwords.js';
import { FormBrowser } from '../support/web-browser.js';
import { atCallback, authorize, enrollPhone, isLoginPage, newUser, PASSWORD, startSessionWorld, type SessionWorld } from './session-helpers.js';

/**
 * Red-team: the old password being checked while `user set-password` runs. The sign-in read the
 * account (the old hash) before the argon2id check but dated its first factor after it, so a
 * change landing in between let the old password's sign-in count as newer than the end of the
 * account's sessions: tokens, userinfo and an SSO session after the remediation, or, with a phone,
 * a finish by the second factor. Each case tries several timings of the change against one
 * password check in flight (the first timing hit the window on the code before the fix).
 */
describe('the old password racing set-password', () => {
  let w: SessionWorld;
  beforeAll(async () => { w = await startSessionWorld(); });
  afterAll(() => w.close());

  /** What `npm run admin -- user set-password` does (cli/commands.ts), in process for timing; the new hash made beforehand. */
  const setPasswordDuring = async (id: string, login: Promise<unknown>, delayMs: number, newHash: string) => {
    await new Promise((r) => setTimeout(r, delayMs));
    await w.t.idp.accounts.setPasswordHash(id, newHash);
    await w.t.idp.endAccountSessions(id);
    return login;
  };

  it('a password-only sign-in checked during the change gets no token, userinfo or SSO session', async () => {
    const newHash = await hashPassword('a brand new password 77');
    const outcomes: string[] = [];
    for (let i = 0; i < 8; i++) {
      const username = `pwrace-${Date.now()}-${i}`;
      const id = await newUser(w, username);
      const browser = new FormBrowser(w.t.url);
      const started = await authorize(w.open, browser);
      expect(isLoginPage(started.page)).toBe(true);
      const next = (await setPasswordDuring(id, browser.submit(started.page.body, /\/login$/, { username, password: PASSWORD }), 15 + 5 * i, newHash)) as { url: string };
      if (atCallback(next.url)) {
        const tokens = await started.tokens(next.url).catch(() => null);
        const userinfo = tokens ? await oidc.fetchUserInfo(w.open, tokens.access_token, oidc.skipSubjectCheck).then(() => true, () => false) : false;
        // A sign-in that finished before the change may have its code; it must buy nothing after it.
        if (tokens || userinfo) outcomes.push(`attempt ${i}: tokens ${Boolean(tokens)}, userinfo ${userinfo}`);
      }
      // Whatever the timing (a sign-in finished just before the change included), this browser holds
      // no session now: a new authorization asks for the password.
      expect(isLoginPage((await authorize(w.open, browser)).page)).toBe(true);
    }
    expect(outcomes).toEqual([]);
  }, 120_000);

  it('with a phone: a sign-in whose password was checked during the change does not finish with the second factor', async () => {
    const newHash = await hashPassword('a brand new password 77');
    const finished: number[] = [];
    for (let i = 0; i < 8; i++) {
      const username = `pwrace-ph-${Date.now()}-${i}`;
      const id = await newUser(w, username);
      const phone = await enrollPhone(w, id);
      const browser = new FormBrowser(w.t.url);
      const started = await authorize(w.strict, browser);
      const next = (await setPasswordDuring(id, browser.submit(started.page.body, /\/login$/, { username, password: PASSWORD }), 15 + 5 * i, newHash)) as { url: string };
      if (!/\/second-factor$/.test(next.url)) continue;
      const form = await browser.go(next.url.replace(/second-factor$/, 'passcode'));
      const done = await browser.submit(form.body, /\/passcode$/, { passcode: phone.currentTotp() });
      if (atCallback(done.url)) finished.push(i);
    }
    expect(finished).toEqual([]);
  }, 120_000);
});
