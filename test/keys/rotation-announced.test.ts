import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { FormBrowser } from '../support/web-browser.js';
import * as oidc from 'openid-client';
import { startTestIdp, testRp, TEST_RP_SECRET, type TestIdp } from '../support/idp.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/env.js';
import { runAdminCli } from '../support/admin-cli.js';
import { newUser, signIn, startSessionWorld, type SessionWorld } from '../security/session-helpers.js';

/**
 * An immediate rotation (`keys rotate --activate-after 0 --retire-after 0`, as after a leaked key)
 * as relying apps see it across two IdP processes: each re-reads the keys when the CLI announces the
 * rotation on Redis, not at its next check (set here to an hour, so only the announcement can do
 * it). Before, the processes served different JWKS for up to a minute: an app that fetched the JWKS
 * from one could not verify an ID token the other had just signed, and the replaced key went on
 * signing on the process that had not looked yet.
 */
describe('a rotation announced to every process', () => {
  const redisPrefix = uniquePrefix('keys');
  const HOUR = 3_600_000;
  let w: SessionWorld;
  let second: TestIdp;
  let secondApp: oidc.Configuration;

  beforeAll(async () => {
    w = await startSessionWorld({ redisPrefix, idp: { signingKeyRefreshMs: HOUR } });
    await newUser(w, 'leaky');
    second = await startTestIdp({
      storage: 'postgres', redis: 'real', redisPrefix, schema: schemaOf(w.t.settings.databaseUrl!), dataDir: w.t.settings.dataDir,
      idp: { signingKeyRefreshMs: HOUR }, clients: [testRp({ login: { consent: 'implicit', noDevice: 'password-only' } })],
    });
    secondApp = await oidc.discovery(new URL(second.url), 'test-rp', TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
  });
  afterAll(async () => {
    await second?.stop();
    await w?.close();
  });

  const schemaOf = (url: string) => /search_path%3D(\w+)|search_path=(\w+)/.exec(decodeURIComponent(url))!.slice(1).find(Boolean)!;
  const jwks = async (url: string) => (await (await fetch(`${url}/jwks`)).json()) as JSONWebKeySet;
  const kidsOf = async (url: string) => (await jwks(url)).keys.map((k) => k.kid!).sort();
  const cli = (env: Record<string, string>, ...args: string[]) => runAdminCli(args, {
    env: { DATABASE_URL: w.t.settings.databaseUrl!, DATA_DIR: w.t.settings.dataDir, ISSUER: w.t.url, REDIS_PREFIX: redisPrefix, ...env },
  });
  /** Polls until `check` holds or 5 s have passed; the last answer either way. */
  const within5s = async <T>(read: () => Promise<T>, check: (v: T) => boolean): Promise<T> => {
    const until = Date.now() + 5_000;
    let v = await read();
    while (!check(v) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
      v = await read();
    }
    return v;
  };

  it('moves both processes to the new keys at once, so a token either signs verifies against either JWKS', async () => {
    const oldKids = await kidsOf(w.t.url);
    expect(await kidsOf(second.url)).toEqual(oldKids);

    const rotated = await cli({ REDIS_URL: TEST_REDIS_URL }, 'keys', 'rotate', '--activate-after', '0', '--retire-after', '0');
    expect(rotated).toMatchObject({ status: 0, stderr: '' });
    const newKids = rotated.stdout.split('\n').filter((l) => /\tsigning\t/.test(l)).map((l) => l.split('\t')[0]!).sort();
    expect(newKids).toHaveLength(2);
    expect(newKids.some((k) => oldKids.includes(k))).toBe(false);

    // Both processes publish the new keys, and only them, without waiting for their hourly check.
    for (const url of [w.t.url, second.url]) {
      expect(await within5s(() => kidsOf(url), (kids) => kids.join() === newKids.join())).toEqual(newKids);
    }
    // An ID token from each process carries a new kid and verifies against the other's JWKS.
    for (const [app, signer, other] of [[w.open, w.t.url, second.url], [secondApp, second.url, w.t.url]] as const) {
      const token = (await signIn(app, new FormBrowser(signer), 'leaky')).id_token!;
      expect(newKids).toContain(decodeProtectedHeader(token).kid);
      await expect(jwtVerify(token, createLocalJWKSet(await jwks(other)), { issuer: signer })).resolves.toBeDefined();
    }
  });

  it('still rotates when Redis cannot be reached, says so, and the processes then follow at their own check', async () => {
    const before = await kidsOf(second.url);
    const rotated = await cli({ REDIS_URL: 'redis://127.0.0.1:1/0' }, 'keys', 'rotate', '--activate-after', '0', '--retire-after', '0', '--force');
    expect(rotated.status).toBe(0);
    expect(rotated.stderr).toMatch(/warning: the running IdP processes were not told through Redis .*they follow within a minute/);
    const newKids = rotated.stdout.split('\n').filter((l) => /\tsigning\t/.test(l)).map((l) => l.split('\t')[0]!).sort();
    expect(newKids).toHaveLength(2);
    // Without REDIS_URL at all (the IdP runs with it beside PostgreSQL), the CLI says the processes were not told.
    const untold = await cli({ REDIS_URL: '' }, 'keys', 'rotate', '--activate-after', '0', '--retire-after', '0', '--force');
    expect(untold.status).toBe(0);
    expect(untold.stderr).toMatch(/note: REDIS_URL is not set here, so the running IdP processes were not told; they follow within a minute/);
    const newestKids = untold.stdout.split('\n').filter((l) => /\tsigning\t/.test(l)).map((l) => l.split('\t')[0]!).sort();
    // Not heard: unchanged until the process's own check, which a refresh stands in for here.
    expect(await kidsOf(second.url)).toEqual(before);
    await second.idp.refreshSigningKeys();
    expect(await kidsOf(second.url)).toEqual(newestKids);
    expect(newestKids).not.toEqual(newKids);
  });
});
