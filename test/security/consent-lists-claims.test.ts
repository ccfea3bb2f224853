import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { hashPassword } from '../../src/accounts/passwords.js';
import { startTestIdp, testRp, TEST_RP_SECRET, type TestIdp } from '../support/idp.js';
import { FormBrowser } from '../support/web-browser.js';

/**
 * Audit item 8: a relying app asked for `email` through the `claims` parameter under scope
 * `openid`; the consent page listed only "Know who you are", and Allow released the e-mail address.
 * The page must name every claim the grant will release, and a claim the user did not allow must
 * not be released.
 */
describe('the consent page names the claims asked for with the claims parameter', () => {
  let t: TestIdp;
  let config: oidc.Configuration;
  const password = 'correct horse battery';
  const callback = 'http://127.0.0.1:1/cb';

  beforeAll(async () => {
    t = await startTestIdp({ clients: [testRp()] });
    await t.idp.accounts.create({ username: 'alice', displayName: 'Alice Example', email: 'alice@example.com', passwordHash: await hashPassword(password) });
    config = await oidc.discovery(new URL(t.url), 'test-rp', TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
  });
  afterAll(() => t.close());

  const authorize = async (browser: FormBrowser, claims: unknown) => {
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: callback, scope: 'openid', state: 's', claims: JSON.stringify(claims),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    return { page: await browser.go(url.href), verifier };
  };
  const listed = (html: string) => [...html.matchAll(/<li>([^<]*)<\/li>/g)].map((m) => m[1]!.trim());

  it('lists the e-mail claim asked for under scope openid, then releases it on Allow', async () => {
    const browser = new FormBrowser(t.url);
    const { page, verifier } = await authorize(browser, { id_token: { email: { essential: true }, email_verified: null } });
    const consent = await browser.submit(page.body, /\/login$/, { username: 'alice', password });
    expect(consent.body).toContain('Allow access?');
    expect(listed(consent.body)).toEqual(['Know who you are', 'See your e-mail address', 'See whether your e-mail address is verified']);

    const back = await browser.submit(consent.body, /\/confirm$/, {});
    const tokens = await oidc.authorizationCodeGrant(config, new URL(back.url), { pkceCodeVerifier: verifier, expectedState: 's' });
    expect(tokens.claims()!.email).toBe('alice@example.com');
    // Only what was listed: nothing of the profile scope, in the ID token or at userinfo.
    expect(tokens.claims()!.name).toBeUndefined();
    const info = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
    expect(info.preferred_username).toBeUndefined();
    expect(info.name).toBeUndefined();

    const [event] = await t.idp.db.query<{ detail: { claims: string[] } }>("SELECT detail FROM audit_events WHERE type = 'consent.granted'");
    expect(event!.detail.claims).toEqual(['email', 'email_verified']);
  });

  it('asks again for a claim not yet allowed, and denying it releases nothing', async () => {
    const browser = new FormBrowser(t.url);
    const first = await authorize(browser, { id_token: { email: null } });
    const consent = await browser.submit(first.page.body, /\/login$/, { username: 'alice', password });
    const back = await browser.submit(consent.body, /\/confirm$/, {});
    expect(back.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);

    // Same browser session, same app: the username was never allowed, so it is not given silently.
    const again = await authorize(browser, { userinfo: { preferred_username: null, name: null } });
    expect(again.page.url).toMatch(/\/interaction\//);
    expect(listed(again.page.body)).toEqual(['See your username', 'See your name']);
    const denied = await browser.submit(again.page.body, /\/abort$/, {});
    expect(new URL(denied.url).searchParams.get('error')).toBe('access_denied');
    expect(new URL(denied.url).searchParams.get('code')).toBeNull();
  });
});
