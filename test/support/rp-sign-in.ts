import * as oidc from 'openid-client';
import { hashPassword } from '../../src/accounts/passwords.js';
import type { TestIdp } from './idp.js';
import { FormBrowser } from './web-browser.js';

/**
 * A new password-only user signs in through a relying app (openid-client, PKCE, scope openid unless
 * given) up to the redirect back: the callback URL carrying the code, not exchanged yet, and the
 * browser (its session cookie signs in to further apps). `existing`: the user was made before (another browser of theirs).
 */
export async function signInToCallback(t: TestIdp, config: oidc.Configuration, username: string, scope = 'openid', opts: { existing?: boolean } = {}) {
  if (!opts.existing) await t.idp.accounts.create({ username, passwordHash: await hashPassword(`${username} password 1`) });
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: 'http://127.0.0.1:1/cb', scope, state: 's', prompt: 'login',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  }).href;
  const browser = new FormBrowser(t.url);
  const login = await browser.go(url);
  const back = await browser.submit(login.body, /\/login$/, { username, password: `${username} password 1` });
  const callback = new URL(back.url);
  return { callback, verifier, browser, exchange: (parameters?: Record<string, string>) => oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 's' }, parameters) };
}
