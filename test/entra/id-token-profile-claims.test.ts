import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { hashPassword } from '../../src/accounts/passwords.js';
import { startTestIdp, testRp, TEST_RP_SECRET, type TestIdp } from '../support/idp.js';
import { FormBrowser } from '../support/web-browser.js';

/**
 * Issue 12 item 5: an app whose library reads only the ID token (Auth.js, express-openid-connect)
 * sets `id_token_profile_claims` in its client file and finds the profile and email claims of the
 * granted scopes there; every other app keeps them at userinfo only (OIDC Core 5.4), as before.
 * Seen through openid-client.
 */
describe('profile claims in the ID token, per app', () => {
  let t: TestIdp;
  const password = 'correct horse battery';
  beforeAll(async () => {
    t = await startTestIdp({
      storage: 'postgres', redis: 'real',
      clients: [
        testRp({ login: { consent: 'implicit' } }),
        testRp({ client_id: 'authjs-app', client_name: 'Auth.js app', id_token_profile_claims: true, login: { consent: 'implicit' } }),
      ],
    });
    await t.idp.accounts.create({ username: 'carol', displayName: 'Carol Example', email: 'carol@example.com', passwordHash: await hashPassword(password) });
  });
  afterAll(() => t.close());

  async function signIn(clientId: string, scope: string, extra: Record<string, string> = {}) {
    const config = await oidc.discovery(new URL(t.url), clientId, TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: 'http://127.0.0.1:1/cb', scope, state, ...extra,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const browser = new FormBrowser(t.url);
    const login = await browser.go(url.href);
    const back = await browser.submit(login.body, /\/login$/, { username: 'carol', password });
    expect(back.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(back.url), { pkceCodeVerifier: verifier, expectedState: state });
    return { tokens, config };
  }

  it('the app that chose it gets name, preferred_username and email in the ID token', async () => {
    const { tokens } = await signIn('authjs-app', 'openid profile email');
    expect(tokens.claims()).toMatchObject({ name: 'Carol Example', preferred_username: 'carol', email: 'carol@example.com', email_verified: false });
  });

  it('only for the scopes granted: openid profile gives no email', async () => {
    const claims = (await signIn('authjs-app', 'openid profile')).tokens.claims()!;
    expect(claims.name).toBe('Carol Example');
    expect(claims.email).toBeUndefined();
  });

  it('another app gets a bare ID token and the same claims at userinfo', async () => {
    const { tokens, config } = await signIn('test-rp', 'openid profile email');
    const claims = tokens.claims()!;
    expect(claims.sub).toBeDefined();
    expect(claims.name).toBeUndefined();
    expect(claims.preferred_username).toBeUndefined();
    expect(claims.email).toBeUndefined();
    const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    expect(info).toMatchObject({ name: 'Carol Example', preferred_username: 'carol', email: 'carol@example.com' });
  });

  it('another app still gets in the ID token what its claims parameter names', async () => {
    const { tokens } = await signIn('test-rp', 'openid profile', { claims: JSON.stringify({ id_token: { name: null } }) });
    const claims = tokens.claims()!;
    expect(claims.name).toBe('Carol Example');
    expect(claims.preferred_username).toBeUndefined();
  });
});
