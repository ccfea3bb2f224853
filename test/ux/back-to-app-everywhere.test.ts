import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { appHome } from '../../src/interaction/back-to-app.js';
import { samlInternalClient } from '../../src/saml/internal-client.js';
import type { ServiceProvider } from '../../src/saml/sp-config.js';
import { FormBrowser } from '../support/web-browser.js';
import { authorize, isLoginPage, newUser, PASSWORD, startSessionWorld, submitHeld, type SessionWorld } from '../security/session-helpers.js';

/**
 * docs/pages.md: "Every error page of a sign-in carries the same button" (Back to <app>). Red-team
 * (pages round, two processes in Chromium): two did not. A sign-in's form URL opened with GET (the
 * address bar of a wrong-password page, Enter) gave a 405 page with no way back, and the resume URL
 * revisited after the sign-in (Back, or a bookmark) gave oidc-provider's "authorization request has
 * expired" with none either; the remembered app's cookie was also bound to /interaction, so the
 * resume URL could not have read it, nor could an issuer served under a path.
 */
describe('"Back to <app>" on every error page of a sign-in', () => {
  let w: SessionWorld;
  beforeAll(async () => {
    w = await startSessionWorld();
    await newUser(w, 'returner');
  });
  afterAll(async () => {
    await w?.close();
  });

  const backButton = (html: string) => /<a href="([^"]*)" class="button primary" id="back-to-app">([^<]*)<\/a>/.exec(html)?.slice(1);

  it('on the 405 of a form URL opened with GET, and the remembered app is the whole site\'s cookie', async () => {
    const browser = new FormBrowser(w.t.url);
    const { page } = await authorize(w.open, browser);
    expect(isLoginPage(page)).toBe(true);
    const uid = /\/interaction\/([^/?]+)/.exec(page.url)![1]!;

    const entry = await browser.request(`/interaction/${uid}`);
    expect(entry.headers.getSetCookie().find((c) => c.startsWith('idp_app='))).toMatch(/; path=\/;/);
    await entry.text();

    for (const path of ['login', 'push', 'abort', 'confirm']) {
      const res = await browser.request(`/interaction/${uid}/${path}`);
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toMatch(/POST/);
      expect(backButton(await res.text())).toEqual(['http://127.0.0.1:1/', 'Back to Test RP']);
    }
    // A caller that asks for JSON still gets the JSON refusal.
    const json = await browser.request(`/interaction/${uid}/login`, { headers: { accept: 'application/json' } });
    expect(json.status).toBe(405);
    expect(await json.json()).toMatchObject({ error: 'method_not_allowed' });
  });

  it('on the resume URL revisited after the sign-in finished', async () => {
    const browser = new FormBrowser(w.t.url);
    const started = await authorize(w.open, browser);
    const held = await submitHeld(browser, started.page.body, /\/login$/, { username: 'returner', password: PASSWORD });
    expect(held.status).toBe(303);
    const resume = new URL(held.headers.get('location')!, w.t.url).href;
    expect(resume).toMatch(/\/auth\/[A-Za-z0-9_-]+$/);
    const done = await browser.go(resume);
    expect(done.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);

    const again = await browser.request(resume);
    expect(again.status).toBe(400);
    expect(backButton(await again.text())).toEqual(['http://127.0.0.1:1/', 'Back to Test RP']);
    // A browser that never signed in to an app here gets the page without a button, as before.
    const stranger = await new FormBrowser(w.t.url).request(resume);
    expect(stranger.status).toBe(400);
    expect(backButton(await stranger.text())).toBeUndefined();
  });

  it('a planted cookie naming another app leads nowhere: only the signed one this IdP wrote counts', async () => {
    // Review: the cookie was read without its signature, so any host that could set a cookie for the IdP named the app.
    const browser = new FormBrowser(w.t.url);
    const { page } = await authorize(w.open, browser);
    const uid = /\/interaction\/([^/?]+)/.exec(page.url)![1]!;
    const signed = await browser.request(`/interaction/${uid}/login`);
    expect(backButton(await signed.text())).toEqual(['http://127.0.0.1:1/', 'Back to Test RP']);
    for (const cookie of ['idp_app=strict-rp', `idp_app=strict-rp; idp_app.sig=${'A'.repeat(27)}`]) {
      const res = await fetch(`${w.t.url}/interaction/${uid}/login`, { headers: { accept: 'text/html', cookie } });
      expect(res.status).toBe(405);
      expect(backButton(await res.text())).toBeUndefined();
    }
  });

  it('a SAML app\'s button goes to the SP\'s site, not to the IdP\'s own root', () => {
    // Review: its internal client's only URL is the IdP's /saml/sp/<id>/callback, whose origin is the IdP's.
    const sp = { id: 'generic', name: 'Generic SP', file: 'generic.json', policy: {}, acs: [{ url: 'https://sp.example.test/saml/acs', index: 0, isDefault: false }] } as unknown as ServiceProvider;
    const { metadata } = samlInternalClient('https://idp.example.test', sp);
    expect(appHome({ clientId: String(metadata.client_id), clientUri: metadata.client_uri as string, redirectUris: metadata.redirect_uris as string[] })).toBe('https://sp.example.test/');
  });

  it('on an authorization error of a registered app, back to that app', async () => {
    const browser = new FormBrowser(w.t.url);
    const res = await browser.request(`/auth?client_id=test-rp&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('http://127.0.0.1:1/elsewhere')}`);
    expect(res.status).toBe(400);
    expect(backButton(await res.text())).toEqual(['http://127.0.0.1:1/', 'Back to Test RP']);
  });
});
