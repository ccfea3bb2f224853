import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { hashPassword } from '../../src/accounts/passwords.js';
import { startTestIdp, testRp, TEST_RP_SECRET, type TestIdp } from '../support/idp.js';
import { FormBrowser } from '../support/web-browser.js';

/** An admin disables a user: their refresh token stops working within seconds, and they cannot sign in. */
describe('a disabled account', () => {
  let t: TestIdp;
  beforeAll(async () => {
    t = await startTestIdp({ storage: 'postgres', redis: 'real', clients: [testRp({ login: { consent: 'implicit' } })] });
  });
  afterAll(() => t.close());

  it('loses its refresh token and its sign-in', async () => {
    const account = await t.idp.accounts.create({ username: 'dora', passwordHash: await hashPassword('dora password 1') });
    const config = await oidc.discovery(new URL(t.url), 'test-rp', TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const authUrl = async () => oidc.buildAuthorizationUrl(config, {
      redirect_uri: 'http://127.0.0.1:1/cb', scope: 'openid', state: 's', prompt: 'login',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    }).href;
    const browser = new FormBrowser(t.url);
    const login = await browser.go(await authUrl());
    const back = await browser.submit(login.body, /\/login$/, { username: 'dora', password: 'dora password 1' });
    const tokens = await oidc.authorizationCodeGrant(config, new URL(back.url), { pkceCodeVerifier: verifier, expectedState: 's' });
    expect((await oidc.refreshTokenGrant(config, tokens.refresh_token!)).access_token).toBeTruthy();

    await t.idp.accounts.setDisabled(account.id, true);
    await new Promise((r) => setTimeout(r, 5200)); // the per-process account cache lives 5 s
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    const b2 = new FormBrowser(t.url);
    const page = await b2.go(await authUrl());
    const res = await b2.submit(page.body, /\/login$/, { username: 'dora', password: 'dora password 1' });
    expect(res.res.status).toBe(401);
  });

  // Audit item 8: oidc-provider went on to its consent checks without a grant and answered 500.
  it('gets a new sign-in, not a 500, when its browser still holds an SSO session', async () => {
    const account = await t.idp.accounts.create({ username: 'dirk', passwordHash: await hashPassword('dirk password 1') });
    const config = await oidc.discovery(new URL(t.url), 'test-rp', TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
    const authUrl = (extra: Record<string, string> = {}) => oidc.buildAuthorizationUrl(config, {
      redirect_uri: 'http://127.0.0.1:1/cb', scope: 'openid', state: 's', code_challenge: 'c'.repeat(43), code_challenge_method: 'S256', ...extra,
    }).href;
    const browser = new FormBrowser(t.url);
    const login = await browser.go(authUrl());
    const back = await browser.submit(login.body, /\/login$/, { username: 'dirk', password: 'dirk password 1' });
    expect(back.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);

    // Disabled in the database alone (as an older admin tool would): the session is still there.
    await t.idp.accounts.setDisabled(account.id, true);
    await new Promise((r) => setTimeout(r, 5200)); // the per-process account cache lives 5 s
    const again = await browser.go(authUrl());
    expect(again.res.status).toBe(200);
    expect(again.body).toContain('name="password"');
    const refused = await browser.submit(again.body, /\/login$/, { username: 'dirk', password: 'dirk password 1' });
    expect(refused.res.status).toBe(401);
    const silent = await browser.go(authUrl({ prompt: 'none' }));
    expect(new URL(silent.url).searchParams.get('error')).toBe('login_required');
  });
});
