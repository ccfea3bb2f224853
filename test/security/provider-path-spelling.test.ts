import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { hashPassword } from '../../src/accounts/passwords.js';
import { misspelledProviderPath } from '../../src/http/hostile.js';
import { startTestIdp, testRp, TEST_RP_SECRET, type TestIdp } from '../support/idp.js';
import { FormBrowser } from '../support/web-browser.js';
import { cibaClient, CIBA_SECRET } from '../ciba/world.js';

/**
 * oidc-provider finds its endpoints without regard to ASCII case; what we check by path must see
 * every spelling it serves (red-team: `POST /Request` skipped the form checks, a NUL in `nonce`
 * went into the pushed request, and the code exchange of the sign-in it started was a 500 after
 * the code was spent). Other spellings are now refused before anything reads them.
 */
describe('oidc-provider\'s endpoints answer only at their own spelling', () => {
  let t: TestIdp;
  beforeAll(async () => {
    t = await startTestIdp({
      storage: 'postgres', redis: 'real',
      clients: [testRp({ login: { consent: 'implicit' } }), cibaClient('ciba-rp', 'poll')],
      env: { CIBA_RP_SECRET: CIBA_SECRET, CIBA_SECRET },
    });
  });
  afterAll(() => t.close());

  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  const post = (path: string, form: Record<string, string>, auth = basic('test-rp', TEST_RP_SECRET)) => fetch(`${t.url}${path}`, {
    method: 'POST', redirect: 'manual',
    headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(form),
  });

  it('which paths are misspelt (pure)', () => {
    for (const p of ['/Request', '/TOKEN', '/token/Introspection', '/Token/revocation', '/ME', '/Jwks', '/Backchannel', '/session/End', '/Session/end/confirm', '/.Well-Known/openid-configuration', '/.well-known/OpenID-Configuration', '/AUTH', '/Auth/abcDEF', '/Reg/x', '/autH', '/auTh/abc', '/reG/x', '/token/', '/auth/', '/auth/abc/', '/request/', '/.well-known/openid-configuration/', '/session/end/', '/jwks/']) {
      expect({ p, misspelt: misspelledProviderPath(p) }).toEqual({ p, misspelt: true });
    }
    // The sign-in's own id after /auth keeps its letters; our own pages are not oidc-provider's.
    for (const p of ['/request', '/token', '/token/introspection', '/me', '/jwks', '/backchannel', '/session/end', '/.well-known/openid-configuration', '/auth', '/auth/abcDEF_12', '/reg/AbC', '/interaction/AbC/login', '/account', '/Account', '/meta', '/tokens', '/']) {
      expect({ p, misspelt: misspelledProviderPath(p) }).toEqual({ p, misspelt: false });
    }
  });

  it('POST /Request (and every other spelling) is a 404 in the OAuth format; /request refuses the NUL as before', async () => {
    const verifier = oidc.randomPKCECodeVerifier();
    const par = {
      client_id: 'test-rp', response_type: 'code', scope: 'openid', redirect_uri: 'http://127.0.0.1:1/cb', state: 's', nonce: 'n\u0000n',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    };
    for (const path of ['/Request', '/REQUEST', '/request/']) {
      const res = await post(path, par);
      const body = await res.json() as { error?: string };
      expect({ path, status: res.status, error: body.error }).toEqual({ path, status: 404, error: 'not_found' });
    }
    const claims = await post('/Request', { ...par, nonce: 'ok', claims: '{"userinfo":{"x\\u0000y":null}}' });
    expect(claims.status).toBe(404);
    expect((await post('/request', { ...par, nonce: 'ok', claims: '{"userinfo":{"x\\u0000y":null}}' })).status).toBe(400);
    expect((await post('/Backchannel', { scope: 'openid', login_hint: 'a\u0000b' }, basic('ciba-rp', CIBA_SECRET))).status).toBe(404);
    for (const path of ['/Token', '/token/Introspection', '/Token/revocation', '/ME', '/Session/end']) {
      const res = await post(path, { token: 'x', grant_type: 'refresh_token', refresh_token: 'x' });
      expect({ path, status: res.status, error: (await res.json() as { error?: string }).error }).toEqual({ path, status: 404, error: 'not_found' });
    }
    expect((await fetch(`${t.url}/.Well-Known/openid-configuration`)).status).toBe(404);
    // With a slash after the name (its router takes it too): not served either.
    expect((await fetch(`${t.url}/.well-known/openid-configuration/`)).status).toBe(404);
    expect((await fetch(`${t.url}/jwks/`)).status).toBe(404);
    expect((await fetch(`${t.url}/.well-known/openid-configuration`)).status).toBe(200);
  });

  it('a sign-in started at the right spelling still goes through to tokens (the resume keeps its id\'s letters)', async () => {
    await t.idp.accounts.create({ username: 'speller', passwordHash: await hashPassword('speller password 1') });
    const config = await oidc.discovery(new URL(t.url), 'test-rp', TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: 'http://127.0.0.1:1/cb', scope: 'openid', state: 's', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const browser = new FormBrowser(t.url);
    const login = await browser.go(url.href.slice(t.url.length));
    const back = await browser.submit(login.body, /\/login$/, { username: 'speller', password: 'speller password 1' });
    const tokens = await oidc.authorizationCodeGrant(config, new URL(back.url), { pkceCodeVerifier: verifier, expectedState: 's' });
    expect(tokens.claims()?.sub).toBeTruthy();
  });
});
