import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FormBrowser } from '../support/web-browser.js';
import { atCallback, authorize, CB, enrollPhone, isLoginPage, MFA_ACR, newUser, PASSWORD, signIn, startSessionWorld, type SessionWorld } from './session-helpers.js';

/**
 * Audit item 2: a password-only SSO session must not satisfy an app that needs more. Each app's
 * policy is checked at every authorization, SSO included: a session without the second factor gets
 * a new sign-in (never a code) when the app refuses the password alone, when the account has a
 * device now, or when the app asks for the mfa acr.
 */
describe('SSO policy bypass', () => {
  let w: SessionWorld;
  beforeAll(async () => { w = await startSessionWorld(); });
  afterAll(() => w.close());

  it('a password-only session from a password-only app gets no code from an app that refuses the password alone', async () => {
    await newUser(w, 'nophone');
    const browser = new FormBrowser(w.t.url);
    expect((await signIn(w.open, browser, 'nophone')).claims()!.amr).toEqual(['pwd']);

    const strict = await authorize(w.strict, browser);
    expect(isLoginPage(strict.page)).toBe(true);
    const silent = await authorize(w.strict, browser, { prompt: 'none' });
    expect(silent.page.url.startsWith(`${CB}?`)).toBe(true);
    expect(new URL(silent.page.url).searchParams.get('error')).toBe('login_required');
    expect(new URL(silent.page.url).searchParams.get('code')).toBeNull();
  });

  it('a password session made before the account got a device no longer signs in anywhere', async () => {
    const id = await newUser(w, 'laterphone');
    const browser = new FormBrowser(w.t.url);
    await signIn(w.open, browser, 'laterphone');
    // SSO works while the account has no device ...
    const sso = await authorize(w.open, browser);
    expect(atCallback(sso.page.url)).toBe(true);
    expect((await sso.tokens()).claims()!.amr).toEqual(['pwd']);

    // ... and stops once it has one: a new sign-in, which now asks for the second factor.
    await enrollPhone(w, id);
    const after = await authorize(w.open, browser);
    expect(isLoginPage(after.page)).toBe(true);
    const next = await browser.submit(after.page.body, /\/login$/, { username: 'laterphone', password: PASSWORD });
    expect(next.url).toMatch(/\/second-factor$/);
  });

  it('an app asking for the mfa acr (acr_values or an essential acr claim) gets a new sign-in, not the password session', async () => {
    await newUser(w, 'acruser');
    const browser = new FormBrowser(w.t.url);
    await signIn(w.open, browser, 'acruser');
    expect(isLoginPage((await authorize(w.open, browser, { acr_values: MFA_ACR })).page)).toBe(true);
    const claims = JSON.stringify({ id_token: { acr: { essential: true, value: MFA_ACR } } });
    expect(isLoginPage((await authorize(w.open, browser, { claims })).page)).toBe(true);
    // The password acr is still fine for this session.
    expect(atCallback((await authorize(w.open, browser, { acr_values: 'urn:pushotp:acr:pwd' })).page.url)).toBe(true);
  });

  it('a session with both factors opens the strict app without a new sign-in, and says so', async () => {
    const id = await newUser(w, 'withphone');
    const phone = await enrollPhone(w, id);
    const browser = new FormBrowser(w.t.url);
    expect((await signIn(w.open, browser, 'withphone', phone)).claims()!.amr).toContain('mfa');

    const strict = await authorize(w.strict, browser, { acr_values: MFA_ACR });
    expect(atCallback(strict.page.url)).toBe(true);
    const claims = (await strict.tokens()).claims()!;
    expect(claims.amr).toContain('mfa');
    expect(claims.acr).toBe(MFA_ACR);
  });

  it('an account whose only device was revoked gets no password-only code (it never falls back to the password alone)', async () => {
    const id = await newUser(w, 'revokedonly');
    const phone = await enrollPhone(w, id, { confirm: true });
    await w.t.idp.deviceService.revokeDevice(id, phone.deviceId);
    const browser = new FormBrowser(w.t.url);
    const started = await authorize(w.open, browser);
    const end = await browser.submit(started.page.body, /\/login$/, { username: 'revokedonly', password: PASSWORD });
    // Refused by the sign-in, or by the login check after it: either way no code reaches the app.
    expect(new URL(end.url).searchParams.get('code')).toBeNull();
    expect(atCallback(end.url)).toBe(false);
    expect(end.res.status).toBeLessThan(500);
    if (end.url.startsWith(`${CB}?`)) expect(new URL(end.url).searchParams.get('error')).toBe('access_denied');
  });
});
