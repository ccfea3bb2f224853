import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as oidc from 'openid-client';
import { hashPassword } from '../../src/accounts/passwords.js';
import { freePort, freshSchemaUrl, startTestIdp, testRp, TEST_RP_SECRET, type TestIdpOptions } from '../support/idp.js';
import { uniquePrefix } from '../support/env.js';
import { FormBrowser } from '../support/web-browser.js';

/**
 * What a relying app holds must survive a restart of the IdP process: the refresh token, the
 * grant behind it, the browser's session, and the signing keys that verify the old ID token.
 */
describe.each([
  ['embedded default (PGlite data folder)', 'pglite', 'standin'],
  ['PostgreSQL and Redis', 'postgres', 'real'],
] as const)('after a restart, %s', (_label, storage, redis) => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'idp-restart-'));
  let dropSchema: (() => Promise<void>) | null = null;
  afterAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    await dropSchema?.();
  });

  it('accepts the refresh token, keeps the session and the keys', async () => {
    const port = await freePort();
    const schema = storage === 'postgres' ? await freshSchemaUrl() : null;
    dropSchema = schema?.drop ?? null;
    const opts: TestIdpOptions = { storage, redis, dataDir, port, redisPrefix: uniquePrefix('restart'), clients: [testRp()], ...(schema ? { schema: schema.schema } : {}) };

    const first = await startTestIdp(opts);
    await first.idp.accounts.create({ username: 'bob', passwordHash: await hashPassword('bob password 1') });
    const config = await oidc.discovery(new URL(first.url), 'test-rp', TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const authUrl = (v: string) => oidc.buildAuthorizationUrl(config, {
      redirect_uri: 'http://127.0.0.1:1/cb', scope: 'openid offline_access', prompt: 'consent', state: 'st',
      code_challenge: v, code_challenge_method: 'S256',
    }).href;
    const browser = new FormBrowser(first.url);
    const login = await browser.go(authUrl(await oidc.calculatePKCECodeChallenge(verifier)));
    const consent = await browser.submit(login.body, /\/login$/, { username: 'bob', password: 'bob password 1' });
    const back = await browser.submit(consent.body, /\/confirm$/, {});
    const tokens = await oidc.authorizationCodeGrant(config, new URL(back.url), { pkceCodeVerifier: verifier, expectedState: 'st' });
    const jwksBefore = await (await fetch(`${first.url}/jwks`)).json();
    await first.stop();

    const second = await startTestIdp(opts);
    try {
      expect(await (await fetch(`${second.url}/jwks`)).json()).toEqual(jwksBefore);
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      expect(refreshed.claims()!.sub).toBe(tokens.claims()!.sub);
      expect(refreshed.claims()!.amr).toEqual(['pwd']);
      // The browser's session survived: a new authorization goes straight to the app (no password page).
      const v2 = oidc.randomPKCECodeVerifier();
      const again = await browser.go(oidc.buildAuthorizationUrl(config, {
        redirect_uri: 'http://127.0.0.1:1/cb', scope: 'openid offline_access', state: 'st2',
        code_challenge: await oidc.calculatePKCECodeChallenge(v2), code_challenge_method: 'S256',
      }).href);
      expect(again.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
    } finally {
      await second.stop();
    }
  });
});
