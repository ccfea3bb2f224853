import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type * as oidc from 'openid-client';
import { refreshTokenGrant, tokenIntrospection } from 'openid-client';
import { runAdminCli } from '../support/admin-cli.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { TEST_REDIS_URL } from '../support/env.js';
import { FormBrowser } from '../support/web-browser.js';
import { atCallback, authorize, enrollPhone, isLoginPage, newUser, PASSWORD, signIn, startSessionWorld, type SessionWorld } from './session-helpers.js';

/**
 * Audit item 7: sessions outlived what should end them. A new password, a disabled account, an
 * admin's "sign out", and a revoked device (by the admin, on /account, or by the app itself) each
 * end the account's SSO sessions, grants, refresh and access tokens; "Sign out" on /account ends
 * the browser's SSO session and leaves no cookie that works again.
 */
describe('sessions end with the events that should end them', () => {
  let w: SessionWorld;
  beforeAll(async () => { w = await startSessionWorld(); });
  afterAll(() => w.close());

  /**
   * The admin CLI as an operator runs it, beside the running IdP (same PostgreSQL and Redis), which
   * serves from this very process: test/support/admin-cli.ts runs it without blocking.
   */
  const cli = async (...args: string[]) => {
    const r = await runAdminCli(args, {
      env: { DATABASE_URL: w.t.settings.databaseUrl!, REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: w.t.idp.redis.options.keyPrefix!, DATA_DIR: w.t.settings.dataDir, ISSUER: w.t.url },
    });
    expect(r).toMatchObject({ status: 0, stderr: '' });
    return r.stdout;
  };

  /** A user signed in to the app in a browser: tokens in hand, SSO session in the browser. */
  const signedIn = async (username: string, opts: { phone?: boolean } = {}) => {
    const accountId = await newUser(w, username);
    const phone = opts.phone ? await enrollPhone(w, accountId) : undefined;
    const browser = new FormBrowser(w.t.url);
    const tokens = await signIn(w.open, browser, username, phone);
    expect(tokens.refresh_token).toBeTruthy();
    expect(atCallback((await authorize(w.open, browser)).page.url)).toBe(true); // SSO works before
    expect((await userinfo(tokens.access_token)).status).toBe(200);
    return { accountId, phone, browser, tokens };
  };
  const userinfo = (accessToken: string) =>
    fetch(w.open.serverMetadata().userinfo_endpoint!, { headers: { authorization: `Bearer ${accessToken}` } });

  /** What the app and the browser see afterwards: nothing works, a new sign-in is asked for. */
  const expectEnded = async (s: { browser: FormBrowser; tokens: oidc.TokenEndpointResponse }) => {
    await expect(refreshTokenGrant(w.open, s.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await userinfo(s.tokens.access_token)).status).toBe(401);
    expect((await tokenIntrospection(w.open, s.tokens.access_token)).active).toBe(false);
    expect(isLoginPage((await authorize(w.open, s.browser)).page)).toBe(true);
  };

  it('admin sets a new password: `user set-password`', async () => {
    const s = await signedIn('pw-user');
    const out = await cli('user', 'set-password', 'pw-user', '--password', 'a brand new password');
    await expectEnded(s);
    expect(out).toMatch(/ended 1 session\(s\), 1 grant\(s\), 1 refresh token\(s\)/);
  });

  it('admin disables the account: `user disable`', async () => {
    const s = await signedIn('off-user');
    await cli('user', 'disable', 'off-user');
    await expectEnded(s);
  });

  it('admin signs the user out: `user sign-out`', async () => {
    const s = await signedIn('out-user');
    const other = await signIn(w.strict, new FormBrowser(w.t.url), 'out-user').catch(() => null); // refused: no phone
    expect(other).toBeNull();
    expect(await cli('user', 'sign-out', 'out-user')).toContain('out-user: ended 1 session(s)');
    await expectEnded(s);
    // Signing in again works (nothing else was changed).
    expect((await signIn(w.open, new FormBrowser(w.t.url), 'out-user')).access_token).toBeTruthy();
  });

  it('admin revokes a device: `device revoke`, audited as the administrator\'s, with the unconfirmed phone it ends', async () => {
    const s = await signedIn('cli-rev', { phone: true });
    const accountId = (await w.t.idp.accounts.findByUsername('cli-rev'))!.id;
    // A phone /account added that never confirmed: it ends with the sessions (red-team: unaudited from the CLI).
    const pending = await SimulatedAuthenticator.enroll(w.t.url, (await w.t.idp.deviceService.issueEnrollment(accountId, `self:${accountId}`)).code, { name: 'new phone' });
    await cli('device', 'rename', 'cli-rev', s.phone!.deviceId, 'Old phone');
    await cli('device', 'revoke', 'cli-rev', s.phone!.deviceId);
    await expectEnded(s);
    await new Promise((r) => setTimeout(r, 300)); // audit rows are group-committed
    const rows = await w.t.idp.db.query<{ type: string; detail: { deviceId?: string; by?: string } }>(
      `SELECT type, detail FROM audit_events WHERE account_id = $1 AND type IN ('device.revoked', 'device.renamed') ORDER BY id`, [accountId]);
    expect(rows.map((r) => [r.type, r.detail.deviceId, r.detail.by])).toEqual([
      ['device.renamed', s.phone!.deviceId, 'admin-cli'],
      ['device.revoked', s.phone!.deviceId, 'admin-cli'],
      ['device.revoked', pending.deviceId, 'sessions_ended'],
    ]);
  });

  it('the phone unregisters itself: DELETE /api/device', async () => {
    const s = await signedIn('app-rev', { phone: true });
    expect((await (s.phone as SimulatedAuthenticator).unregister()).status).toBe(200);
    await expectEnded(s);
  });

  it('the user revokes a device on /account', async () => {
    const accountId = await newUser(w, 'self-rev');
    const phone = await enrollPhone(w, accountId);
    const browser = new FormBrowser(w.t.url);
    // Signed in to /account with the second factor, then to the app by SSO.
    const login = await browser.go('/account');
    const second = await browser.submit(login.body, /\/login$/, { username: 'self-rev', password: PASSWORD });
    const form = await browser.go(second.url.replace(/second-factor$/, 'passcode'));
    const page = await browser.submit(form.body, /\/passcode$/, { passcode: phone.currentTotp() });
    expect(page.url).toBe(`${w.t.url}/account`);
    const sso = await authorize(w.open, browser);
    expect(atCallback(sso.page.url)).toBe(true);
    const tokens = await sso.tokens();

    await browser.submit(page.body, `/account/devices/${phone.deviceId}/revoke`, {});
    await expectEnded({ browser, tokens });
  });

  it('"Sign out" on /account ends the SSO session too; the old cookies replayed get nothing', async () => {
    await newUser(w, 'leaver');
    const browser = new FormBrowser(w.t.url);
    const login = await browser.go('/account');
    const page = await browser.submit(login.body, /\/login$/, { username: 'leaver', password: PASSWORD });
    expect(page.url).toBe(`${w.t.url}/account`);
    const csrf = page.body.match(/name="csrf" value="([^"]+)"/)![1]!;
    const copy = new FormBrowser(w.t.url);
    copy.adoptCookies(browser, '');

    const out = await browser.submit(page.body, '/account/logout', {});
    expect(out.url).toBe(`${w.t.url}/account/signed-out`);
    expect(browser.cookieHeader()).not.toMatch(/(^|; )(_session|account_session)=/);
    expect(isLoginPage(await browser.go('/account'))).toBe(true);
    expect(isLoginPage((await authorize(w.open, browser)).page)).toBe(true);

    // Someone who kept a copy of the cookies from before the sign-out.
    expect(isLoginPage(await copy.go('/account'))).toBe(true);
    const enroll = await copy.go('/account/enroll', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${csrf}` });
    expect(enroll.res.status).toBe(401);
    expect(isLoginPage((await authorize(w.open, copy)).page)).toBe(true);
  });

  it('a session saved back by a request in flight as the sessions end still counts as ended', async () => {
    const s = await signedIn('racer');
    await new Promise((r) => setTimeout(r, 1100)); // sign-in times are whole seconds
    // What an authorization request running at that moment does: it loaded the session before the
    // end, and oidc-provider saves it again when the request finishes.
    const [{ uid }] = await w.t.idp.db.query<{ uid: string }>(`SELECT payload->>'uid' AS uid FROM oidc_payloads WHERE model = 'Session' AND payload->>'accountId' = $1`, [s.accountId]) as [{ uid: string }];
    const inFlight = (await w.t.idp.provider.Session.findByUid(uid))!;
    await w.t.idp.endAccountSessions(s.accountId);
    await inFlight.save(600);
    expect(await w.t.idp.provider.Session.findByUid(uid)).toBeDefined();
    expect(isLoginPage((await authorize(w.open, s.browser)).page)).toBe(true);
  });
});
