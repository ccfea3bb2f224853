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
    t = await startTestIdp({ storage: 'postgres', redis: 'real', clients: [testRp({ login: { consent: 'implicit' } })] });
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
});
