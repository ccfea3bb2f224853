import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hash } from '@node-rs/argon2';
import { ARGON2_OPTIONS, checkPassword } from '../../src/accounts/passwords.js';
import { createAccountStore } from '../../src/accounts/store.js';
import { openPostgres } from '../../src/storage/postgres.js';
import { runAdminCli } from '../support/admin-cli.js';
import { TEST_REDIS_URL } from '../support/env.js';
import { freshSchemaUrl } from '../support/idp.js';

/**
 * The admin CLI with odd arguments (red-team, self-service and CLI round). Before:
 * - a password with a NUL (which every sign-in form refuses) or bytes that are not UTF-8 (stored as
 *   U+FFFD) was set, and the user could never sign in again (set-password also ended their sessions);
 * - a password pasted decomposed (`Cafe` + U+0301, as some terminals give it) never matched the
 *   same password typed composed;
 * - `user disable a b` disabled a and said nothing of b; `--name X --name Y` kept Y;
 *   `--password P --password-stdin` took the standard input; `audit --user ""` listed everyone;
 * - a username's terminal escapes were printed back raw (they retitled and cleared the terminal).
 */
describe('admin CLI: odd arguments', () => {
  let schema: Awaited<ReturnType<typeof freshSchemaUrl>>;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'cli-odd-'));
  const env = () => ({ DATABASE_URL: schema.url, REDIS_URL: TEST_REDIS_URL, DATA_DIR: dataDir, ISSUER: 'http://127.0.0.1:3999' });
  const cli = (args: string[], input?: string | Buffer) => runAdminCli(args, { env: env(), ...(input === undefined ? {} : { input }) });
  const account = async (username: string) => {
    const db = openPostgres(schema.url);
    try { return await createAccountStore(db).findByUsername(username); } finally { await db.close(); }
  };
  const GOOD = 'quiet orchard 42 ferry';

  beforeAll(async () => {
    schema = await freshSchemaUrl();
    for (const u of ['victim1', 'victim2']) expect((await cli(['user', 'create', u, '--password', GOOD])).status).toBe(0);
  }, 60_000);
  afterAll(async () => { await schema?.drop(); rmSync(dataDir, { recursive: true, force: true }); });

  it.each([
    ['a NUL', Buffer.from(`quiet\0orchard 42 ferry\n`)],
    ['an ESC', Buffer.from(`quiet\u001b[31morchard 42 ferry\n`)],
    ['bytes that are not UTF-8', Buffer.concat([Buffer.from('quiet orchard '), Buffer.from([0xff, 0xfe]), Buffer.from(' 42 ferry\n')])],
  ])('refuses a password with %s (64, nobody created)', async (name, input) => {
    const username = `pw${name.length}`;
    const r = await cli(['user', 'create', username, '--password-stdin'], input);
    expect(r.status).toBe(64);
    expect(r.stderr).toMatch(/control character|not UTF-8/);
    expect(await account(username)).toBeNull();
  });

  it('takes a password pasted decomposed as the same password typed composed, and still opens a hash made before', async () => {
    const decomposed = 'Cafe\u0301 orchard 42 ferry';
    expect((await cli(['user', 'create', 'nfd', '--password', decomposed])).status).toBe(0);
    const stored = (await account('nfd'))!.passwordHash;
    expect(await checkPassword(stored, decomposed.normalize('NFC'))).toBe(true);
    expect(await checkPassword(stored, decomposed)).toBe(true);
    expect(await checkPassword(stored, 'Cafe orchard 42 ferry')).toBe(false);
    // A hash an older version made of the decomposed bytes themselves.
    const old = await hash(decomposed, ARGON2_OPTIONS);
    expect(await checkPassword(old, decomposed)).toBe(true);
  });

  it('refuses words and flags it would otherwise drop or override: 64, nothing changed', async () => {
    const refused = [
      ['user', 'disable', 'victim1', 'victim2'],
      ['user', 'sign-out', 'victim1', 'victim2'],
      ['user', 'create', 'twice', '--name', 'First Name', '--name', 'Second Name'],
      ['user', 'create', 'both', '--password', GOOD, '--password-stdin'],
      ['audit', '--user', ''],
      ['user', 'list', 'extra'],
    ];
    for (const args of refused) {
      const r = await cli(args, 'another orchard 43 ferry\n');
      expect({ args, status: r.status }).toEqual({ args, status: 64 });
      expect(r.stderr).toMatch(/more than it takes|given twice|not both|needs a value/);
    }
    expect((await account('victim1'))!.disabled).toBe(false);
    expect((await account('victim2'))!.disabled).toBe(false);
    expect(await account('twice')).toBeNull();
    expect(await account('both')).toBeNull();
    // A device's new name is still several words.
    expect((await cli(['device', 'rename', 'victim1', 'no-such-device', 'my', 'new', 'phone'])).stderr).not.toMatch(/more than it takes/);
  });

  it('prints a username back with its control characters escaped', async () => {
    const r = await cli(['user', 'disable', '\u001b]0;owned\u0007\u001b[2J\u001b[31mred\u009b1m']);
    expect(r.status).toBe(65);
    expect(r.stderr).toMatch(/no user/);
    // eslint-disable-next-line no-control-regex
    expect(r.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  });
});
