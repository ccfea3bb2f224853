import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { hashPassword } from '../../src/accounts/passwords.js';
import { startTestIdp, testRp, TEST_RP_SECRET, type TestIdp } from '../support/idp.js';
import { FormBrowser } from '../support/web-browser.js';

/**
 * An app that asks for consent again with nothing new to allow (`prompt=consent`, which
 * oidc-provider wants with `offline_access`) shows the user what the app gets, not an empty list
 * (red-team, relying-party libraries: "Test RP asks to:" over nothing), and Allow goes on to tokens.
 */
describe('consent asked again with nothing new', () => {
  let t: TestIdp;
  beforeAll(async () => {
    t = await startTestIdp({ clients: [testRp({ login: { consent: 'implicit' } })] });
    await t.idp.accounts.create({ username: 'again', passwordHash: await hashPassword('again password 1') });
  });
  afterAll(() => t.close());

  it('lists the scopes asked for, and Allow gives tokens with a refresh token', async () => {
    const config = await oidc.discovery(new URL(t.url), 'test-rp', TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: 'http://127.0.0.1:1/cb', scope: 'openid offline_access', prompt: 'consent', state: 's',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const browser = new FormBrowser(t.url);
    const login = await browser.go(url.href.slice(t.url.length));
    const consent = await browser.submit(login.body, /\/login$/, { username: 'again', password: 'again password 1' });
    expect(consent.body).toContain('/confirm"');
    const items = [...(/<ul class="scopes">([\s\S]*?)<\/ul>/.exec(consent.body)?.[1] ?? '').matchAll(/<li>([^<]*)<\/li>/g)].map((m) => m[1]);
    expect(items).toEqual(['Know who you are', 'Stay signed in (keep access while you are away)']);
    const back = await browser.submit(consent.body, /\/confirm$/, {});
    const tokens = await oidc.authorizationCodeGrant(config, new URL(back.url), { pkceCodeVerifier: verifier, expectedState: 's' });
    expect(tokens.refresh_token).toBeTruthy();
  });
});
