import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sha256b64url } from '../../src/crypto/hash.js';
import { normalizeCode } from '../../src/devices/enrollment-codes.js';
import { openPostgres } from '../../src/storage/postgres.js';
import { freshSchemaUrl } from '../support/idp.js';
import { ADMIN_CLI } from '../support/entry.js';

/**
 * Audit item 3: an account's first enrollment code comes with one-time recovery codes, so losing
 * the phone later never leaves the password alone in charge. The admin CLI prints them once, with
 * the first code; they are stored only hashed.
 */
describe('admin CLI: device enroll-code', () => {
  let schema: Awaited<ReturnType<typeof freshSchemaUrl>>;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'cli-rc-'));
  beforeAll(async () => { schema = await freshSchemaUrl(); });
  afterAll(async () => { await schema.drop(); rmSync(dataDir, { recursive: true, force: true }); });

  const cli = (args: string[]) => spawnSync(process.execPath, [ADMIN_CLI, ...args], {
    env: { ...process.env, DATABASE_URL: schema.url, DATA_DIR: dataDir, ISSUER: 'http://127.0.0.1:3999', NODE_OPTIONS: '' },
    encoding: 'utf8', timeout: 60_000,
  });

  it('prints ten recovery codes with each enrollment code before the first device, and stores them hashed', async () => {
    expect(cli(['user', 'create', 'frank', '--password', 'quartz lantern meadow 81']).status).toBe(0);
    const recoveryOf = (out: string) => out.split('\n').find((l) => l.startsWith('recovery codes'))!.split(': ')[1]!.trim().split(' ');
    const first = cli(['device', 'enroll-code', 'frank']);
    expect(first.status).toBe(0);
    const codes = recoveryOf(first.stdout);
    expect(codes).toHaveLength(10);
    for (const c of codes) expect(c).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);

    // Each code before the first device carries its own set: the first enrollment keeps only the
    // set of the code it used (test/security/pre-device-secrets.test.ts).
    const second = cli(['device', 'enroll-code', 'frank']);
    expect(second.status).toBe(0);
    const codes2 = recoveryOf(second.stdout);
    expect(codes2).toHaveLength(10);

    const db = openPostgres(schema.url);
    try {
      const rows = await db.query<{ code_hash: string }>('SELECT code_hash FROM recovery_codes');
      expect(rows.map((r) => r.code_hash).sort()).toEqual([...codes, ...codes2].map((c) => sha256b64url(normalizeCode(c)!)).sort());
    } finally {
      await db.close();
    }
  });
});
