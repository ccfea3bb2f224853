import { afterAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createIdp } from '../../src/app.js';
import { ConfigError, loadSettings } from '../../src/config/settings.js';
import { createLogger } from '../../src/log.js';
import { freshSchemaUrl } from '../support/idp.js';
import { IDP_MAIN } from '../support/entry.js';

/**
 * Audit item 8: with DATABASE_URL set (so that several processes can serve) and no REDIS_URL, the
 * IdP started with the in-process stand-in: every process had its own rate limits, lockouts and
 * push-fatigue counts, and an attacker spread guesses over the processes. It must refuse to start.
 */
describe('PostgreSQL without Redis', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'redis-required-'));
  let drop: () => Promise<void> = async () => {};
  afterAll(async () => { await drop(); rmSync(dataDir, { recursive: true, force: true }); });

  it('refuses to start, naming REDIS_URL, before opening anything', async () => {
    const schema = await freshSchemaUrl();
    drop = schema.drop;
    const settings = loadSettings({ DATABASE_URL: schema.url, DATA_DIR: dataDir, CONFIG_DIR: path.join(dataDir, 'none') });
    const start = createIdp(settings, { logger: createLogger('silent') });
    await expect(start).rejects.toBeInstanceOf(ConfigError);
    await expect(start).rejects.toMatchObject({ source: 'environment', field: 'REDIS_URL', message: expect.stringContaining('required when DATABASE_URL is set') });
  });

  it('exits with code 2 and says why', () => {
    const r = spawnSync(process.execPath, [IDP_MAIN], {
      env: { ...process.env, DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test', REDIS_URL: '', DATA_DIR: dataDir, PORT: '0', NODE_OPTIONS: '' },
      encoding: 'utf8', timeout: 60_000,
    });
    expect(r.stderr).toContain('Configuration error: environment: REDIS_URL: required when DATABASE_URL is set');
    expect(r.status).toBe(2);
  });
});
