import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { FormBrowser } from '../support/web-browser.js';
import { startTestIdp, type TestIdp } from '../support/idp.js';
import { newUser, signIn, startSessionWorld, type SessionWorld } from '../security/session-helpers.js';
import { ADMIN_CLI } from '../support/entry.js';

const run = promisify(execFile);
const DAY = 24 * 3_600_000;

/**
 * Signing-key rotation as a relying app sees it: `admin keys rotate` (a real CLI process) publishes
 * the next keys in the JWKS at once, the IdP keeps signing with the old key until the delay has
 * passed (the IdP's clock is injected and moved), tokens signed before still verify against the
 * JWKS, and a second IdP process on the same database follows the same schedule.
 */
describe('signing-key rotation with overlap', () => {
  let w: SessionWorld;
  let second: TestIdp;
  let clock = Date.now();
  const now = () => clock;

  beforeAll(async () => {
    w = await startSessionWorld({ idp: { signingKeyClock: now } });
    await newUser(w, 'rotor');
    // Another IdP process on the same database and data folder (same KEK), with the same clock.
    second = await startTestIdp({ storage: 'postgres', redis: 'real', schema: schemaOf(w.t.settings.databaseUrl!), dataDir: w.t.settings.dataDir, idp: { signingKeyClock: now } });
  });
  afterAll(async () => {
    await second?.stop();
    await w?.close();
  });

  const schemaOf = (url: string) => /search_path%3D(\w+)|search_path=(\w+)/.exec(decodeURIComponent(url))!.slice(1).find(Boolean)!;
  const jwks = async (url = w.t.url) => (await (await fetch(`${url}/jwks`)).json()) as JSONWebKeySet;
  const kidsOf = async (url?: string) => (await jwks(url)).keys.map((k) => k.kid);
  const idToken = async () => (await signIn(w.open, new FormBrowser(w.t.url), 'rotor')).id_token!;
  const verify = async (token: string) => jwtVerify(token, createLocalJWKSet(await jwks()), { issuer: w.t.url });
  const cli = (...args: string[]) => run(process.execPath, [ADMIN_CLI, ...args], {
    env: { ...process.env, DATABASE_URL: w.t.settings.databaseUrl!, DATA_DIR: w.t.settings.dataDir, ISSUER: w.t.url, NODE_OPTIONS: '' },
    encoding: 'utf8', timeout: 60_000,
  });
  const refreshBoth = async () => { await w.t.idp.refreshSigningKeys(); await second.idp.refreshSigningKeys(); };

  it('publishes the next key before it signs, signs with it after the delay, and retires the old one later', async () => {
    const before = await idToken();
    const oldKid = decodeProtectedHeader(before).kid!;
    expect(await kidsOf()).toContain(oldKid);

    const rotated = await cli('keys', 'rotate');
    expect(rotated.stdout).toMatch(/rotated/);
    const nextKids = rotated.stdout.split('\n').filter((l) => /\tnext\t/.test(l)).map((l) => l.split('\t')[0]!);
    expect(nextKids).toHaveLength(2);
    await refreshBoth();
    // The CLI reads the real clock: the rotation it just made is pending there.
    const listed = (await cli('keys', 'list')).stdout;
    expect(listed).toMatch(new RegExp(`${oldKid}\\tRS256\\tsigning\\talways\\t\\d{4}-`));
    for (const kid of nextKids) expect(listed).toMatch(new RegExp(`${kid}\\t(RS|ES)256\\tnext\\t`));

    // Published now, on both processes, but not signing.
    for (const url of [w.t.url, second.url]) expect(await kidsOf(url)).toEqual(expect.arrayContaining([oldKid, ...nextKids]));
    const during = await idToken();
    expect(decodeProtectedHeader(during).kid).toBe(oldKid);
    await expect(verify(before)).resolves.toBeDefined();

    // Just before the delay ends: still the old key.
    clock += DAY - 60_000;
    await refreshBoth();
    expect(decodeProtectedHeader(await idToken()).kid).toBe(oldKid);

    // After it: the new RSA key signs; the old one stays published, so tokens it signed still verify.
    clock += 2 * 60_000;
    await refreshBoth();
    const after = await idToken();
    const newKid = decodeProtectedHeader(after).kid!;
    expect(nextKids).toContain(newKid);
    expect(decodeProtectedHeader(after).alg).toBe('RS256');
    await expect(verify(after)).resolves.toBeDefined();
    await expect(verify(before)).resolves.toBeDefined();
    expect(await kidsOf(second.url)).toEqual(expect.arrayContaining([oldKid, newKid]));

    // After the retire delay: gone from the JWKS of every process.
    clock += DAY;
    await refreshBoth();
    for (const url of [w.t.url, second.url]) {
      const kids = await kidsOf(url);
      expect(kids).not.toContain(oldKid);
      expect(kids).toEqual(expect.arrayContaining(nextKids));
    }
    await expect(verify(before)).rejects.toThrow();
  });

  it('refuses a rotation while the previous one has not started signing, and a bad duration', async () => {
    await cli('keys', 'rotate', '--activate-after', '1h', '--force');
    await expect(cli('keys', 'rotate')).rejects.toMatchObject({ code: 65, stderr: expect.stringMatching(/rotation is under way/) });
    await expect(cli('keys', 'rotate', '--activate-after', 'soon')).rejects.toMatchObject({ code: 64, stderr: expect.stringMatching(/--activate-after must be a duration/) });
  });
});
