import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { startTestIdp, testRp, TEST_RP_SECRET } from '../support/idp.js';
import { FormBrowser } from '../support/web-browser.js';
import { atCallback, authorize, CB, enrollPhone, isLoginPage, MFA_ACR, newUser, PASSWORD, submitHeld, type SessionWorld } from '../security/session-helpers.js';

/**
 * What a relying app's library checks of acr, max_age and discovery (red-team, OIDC spec honesty).
 * The apps: test-rp (default acr names, password-only accounts let in), gold-rp (its own acr names,
 * phones required), jwt-rp (authenticates with client_secret_jwt).
 */
const GOLD = { mfa: 'urn:gold:acr:mfa', password: 'urn:gold:acr:pwd' };
const PWD_ACR = 'urn:pushotp:acr:pwd';
const essential = (value: string) => JSON.stringify({ id_token: { acr: { essential: true, value } } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('acr, max_age and discovery as relying apps read them', () => {
  let w: SessionWorld;
  let gold: oidc.Configuration;
  let jwt: oidc.Configuration;

  beforeAll(async () => {
    const t = await startTestIdp({
      storage: 'postgres', redis: 'real',
      clients: [
        testRp({ login: { consent: 'implicit', noDevice: 'password-only' } }),
        testRp({ client_id: 'gold-rp', client_name: 'Gold RP', login: { consent: 'implicit', noDevice: 'refuse', acr: GOLD } }),
        testRp({ client_id: 'jwt-rp', client_name: 'JWT RP', token_endpoint_auth_method: 'client_secret_jwt', login: { consent: 'implicit' } }),
      ],
    });
    const discover = (id: string, auth?: oidc.ClientAuth) => oidc.discovery(new URL(t.url), id, TEST_RP_SECRET, auth, { execute: [oidc.allowInsecureRequests] });
    w = { t, open: await discover('test-rp'), strict: await discover('gold-rp'), close: () => t.close() };
    gold = w.strict;
    jwt = await discover('jwt-rp', oidc.ClientSecretJwt(TEST_RP_SECRET));
  });
  afterAll(() => w?.close());

  it('an essential acr a password sign-in cannot reach ends at the app with unmet_authentication_requirements, not a login page again', async () => {
    await newUser(w, 'ess');
    const browser = new FormBrowser(w.t.url);
    const started = await authorize(w.open, browser, { claims: essential(MFA_ACR) });
    expect(isLoginPage(started.page)).toBe(true);
    const back = await browser.submit(started.page.body, /\/login$/, { username: 'ess', password: PASSWORD });
    expect(back.url.startsWith(`${CB}?`)).toBe(true);
    const answer = new URL(back.url).searchParams;
    expect(answer.get('error')).toBe('unmet_authentication_requirements');
    expect(answer.get('code')).toBeNull();
  });

  // oidc-provider puts acr_values in place of the claims parameter's acr; and it asks for a sign-in
  // again for any truthy `essential` (red-team: both let a password sign-in through or looped).
  it.each([
    ['with acr_values naming mfa', { claims: essential(MFA_ACR), acr_values: MFA_ACR }],
    ['with acr_values naming the password level', { claims: essential(MFA_ACR), acr_values: PWD_ACR }],
    ['essential as the string "true"', { claims: JSON.stringify({ id_token: { acr: { essential: 'true', value: MFA_ACR } } }) }],
    ['an empty values list', { claims: JSON.stringify({ id_token: { acr: { essential: true, values: [] } } }) }],
    ['a number as the value', { claims: JSON.stringify({ id_token: { acr: { essential: true, value: 5 } } }) }],
    ['value met but values not', { claims: JSON.stringify({ id_token: { acr: { essential: true, value: PWD_ACR, values: [MFA_ACR] } } }) }],
  ])('an essential acr %s that the password sign-in does not meet: unmet_authentication_requirements, no code', async (_name, extra) => {
    const username = `odd${Math.random().toString(36).slice(2, 8)}`;
    await newUser(w, username);
    const browser = new FormBrowser(w.t.url);
    const started = await authorize(w.open, browser, extra);
    expect(isLoginPage(started.page)).toBe(true);
    const back = await browser.submit(started.page.body, /\/login$/, { username, password: PASSWORD });
    expect(back.url.startsWith(`${CB}?`)).toBe(true);
    expect(new URL(back.url).searchParams.get('error')).toBe('unmet_authentication_requirements');
  });

  // Red-team: an object shaped like an array, `{"0": ..., "length": 1}`, as the essential values.
  it('an essential acr whose values are no list goes back to the app as invalid_request before any login page', async () => {
    for (const values of [{ 0: PWD_ACR, length: 1 }, PWD_ACR]) {
      const browser = new FormBrowser(w.t.url);
      const started = await authorize(w.open, browser, { claims: JSON.stringify({ id_token: { acr: { essential: true, values } } }) });
      expect(isLoginPage(started.page)).toBe(false);
      expect(started.page.url.startsWith(`${CB}?`)).toBe(true);
      const answer = new URL(started.page.url).searchParams;
      expect(answer.get('error')).toBe('invalid_request');
      expect(answer.get('code')).toBeNull();
    }
  });

  it('an essential acr the password sign-in reaches gives the code and that acr', async () => {
    await newUser(w, 'ess2');
    const browser = new FormBrowser(w.t.url);
    const started = await authorize(w.open, browser, { claims: essential(PWD_ACR) });
    const back = await browser.submit(started.page.body, /\/login$/, { username: 'ess2', password: PASSWORD });
    expect(atCallback(back.url)).toBe(true);
    expect((await started.tokens(back.url)).claims()).toMatchObject({ acr: PWD_ACR, amr: ['pwd'] });
  });

  it('a finished sign-in held past max_age (and 10 s for the redirect) is not resumed: the user signs in again; one resumed at once is', async () => {
    await newUser(w, 'held');
    await newUser(w, 'held0');
    // Resumed at once with max_age=0: a code, and an auth_time that max_age=0 accepts.
    const quick = new FormBrowser(w.t.url);
    const first = await authorize(w.open, quick, { max_age: '0', prompt: 'login' });
    const soon = await quick.submit(first.page.body, /\/login$/, { username: 'held', password: PASSWORD });
    expect(atCallback(soon.url)).toBe(true);
    const fresh = (await first.tokens(soon.url)).claims()!;
    expect(Math.floor(Date.now() / 1000) - (fresh.auth_time as number)).toBeLessThanOrEqual(2);
    // Held by the browser for 12 s before its resume, with max_age=1, and with max_age=0 (which
    // oidc-provider keeps as prompt=login): the login page, no code.
    const slow = new FormBrowser(w.t.url);
    const second = await authorize(w.open, slow, { max_age: '1', prompt: 'login' });
    const held = await submitHeld(slow, second.page.body, /\/login$/, { username: 'held', password: PASSWORD });
    expect(held.status).toBe(303);
    const zero = new FormBrowser(w.t.url);
    const third = await authorize(w.open, zero, { max_age: '0' });
    const heldZero = await submitHeld(zero, third.page.body, /\/login$/, { username: 'held0', password: PASSWORD });
    expect(heldZero.status).toBe(303);
    await sleep(12_000);
    const resumedZero = await zero.go(heldZero.headers.get('location')!);
    expect(atCallback(resumedZero.url)).toBe(false);
    expect(isLoginPage(resumedZero)).toBe(true);
    const resumed = await slow.go(held.headers.get('location')!);
    expect(atCallback(resumed.url)).toBe(false);
    expect(isLoginPage(resumed)).toBe(true);
    // Signing in again there gives a code with a fresh auth_time.
    const back = await slow.submit(resumed.body, /\/login$/, { username: 'held', password: PASSWORD });
    expect(atCallback(back.url)).toBe(true);
    const claims = (await second.tokens(back.url)).claims()!;
    expect(Math.floor(Date.now() / 1000) - (claims.auth_time as number)).toBeLessThanOrEqual(2);
  }, 30_000);

  it('an app with its own acr names is told a single sign-on session in its names, and its own essential mfa value is met by SSO', async () => {
    const id = await newUser(w, 'vocab');
    const phone = await enrollPhone(w, id);
    const browser = new FormBrowser(w.t.url);
    const s = await authorize(w.open, browser);
    let next = await browser.submit(s.page.body, /\/login$/, { username: 'vocab', password: PASSWORD });
    const form = await browser.go(next.url.replace(/second-factor$/, 'passcode'));
    next = await browser.submit(form.body, /\/passcode$/, { passcode: phone.currentTotp() });
    expect((await s.tokens(next.url)).claims()!.acr).toBe(MFA_ACR);
    // Gold RP by single sign-on: its own mfa value, asked or not.
    const sso = await authorize(gold, browser, { acr_values: GOLD.mfa });
    expect(atCallback(sso.page.url)).toBe(true);
    expect((await sso.tokens()).claims()!.acr).toBe(GOLD.mfa);
    const quiet = await authorize(gold, browser, { prompt: 'none', claims: essential(GOLD.mfa) });
    expect(atCallback(quiet.page.url)).toBe(true);
    expect((await quiet.tokens()).claims()!.acr).toBe(GOLD.mfa);
    // Back at test-rp, the same session is still its own mfa value.
    const home = await authorize(w.open, browser, { prompt: 'none' });
    expect((await home.tokens()).claims()!.acr).toBe(MFA_ACR);
    // An essential value neither app uses is still not met by SSO (prompt=none: login_required).
    const odd = await authorize(gold, browser, { prompt: 'none', claims: essential('urn:other:acr') });
    expect(new URL(odd.page.url).searchParams.get('error')).toBe('login_required');
  });

  it('discovery: a client_secret_jwt app signs in and swaps its code', async () => {
    const meta = await (await fetch(`${w.t.url}/.well-known/openid-configuration`)).json() as Record<string, unknown>;
    expect(meta.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none']));
    expect(meta.token_endpoint_auth_signing_alg_values_supported).toContain('HS256');
    await newUser(w, 'jwtuser');
    const browser = new FormBrowser(w.t.url);
    const s = await authorize(jwt, browser);
    const back = await browser.submit(s.page.body, /\/login$/, { username: 'jwtuser', password: PASSWORD });
    expect(atCallback(back.url)).toBe(true);
    const tokens = await s.tokens(back.url);
    expect(tokens.claims()).toMatchObject({ aud: 'jwt-rp', acr: PWD_ACR });
    // The same request authenticated with the secret in the Authorization header is refused: the app registered client_secret_jwt.
    const refused = await fetch(`${w.t.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`jwt-rp:${TEST_RP_SECRET}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }).toString(),
    });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: 'invalid_client' });
  });
});
