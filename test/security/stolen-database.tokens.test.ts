import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { hashPassword } from '../../src/accounts/passwords.js';
import { startTestIdp, testRp, TEST_RP_SECRET, type TestIdp } from '../support/idp.js';
import { FormBrowser } from '../support/web-browser.js';

/**
 * Audit item 6: an attacker with a copy of the database (and of Redis) must find no token in it
 * that works. oidc-provider's refresh tokens, access tokens and codes are opaque: the value is the
 * artefact's id. So the attacker takes every row of oidc_payloads and every Redis key and hash,
 * and tries each string found as a refresh token at /token, as an access token at /me and as a
 * code; all are refused, while the relying app's real tokens keep working.
 */
describe.each([
  ['PGlite and the in-process Redis stand-in', 'pglite', 'standin'],
  ['PostgreSQL and Redis', 'postgres', 'real'],
] as const)('a stolen copy of %s', (_label, storage, redis) => {
  let t: TestIdp;
  let config: oidc.Configuration;
  const redirect = 'http://127.0.0.1:1/cb';
  const basic = `Basic ${Buffer.from(`test-rp:${TEST_RP_SECRET}`).toString('base64')}`;

  beforeAll(async () => {
    t = await startTestIdp({ storage, redis, clients: [testRp()] });
    await t.idp.accounts.create({ username: 'alice', passwordHash: await hashPassword('violet harbour lantern') });
    config = await oidc.discovery(new URL(t.url), 'test-rp', TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
  });
  afterAll(() => t.close());

  async function signIn() {
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirect, scope: 'openid offline_access', state: 'st', prompt: 'consent',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const browser = new FormBrowser(t.url);
    const login = await browser.go(url.href);
    const consent = await browser.submit(login.body, /\/login$/, { username: 'alice', password: 'violet harbour lantern' });
    const back = await browser.submit(consent.body, /\/confirm$/, {});
    const code = new URL(back.url).searchParams.get('code')!;
    const tokens = await oidc.authorizationCodeGrant(config, new URL(back.url), { pkceCodeVerifier: verifier, expectedState: 'st' });
    return { code, tokens, browser };
  }

  /** Every string an attacker finds in the copy: SQL columns, JSON values, Redis key parts and hash fields. */
  async function stolenStrings(): Promise<{ dump: string; strings: Set<string> }> {
    const rows = await t.idp.db.query<Record<string, unknown>>('SELECT * FROM oidc_payloads');
    const prefix = (t.idp.redis.options.keyPrefix ?? '') as string;
    // KEYS takes the pattern as it is (ioredis does not prefix it): this IdP's keys only.
    const keys = await t.idp.redis.keys(`${prefix}*`);
    const redisDump: unknown[] = [];
    for (const key of keys) {
      const bare = key.startsWith(prefix) ? key.slice(prefix.length) : key;
      const type = await t.idp.redis.type(bare);
      const value = type === 'hash' ? await t.idp.redis.hgetall(bare)
        : type === 'string' ? await t.idp.redis.get(bare)
          : type === 'list' ? await t.idp.redis.lrange(bare, 0, -1) : null;
      redisDump.push({ key, value });
    }
    const strings = new Set<string>();
    const walk = (v: unknown): void => {
      if (typeof v === 'string') {
        strings.add(v);
        for (const part of v.split(/[:"{},\s]/)) if (part) strings.add(part);
        if (/^[[{]/.test(v)) { try { walk(JSON.parse(v)); } catch { /* not JSON */ } }
      } else if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object' && !(v instanceof Date)) Object.entries(v).forEach(([k, x]) => { walk(k); walk(x); });
    };
    walk(rows);
    walk(redisDump);
    expect(rows.length).toBeGreaterThan(0);
    expect(redisDump.length).toBeGreaterThan(0);
    return { dump: JSON.stringify({ rows, redisDump }), strings };
  }

  it('holds no token that works at /token or /me, and the real tokens still do', async () => {
    const first = await signIn();
    const second = await signIn();
    // A refresh rotates or keeps the refresh token; either way the copy is taken after it.
    const refreshed = await oidc.refreshTokenGrant(config, second.tokens.refresh_token!);
    const { dump, strings } = await stolenStrings();

    // Anything in a token's alphabet (opaque tokens are base64url) is worth a try.
    const candidates = [...strings].filter((s) => /^[A-Za-z0-9_-]{8,200}$/.test(s));
    expect(candidates.length).toBeGreaterThan(10);
    const accepted: string[] = [];
    for (const s of candidates) {
      const asRefresh = await fetch(`${t.url}/token`, {
        method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: s }),
      });
      if (asRefresh.status !== 400) accepted.push(`refresh_token ${s}: ${asRefresh.status}`);
      else expect((await asRefresh.json() as { error: string }).error).toBe('invalid_grant');
      const asAccess = await fetch(`${t.url}/me`, { headers: { authorization: `Bearer ${s}` } });
      if (asAccess.status !== 401) accepted.push(`access token ${s}: ${asAccess.status}`);
      const asCode = await fetch(`${t.url}/token`, {
        method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code: s, redirect_uri: redirect, code_verifier: 'x'.repeat(43) }),
      });
      if (asCode.status !== 400) accepted.push(`code ${s}: ${asCode.status}`);
    }
    expect(accepted).toEqual([]);
    // Nor does the copy hold any of the tokens the relying app holds.
    const real = [first.code, first.tokens.access_token, first.tokens.refresh_token!, second.tokens.access_token,
      second.tokens.refresh_token!, refreshed.access_token, refreshed.refresh_token ?? second.tokens.refresh_token!];
    for (const token of real) expect(dump).not.toContain(token);

    // The relying app's own tokens: refresh, userinfo, introspection, revocation.
    const again = await oidc.refreshTokenGrant(config, first.tokens.refresh_token!);
    const sub = first.tokens.claims()!.sub;
    expect(again.claims()!.sub).toBe(sub);
    expect((await oidc.fetchUserInfo(config, again.access_token, sub)).sub).toBe(sub);
    expect((await oidc.tokenIntrospection(config, again.access_token)).active).toBe(true);
    const rt = again.refresh_token ?? first.tokens.refresh_token!;
    expect((await oidc.tokenIntrospection(config, rt)).active).toBe(true);
    await oidc.tokenRevocation(config, rt);
    expect((await oidc.tokenIntrospection(config, rt)).active).toBe(false);
    await expect(oidc.refreshTokenGrant(config, rt)).rejects.toMatchObject({ error: 'invalid_grant' });
    // The account's rows are still findable by account and grant (deleting an account's sessions needs it).
    const mine = await t.idp.db.query<{ model: string; grant_id: string | null }>(
      "SELECT model, grant_id FROM oidc_payloads WHERE payload->>'accountId' = $1", [sub]);
    expect(new Set(mine.map((r) => r.model))).toEqual(new Set(['Session', 'Grant', 'RefreshToken']));
    expect(mine.filter((r) => r.model === 'RefreshToken').every((r) => r.grant_id)).toBe(true);
  });
});
