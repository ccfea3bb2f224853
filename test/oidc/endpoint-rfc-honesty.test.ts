import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { hashPassword } from '../../src/accounts/passwords.js';
import { startTestIdp, testRp, TEST_RP_SECRET, type TestIdp } from '../support/idp.js';
import { FormBrowser } from '../support/web-browser.js';

/**
 * What relying-party libraries expect of the endpoints (red-team, RFC honesty): RP-Initiated Logout
 * by POST, silent renew after a revoked grant at a first-party app, and the token response's caching
 * headers.
 */
const CB = 'http://127.0.0.1:1/cb';
const BYE = 'http://127.0.0.1:1/bye';
const basic = `Basic ${Buffer.from(`test-rp:${TEST_RP_SECRET}`).toString('base64')}`;

describe('endpoints as relying-party libraries read them', () => {
  let t: TestIdp;
  const form = (path: string, body: Record<string, string>, headers: Record<string, string> = {}) => fetch(`${t.url}${path}`, {
    method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(body).toString(),
  });

  /** An authorization in this browser; the password when the login page shows; the code if the app got one. */
  async function authorize(browser: FormBrowser, extra: Record<string, string> = {}) {
    const verifier = oidc.randomPKCECodeVerifier();
    const q = { client_id: 'test-rp', redirect_uri: CB, response_type: 'code', scope: 'openid', state: 'st', code_challenge_method: 'S256', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), ...extra };
    let page = await browser.go(`/auth?${new URLSearchParams(q).toString()}`);
    if (page.body.includes('name="password"')) page = await browser.submit(page.body, /\/login$/, { username: 'rfc', password: 'rfc password 1' });
    const at = page.url.startsWith(`${CB}?`) ? new URL(page.url).searchParams : null;
    return { page, verifier, code: at?.get('code') ?? null, error: at?.get('error') ?? null };
  }
  const exchange = async (code: string, verifier: string) => form('/token', { grant_type: 'authorization_code', code, redirect_uri: CB, code_verifier: verifier }, { authorization: basic });

  beforeAll(async () => {
    t = await startTestIdp({ storage: 'postgres', redis: 'real', clients: [testRp({ login: { consent: 'implicit' } }), testRp({ client_id: 'other-rp', login: { consent: 'implicit' } })] });
    await t.idp.accounts.create({ username: 'rfc', passwordHash: await hashPassword('rfc password 1') });
  });
  afterAll(() => t?.close());

  it('RP-Initiated Logout 1.0 section 2: a POSTed logout request is served like the GET one, and its confirmation ends the session', async () => {
    const browser = new FormBrowser(t.url);
    const first = await authorize(browser);
    const tokens = await (await exchange(first.code!, first.verifier)).json() as { id_token: string };
    const params = new URLSearchParams({ id_token_hint: tokens.id_token, post_logout_redirect_uri: BYE, state: 'bye-state' }).toString();
    // Sent on as the GET (a top-level navigation, which carries the session), never served in place.
    const asked = await browser.request('/session/end', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: params });
    expect(asked.status).toBe(303);
    expect(asked.headers.get('location')).toBe(`/session/end?${params}`);
    expect(asked.headers.getSetCookie()).toEqual([]);
    const page = await browser.go(asked.headers.get('location')!);
    const done = await browser.submit(page.body, /\/session\/end\/confirm$/, { logout: 'yes' });
    expect(done.url).toBe(`${BYE}?state=bye-state`);
    expect((await authorize(browser, { prompt: 'none' })).error).toBe('login_required');
  });

  // Red-team: served in place, a cross-site POST (no SameSite=Lax session cookie with it) made a new
  // session whose cookie replaced the user's: any page signed the user out with no click.
  it('a POSTed logout without the session cookie (a cross-site form) sets no cookie and ends nothing', async () => {
    const browser = new FormBrowser(t.url);
    await authorize(browser);
    const res = await form('/session/end', { client_id: 'test-rp' }, { origin: 'http://evil.example' });
    expect(res.status).toBe(303);
    expect(res.headers.getSetCookie()).toEqual([]);
    expect((await authorize(browser, { prompt: 'none' })).code).toBeTruthy();
  });

  it.each([
    ['its refresh token revoked (RFC 7009)', 'revoke'],
    ['its code replayed (RFC 6749 4.1.2)', 'replay'],
  ])('a first-party app whose grant was destroyed (%s) still renews silently: a code, not consent_required', async (_name, how) => {
    const browser = new FormBrowser(t.url);
    const first = await authorize(browser);
    const res = await exchange(first.code!, first.verifier);
    const tokens = await res.json() as { refresh_token: string };
    if (how === 'revoke') expect((await form('/token/revocation', { token: tokens.refresh_token, token_type_hint: 'refresh_token' }, { authorization: basic })).status).toBe(200);
    else expect((await exchange(first.code!, first.verifier)).status).toBe(400);
    // The old grant is gone: its refresh token no longer works.
    expect((await form('/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { authorization: basic })).status).toBe(400);
    const silent = await authorize(browser, { prompt: 'none' });
    expect(silent.error).toBeNull();
    expect(silent.code).toBeTruthy();
    expect((await exchange(silent.code!, silent.verifier)).status).toBe(200);
  });

  it('token responses, answers and errors alike, carry Cache-Control: no-store and Pragma: no-cache (RFC 6749 5.1, 5.2)', async () => {
    const browser = new FormBrowser(t.url);
    const first = await authorize(browser);
    const ok = await exchange(first.code!, first.verifier);
    const bad = await exchange(first.code!, first.verifier);
    for (const res of [ok, bad]) {
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('pragma')).toBe('no-cache');
    }
    expect([ok.status, bad.status]).toEqual([200, 400]);
  });

  // README: `consent: implicit` is for first-party apps, which get what they ask for without a
  // consent page. Red-team: once such an app had a grant, a further scope or claim asked for by
  // single sign-on showed the consent page, and a silent renew (prompt=none) got consent_required.
  it('a first-party app asking for a further scope or claim by single sign-on gets it with no consent page, silently too', async () => {
    const browser = new FormBrowser(t.url);
    expect((await authorize(browser)).code).toBeTruthy();
    const more = await authorize(browser, { scope: 'openid email' });
    expect(more.page.body).not.toMatch(/\/confirm"/);
    expect(more.code).toBeTruthy();
    const tokens = await (await exchange(more.code!, more.verifier)).json() as { scope: string };
    expect(tokens.scope.split(' ').sort()).toEqual(['email', 'openid']);
    const silent = await authorize(browser, { scope: 'openid profile', prompt: 'none' });
    expect(silent.error).toBeNull();
    expect(silent.code).toBeTruthy();
    const claims = await authorize(browser, { prompt: 'none', claims: JSON.stringify({ userinfo: { preferred_username: null } }) });
    expect(claims.error).toBeNull();
    expect(claims.code).toBeTruthy();
  });

  // OIDC Core 3.1.2.1: redirect_uri is REQUIRED in an authentication request; RFC 6749 4.1.3 and OIDC
  // Core 3.1.3.2: REQUIRED at the token endpoint when the authorization request had it. oidc-provider's
  // default filled it in for an app registered with one (red-team: both were taken without it).
  it('redirect_uri is required at /auth and at the code exchange; an exchange without it leaves the code usable', async () => {
    const browser = new FormBrowser(t.url);
    expect((await authorize(browser)).code).toBeTruthy(); // signed in: only the parameter is judged below
    const verifier = oidc.randomPKCECodeVerifier();
    const q = { client_id: 'test-rp', response_type: 'code', scope: 'openid', state: 'st', code_challenge_method: 'S256', code_challenge: await oidc.calculatePKCECodeChallenge(verifier) };
    const bare = await browser.go(`/auth?${new URLSearchParams(q).toString()}`);
    expect(bare.res.status).toBe(400);
    expect(bare.body).toMatch(/redirect_uri/);
    expect(bare.url).not.toContain('code=');
    const got = await authorize(browser);
    const without = await form('/token', { grant_type: 'authorization_code', code: got.code!, code_verifier: got.verifier }, { authorization: basic });
    expect(without.status).toBe(400);
    expect(await without.json()).toMatchObject({ error: 'invalid_request' });
    expect((await exchange(got.code!, got.verifier)).status).toBe(200);
  });

  // RFC 7009 2.1: a token that was not issued to the client asking is not revoked, and the request
  // is refused with an error (red-team: answered 200 as if revoked). The token's own app keeps it.
  it('revoking another app\'s token is refused with invalid_request and revokes nothing', async () => {
    const browser = new FormBrowser(t.url);
    const got = await authorize(browser);
    const tokens = await (await exchange(got.code!, got.verifier)).json() as { access_token: string };
    const otherBasic = `Basic ${Buffer.from(`other-rp:${TEST_RP_SECRET}`).toString('base64')}`;
    const refused = await form('/token/revocation', { token: tokens.access_token }, { authorization: otherBasic });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: 'invalid_request' });
    const still = await (await form('/token/introspection', { token: tokens.access_token }, { authorization: basic })).json() as { active: boolean };
    expect(still.active).toBe(true);
    expect((await form('/token/revocation', { token: tokens.access_token }, { authorization: basic })).status).toBe(200);
    const gone = await (await form('/token/introspection', { token: tokens.access_token }, { authorization: basic })).json() as { active: boolean };
    expect(gone.active).toBe(false);
  });

  // RFC 6750 3: userinfo's refusal of credentials says how to present them (WWW-Authenticate), the
  // edge's refusal of undecodable Basic credentials (src/http/hostile.ts) as oidc-provider's own do.
  it('userinfo answers credentials it cannot decode with 400 and WWW-Authenticate: Bearer', async () => {
    for (const authorization of ['Basic abc', `Basic ${Buffer.from([0x61, 0x3a, 0xff]).toString('base64')}`]) {
      const res = await fetch(`${t.url}/me`, { headers: { authorization } });
      expect(res.status).toBe(400);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_request"/);
      expect(await res.json()).toMatchObject({ error: 'invalid_request' });
    }
  });
});
