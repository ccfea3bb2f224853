import { afterAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createIdp } from '../../src/app.js';
import { ConfigError, loadSettings } from '../../src/config/settings.js';
import { createLogger } from '../../src/log.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../support/env.js';
import { seedPglite } from '../support/pglite-template.js';
import { IDP_MAIN } from '../support/entry.js';

const KEK = `k1:${Buffer.alloc(32, 7).toString('base64')}`;

/**
 * Start-up refuses a configuration that is unsafe as declared, before it generates or opens
 * anything, with a message naming the variable and the reason.
 */
describe('start-up refuses an unsafe production configuration', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'unsafe-'));
  mkdirSync(path.join(root, 'none')); // an empty configuration folder: no registrations
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const attempt = async (env: Record<string, string>) => {
    const dataDir = path.join(root, String(Math.random()).slice(2));
    // An embedded database starts from the initialised copy (test/support/pglite-template.ts).
    if (!env.DATABASE_URL) await seedPglite(path.join(dataDir, 'pg'));
    const settings = loadSettings({ DATA_DIR: dataDir, CONFIG_DIR: path.join(root, 'none'), DEMO: 'false', ...env });
    const err = await createIdp(settings, { logger: createLogger('silent') }).then(async (idp) => { await idp.close(); return null; }, (e: unknown) => e);
    // Refused before anything was written: no generated secrets lying around.
    if (err) expect(existsSync(path.join(dataDir, 'secrets.json'))).toBe(false);
    return err;
  };
  const several = { INSTANCES: '3', DATABASE_URL: TEST_DATABASE_URL, REDIS_URL: TEST_REDIS_URL, COOKIE_KEYS: 'a-shared-cookie-key-of-some-length', KEK };

  it.each([
    ['the embedded database', { ...several, DATABASE_URL: '' }, /DATABASE_URL: required when INSTANCES is 3/],
    ['the in-process Redis stand-in', { ...several, REDIS_URL: '' }, /REDIS_URL: required when INSTANCES is 3/],
    ['generated cookie keys', { ...several, COOKIE_KEYS: '' }, /COOKIE_KEYS: required when INSTANCES is 3.*rejected by the others/],
    ['a generated key-encryption key', { ...several, KEK: '' }, /KEK: required when INSTANCES is 3/],
    ['an http issuer that is not localhost, in production', { NODE_ENV: 'production', ISSUER: 'http://idp.example.com' }, /ISSUER: must be an https:\/\/ URL when NODE_ENV=production/],
    ['the demo, in production', { NODE_ENV: 'production', ISSUER: 'https://idp.example.com', DEMO: 'true' }, /DEMO: must be off when NODE_ENV=production/],
  ])('refuses %s', async (_what, env, message) => {
    const err = await attempt(env);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(message);
  });

  it('starts an http issuer on localhost in production, and one instance on the stand-ins', async () => {
    expect(await attempt({ NODE_ENV: 'production', ISSUER: 'http://localhost:3000' })).toBeNull();
    expect(await attempt({ INSTANCES: '1' })).toBeNull();
  });

  it('the server exits 2 with the message on standard error', () => {
    const r = spawnSync(process.execPath, [IDP_MAIN], {
      env: { ...process.env, NODE_OPTIONS: '', NODE_ENV: 'production', ISSUER: 'http://idp.example.com', DATA_DIR: path.join(root, 'spawned'), PORT: '0' },
      encoding: 'utf8', timeout: 60_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^Configuration error: environment: ISSUER: must be an https:\/\/ URL/m);
    expect(existsSync(path.join(root, 'spawned', 'secrets.json'))).toBe(false);
  });
});
