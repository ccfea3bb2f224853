import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { runAdminCli } from '../support/admin-cli.js';
import { TEST_REDIS_URL } from '../support/env.js';
import { freshSchemaUrl } from '../support/idp.js';

/**
 * What the admin CLI lists (audit records, reports, users, devices, federation links) is stored
 * text, some of it from requests and upstream claims: printed raw, an ESC or C1 control sequence in
 * it acts on the operator's terminal, a bidi override reorders the line, and a tab moves every later
 * column. Each cell is printed with those characters escaped and stays in its column.
 */
describe('admin CLI listings escape what a terminal would act on', () => {
  let schema: Awaited<ReturnType<typeof freshSchemaUrl>>;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'cli-rows-'));
  const env = () => ({ DATABASE_URL: schema.url, REDIS_URL: TEST_REDIS_URL, DATA_DIR: dataDir, ISSUER: 'http://127.0.0.1:3999' });
  const cli = (args: string[]) => runAdminCli(args, { env: env() });
  const sql = async (text: string, values: unknown[]) => {
    const c = new pg.Client({ connectionString: schema.url });
    await c.connect();
    try { return await c.query(text, values); } finally { await c.end(); }
  };
  const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

  beforeAll(async () => {
    schema = await freshSchemaUrl();
    expect((await cli(['user', 'create', 'rows', '--password', 'quiet orchard 42 ferry'])).status).toBe(0);
    const { rows: [account] } = await sql('SELECT id FROM accounts WHERE username = $1', ['rows']);
    // As a hand-edited row or an older version could have left them.
    await sql('UPDATE accounts SET display_name = $1 WHERE id = $2', ['Ann\u202eeciffo\u001b]0;owned\u0007', account.id]);
    for (const type of ['push.reported', 'signin.failure']) {
      await sql('INSERT INTO audit_events (type, account_id, client_id, ip, detail) VALUES ($1, $2, $3, $4, $5)',
        [type, account.id, 'app\tx\u009b2J', '203.0.113.7\u202e', JSON.stringify({ note: 'a\u009b31mred\u2066b', tab: 'c\td' })]);
    }
  }, 60_000);
  afterAll(async () => { await schema?.drop(); rmSync(dataDir, { recursive: true, force: true }); });

  it.each([
    ['audit', ['audit', '--limit', '10'], 6],
    ['reports', ['reports'], 5],
  ])('%s: no control or bidi character reaches the terminal, and every row keeps its columns', async (_name, args, columns) => {
    const r = await cli(args);
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    expect(r.stdout).not.toMatch(RAW);
    for (const line of lines) expect(line.split('\t')).toHaveLength(columns);
    expect(r.stdout).toContain('app\\tx\\u009b2J');
    expect(r.stdout).toContain('203.0.113.7\\u202e');
    expect(r.stdout).toContain('a\\u009b31mred\\u2066b');
  });

  it('user list: a display name with an override and an ESC sequence is shown escaped', async () => {
    const r = await cli(['user', 'list']);
    expect(r.status).toBe(0);
    expect(r.stdout).not.toMatch(RAW);
    expect(r.stdout).toContain('Ann\\u202eeciffo\\u001b]0;owned\\u0007');
  });
});
