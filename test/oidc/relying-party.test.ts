import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { hashPassword } from '../../src/accounts/passwords.js';
import { startTestIdp, testRp, TEST_RP_SECRET, type TestIdp } from '../support/idp.js';
import { FormBrowser } from '../support/web-browser.js';

/**
 * openid-client as a real relying party against the whole IdP: discovery, authorization code +
 * PKCE through our own login and consent pages, tokens, refresh, userinfo, introspection,
 * revocation and RP-initiated logout.
 */
describe.each(['pglite', 'postgres'] as const)('a relying party signs in (storage %s)', (storage) => {
  let t: TestIdp;
  let config: oidc.Configuration;
  const password = 'correct horse battery';

  beforeAll(async () => {
    t = await startTestIdp({ storage, redis: storage === 'postgres' ? 'real' : 'standin', clients: [testRp()] });
    await t.idp.accounts.create({ username: 'alice', displayName: 'Alice Example', email: 'alice@example.com', passwordHash: await hashPassword(password) });
    config = await oidc.discovery(new URL(t.url), 'test-rp', TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
  });
  afterAll(() => t.close());

  async function signIn(scope = 'openid profile email offline_access') {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: 'http://127.0.0.1:1/cb', scope, state, nonce, prompt: 'consent',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const browser = new FormBrowser(t.url);
    const login = await browser.go(url.href);
    expect(login.res.status).toBe(200);
    expect(login.body).toContain('Sign in');
    const consent = await browser.submit(login.body, /\/login$/, { username: 'alice', password });
    expect(consent.body).toContain('Allow access?');
    expect(consent.body).toContain('Test RP');
    const back = await browser.submit(consent.body, /\/confirm$/, {});
    expect(back.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?/);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(back.url), { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
    return { tokens, browser };
  }

  it('discovers the IdP', () => {
    const md = config.serverMetadata();
    expect(md.issuer).toBe(t.url);
    expect(md.code_challenge_methods_supported).toEqual(['S256']);
    expect(md.introspection_endpoint).toBeDefined();
    expect(md.revocation_endpoint).toBeDefined();
    expect(md.end_session_endpoint).toBeDefined();
    expect(md.claims_parameter_supported).toBe(true);
    // Only claims that are given (red-team: updated_at was listed and never supplied).
    expect([...(md.claims_supported ?? [])].sort()).toEqual(['acr', 'amr', 'auth_time', 'email', 'email_verified', 'iss', 'name', 'preferred_username', 'sid', 'sub'].sort());
  });

  it('gets an ID token with sub, auth_time, acr and amr ["pwd"] after a password-only sign-in', async () => {
    const { tokens } = await signIn();
    const claims = tokens.claims()!;
    const alice = await t.idp.accounts.findByUsername('alice');
    expect(claims.sub).toBe(alice!.id);
    expect(claims.amr).toEqual(['pwd']);
    expect(claims.acr).toBe('urn:pushotp:acr:pwd');
    expect(typeof claims.auth_time).toBe('number');
    expect(Math.abs((claims.auth_time as number) - Date.now() / 1000)).toBeLessThan(60);
  });

  it('refreshes, reads userinfo, introspects and revokes', async () => {
    const { tokens } = await signIn();
    const info = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
    expect(info).toMatchObject({ preferred_username: 'alice', name: 'Alice Example', email: 'alice@example.com' });

    expect(tokens.refresh_token).toBeTruthy();
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    expect(refreshed.claims()!.amr).toEqual(['pwd']);

    const active = await oidc.tokenIntrospection(config, refreshed.access_token);
    expect(active.active).toBe(true);
    expect(active.sub).toBe(tokens.claims()!.sub);

    await oidc.tokenRevocation(config, refreshed.access_token);
    expect((await oidc.tokenIntrospection(config, refreshed.access_token)).active).toBe(false);
  });

  it('honours the claims parameter', async () => {
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: 'http://127.0.0.1:1/cb', scope: 'openid', state: 's', prompt: 'consent',
      claims: JSON.stringify({ id_token: { email: { essential: true } } }),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const browser = new FormBrowser(t.url);
    const login = await browser.go(url.href);
    const consent = await browser.submit(login.body, /\/login$/, { username: 'alice', password });
    const back = await browser.submit(consent.body, /\/confirm$/, {});
    const tokens = await oidc.authorizationCodeGrant(config, new URL(back.url), { pkceCodeVerifier: verifier, expectedState: 's' });
    expect(tokens.claims()!.email).toBe('alice@example.com');
    expect(tokens.claims()!.name).toBeUndefined();
  });

  it('signs out through RP-initiated logout', async () => {
    const { tokens, browser } = await signIn();
    const end = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'http://127.0.0.1:1/bye', state: 'x' });
    const confirm = await browser.go(end.href);
    expect(confirm.body).toContain('Sign out?');
    const form = confirm.body.match(/<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/)!;
    const xsrf = form[2]!.match(/name="xsrf" value="([^"]+)"/)![1]!;
    const out = await browser.go(form[1]!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ xsrf, logout: 'yes' }).toString() });
    expect(out.url).toBe('http://127.0.0.1:1/bye?state=x');
    // The session is gone: a new authorization asks for the password again.
    const again = await browser.go(oidc.buildAuthorizationUrl(config, { redirect_uri: 'http://127.0.0.1:1/cb', scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' }).href);
    expect(again.body).toContain('name="password"');
  });

  it('says the same thing for an unknown user and a wrong password', async () => {
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: 'http://127.0.0.1:1/cb', scope: 'openid', code_challenge: 'y'.repeat(43), code_challenge_method: 'S256' });
    const bodies: string[] = [];
    for (const username of ['alice', 'nobody-here']) {
      const browser = new FormBrowser(t.url);
      const login = await browser.go(url.href);
      const res = await browser.submit(login.body, /\/login$/, { username, password: 'wrong password!' });
      expect(res.res.status).toBe(401);
      bodies.push(res.body.match(/<p class="alert"[^>]*>([^<]*)</)![1]!);
    }
    expect(bodies[0]).toBe(bodies[1]);
  });
});
