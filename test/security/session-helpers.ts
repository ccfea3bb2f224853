/**
 * Helpers of the session tests (sso-policy-bypass, session-end, session-lifetime, account-step-up):
 * an IdP with two relying apps that differ only in their no-device policy, openid-client as both
 * apps, and a cookie-keeping browser that signs in through the real pages.
 */
import { expect } from '@jest/globals';
import * as oidc from 'openid-client';
import { hashPassword } from '../../src/accounts/passwords.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { startTestIdp, testRp, TEST_RP_SECRET, type TestIdp, type TestIdpOptions } from '../support/idp.js';
import { FormBrowser } from '../support/web-browser.js';

export const CB = 'http://127.0.0.1:1/cb';
export const PASSWORD = 'session test password 1';
export const MFA_ACR = 'urn:pushotp:acr:mfa';

export interface SessionWorld {
  t: TestIdp;
  /** noDevice 'password-only' (as the demo app and /account). */
  open: oidc.Configuration;
  /** noDevice 'refuse'. */
  strict: oidc.Configuration;
  close(): Promise<void>;
}

export async function startSessionWorld(opts: TestIdpOptions = {}): Promise<SessionWorld> {
  const t = await startTestIdp({
    storage: 'postgres', redis: 'real', ...opts,
    clients: [
      testRp({ login: { consent: 'implicit', noDevice: 'password-only' } }),
      testRp({ client_id: 'strict-rp', client_name: 'Strict RP', login: { consent: 'implicit', noDevice: 'refuse' } }),
    ],
  });
  const discover = (id: string) => oidc.discovery(new URL(t.url), id, TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
  return { t, open: await discover('test-rp'), strict: await discover('strict-rp'), close: () => t.close() };
}

export async function newUser(w: SessionWorld, username: string): Promise<string> {
  return (await w.t.idp.accounts.create({ username, passwordHash: await hashPassword(PASSWORD) })).id;
}

export async function enrollPhone(w: SessionWorld, accountId: string, opts: { confirm?: boolean } = {}): Promise<SimulatedAuthenticator> {
  const offer = await w.t.idp.deviceService.issueEnrollment(accountId, 'test');
  return SimulatedAuthenticator.enroll(w.t.url, offer.code, { push: null, name: 'Phone', confirm: opts.confirm ?? false });
}

/** An authorization request in this browser; `page` is where it ends (our login page, or the app's callback). */
export async function authorize(config: oidc.Configuration, browser: FormBrowser, extra: Record<string, string> = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: CB, scope: 'openid offline_access', state,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...extra,
  });
  const page = await browser.go(url.href);
  return {
    page,
    /** The app's side: its callback URL turned into tokens. */
    tokens: (at = page.url) => oidc.authorizationCodeGrant(config, new URL(at), { pkceCodeVerifier: verifier, expectedState: state }),
  };
}

export const atCallback = (url: string) => url.startsWith(`${CB}?code=`);
export const isLoginPage = (page: { url: string; body: string }) => !atCallback(page.url) && page.body.includes('name="password"');

/** A sign-in at the app with the password (and the phone's passcode when one is asked); returns its tokens. */
export async function signIn(config: oidc.Configuration, browser: FormBrowser, username: string, phone?: SimulatedAuthenticator) {
  const started = await authorize(config, browser);
  expect(isLoginPage(started.page)).toBe(true);
  let next = await browser.submit(started.page.body, /\/login$/, { username, password: PASSWORD });
  if (phone) {
    expect(next.url).toMatch(/\/second-factor$/);
    const form = await browser.go(next.url.replace(/second-factor$/, 'passcode'));
    next = await browser.submit(form.body, /\/passcode$/, { passcode: phone.currentTotp() });
  }
  expect(next.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
  return started.tokens(next.url);
}

const unescapeHtml = (s: string) => s.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');

/** Submits a page's form without following its redirect: the raw answer (a 303 to the resume URL, held as an attacker would). */
export async function submitHeld(browser: FormBrowser, html: string, action: RegExp, fields: Record<string, string>) {
  const form = [...html.matchAll(/<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/g)].find(([, a]) => action.test(a!))!;
  const hidden = Object.fromEntries([...form[2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map(([, n, v]) => [n!, unescapeHtml(v!)]));
  return browser.request(unescapeHtml(form[1]!), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...hidden, ...fields }).toString() });
}
