import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { hashPassword } from '../../src/accounts/passwords.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { testRp, TEST_RP_SECRET } from '../support/idp.js';
import { PushWorld } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';

/**
 * A browser with a session enters a second app without a sign-in page: that authorization is in
 * the audit trail as `signin.sso`, naming the app, the account, the address and what the session
 * proved. Red-team (operator round): it left no row, so after a stolen session the trail did not
 * say which apps were entered. A sign-in that showed its pages writes its own row (signin.success)
 * and no `signin.sso` besides.
 */
describe('audit: single sign-on into another app', () => {
  let w: PushWorld;
  let other: oidc.Configuration;
  type Row = { type: string; clientId: string | null; ip: string | null; detail: Record<string, unknown> };
  const rows = async (accountId: string) => w.t.idp.db.query<Row>(
    'SELECT type, client_id AS "clientId", ip, detail FROM audit_events WHERE account_id = $1 ORDER BY id', [accountId]);
  beforeAll(async () => {
    w = await PushWorld.start({
      clients: [testRp({ client_id: 'other-rp', client_name: 'Other RP', redirect_uris: ['http://127.0.0.1:1/cb2'], login: { consent: 'implicit' } })],
    });
    other = await oidc.discovery(new URL(w.t.url), 'other-rp', TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
  });
  afterAll(() => w?.close());

  /** An authorization request of `rp` in `browser`; where it ends (the app's callback, or a sign-in page). */
  const authorize = async (browser: FormBrowser, rp: oidc.Configuration, redirectUri: string, extra: Record<string, string> = {}) => {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(rp, { redirect_uri: redirectUri, scope: 'openid', state, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...extra });
    return { page: await browser.go(url.href), verifier, state };
  };

  it('the second app, and the first one again, each leave one signin.sso row; the sign-in with pages leaves none', async () => {
    const username = 'sso-user';
    const account = await w.t.idp.accounts.create({ username, passwordHash: await hashPassword(PushWorld.password) });
    const browser = new FormBrowser(w.t.url);
    const first = await authorize(browser, w.rp, 'http://127.0.0.1:1/cb');
    const signedIn = await browser.submit(first.page.body, /\/login$/, { username, password: PushWorld.password });
    expect(signedIn.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
    expect((await rows(account.id)).map((r) => r.type)).toEqual(['signin.success']);

    const second = await authorize(browser, other, 'http://127.0.0.1:1/cb2');
    expect(second.page.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb2\?code=/);
    // The row is there by the time the app holds the code.
    const sso = (await rows(account.id)).filter((r) => r.type === 'signin.sso');
    expect(sso).toEqual([{ type: 'signin.sso', clientId: 'other-rp', ip: '127.0.0.1', detail: { amr: ['pwd'], acr: expect.any(String), authTime: expect.any(Number) } }]);
    const tokens = await oidc.authorizationCodeGrant(other, new URL(second.page.url), { pkceCodeVerifier: second.verifier, expectedState: second.state });
    expect(tokens.claims()!.sub).toBe(account.id);
    // The session's sign-in time, as the ID token tells the app.
    expect(sso[0]!.detail.authTime).toBe(tokens.claims()!.auth_time);
    expect(sso[0]!.detail.acr).toBe(tokens.claims()!.acr);

    const firstAgain = await authorize(browser, w.rp, 'http://127.0.0.1:1/cb');
    expect(firstAgain.page.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
    const silent = await authorize(browser, other, 'http://127.0.0.1:1/cb2', { prompt: 'none' });
    expect(silent.page.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb2\?code=/);
    expect((await rows(account.id)).map((r) => [r.type, r.clientId, r.detail.silent ?? false])).toEqual([
      ['signin.success', 'test-rp', false],
      ['signin.sso', 'other-rp', false],
      ['signin.sso', 'test-rp', false],
      ['signin.sso', 'other-rp', true],
    ]);
  });

  it('an authorization that asks for a new sign-in (prompt=login) shows its pages and writes no signin.sso row', async () => {
    const username = 'sso-refused';
    const account = await w.t.idp.accounts.create({ username, passwordHash: await hashPassword(PushWorld.password) });
    const browser = new FormBrowser(w.t.url);
    const first = await authorize(browser, w.rp, 'http://127.0.0.1:1/cb');
    await browser.submit(first.page.body, /\/login$/, { username, password: PushWorld.password });
    // prompt=login asks for a new sign-in: a page, not a code.
    const again = await authorize(browser, other, 'http://127.0.0.1:1/cb2', { prompt: 'login' });
    expect(again.page.url).toMatch(/\/interaction\//);
    expect((await rows(account.id)).some((r) => r.type === 'signin.sso')).toBe(false);
  });

  it('a sign-in with a phone writes its rows and no signin.sso', async () => {
    const username = 'sso-phone';
    const account = await w.t.idp.accounts.create({ username, passwordHash: await hashPassword(PushWorld.password) });
    const phone = await SimulatedAuthenticator.enroll(w.t.url, (await w.t.idp.deviceService.issueEnrollment(account.id, 'admin')).code, { name: 'Phone' });
    const browser = new FormBrowser(w.t.url);
    const first = await authorize(browser, w.rp, 'http://127.0.0.1:1/cb');
    const second = await browser.submit(first.page.body, /\/login$/, { username, password: PushWorld.password });
    const passcode = await browser.go(second.url.replace(/second-factor$/, 'passcode'));
    const done = await browser.submit(passcode.body, /\/passcode$/, { passcode: phone.currentTotp() });
    expect(done.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
    const audit = await rows(account.id);
    expect(audit.filter((r) => r.type.startsWith('signin.')).map((r) => r.type)).toEqual(['signin.success']);
  });
});
