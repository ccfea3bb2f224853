import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createAccountStore } from '../../src/accounts/store.js';
import { checkPassword } from '../../src/accounts/passwords.js';
import { openPostgres } from '../../src/storage/postgres.js';
import { freshSchemaUrl } from '../support/idp.js';
import { ADMIN_CLI } from '../support/entry.js';

/** The admin CLI as an operator runs it (a real process on the real PostgreSQL server). */
describe('admin CLI', () => {
  let schema: Awaited<ReturnType<typeof freshSchemaUrl>>;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'cli-'));
  beforeAll(async () => { schema = await freshSchemaUrl(); });
  afterAll(async () => { await schema.drop(); rmSync(dataDir, { recursive: true, force: true }); });

  const cli = (args: string[], input?: string) => {
    const r = spawnSync(process.execPath, [ADMIN_CLI, ...args], {
      env: { ...process.env, DATABASE_URL: schema.url, DATA_DIR: dataDir, ISSUER: 'http://127.0.0.1:3999', NODE_OPTIONS: '' },
      input, encoding: 'utf8', timeout: 60_000,
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const account = async (username: string) => {
    const db = openPostgres(schema.url);
    try { return await createAccountStore(db).findByUsername(username); } finally { await db.close(); }
  };

  it('prints help for every command', () => {
    const top = cli(['--help']);
    expect(top.code).toBe(0);
    for (const c of ['user create', 'user set-password', 'user disable', 'user enable', 'user sign-out', 'user list', 'device enroll-code', 'audit']) {
      expect(top.out).toContain(c);
      const one = cli([...c.split(' '), '--help']);
      expect(one.code).toBe(0);
      expect(one.out).toContain(`Usage: npm run admin -- ${c}`);
    }
  });

  it('creates a user with a password from stdin, lists, disables, enables and sets a new password', async () => {
    const created = cli(['user', 'create', 'carol', '--name', 'Carol C', '--password-stdin'], 'amber kestrel voyage\n');
    expect(created.code).toBe(0);
    expect(created.out).toMatch(/created user carol/);
    expect(created.out).not.toContain('amber kestrel voyage');
    expect(await checkPassword((await account('carol'))!.passwordHash, 'amber kestrel voyage')).toBe(true);

    expect(cli(['user', 'list']).out).toMatch(/^carol\tactive\t/m);
    expect(cli(['user', 'disable', 'carol']).code).toBe(0);
    expect((await account('carol'))!.disabled).toBe(true);
    expect(cli(['user', 'list']).out).toMatch(/^carol\tdisabled\t/m);
    expect(cli(['user', 'enable', 'carol']).code).toBe(0);
    expect((await account('carol'))!.disabled).toBe(false);

    const reset = cli(['user', 'set-password', 'carol']);
    expect(reset.code).toBe(0);
    const generated = reset.out.match(/password: (\S+)/)![1]!;
    expect(await checkPassword((await account('carol'))!.passwordHash, generated)).toBe(true);

    const audit = cli(['audit', '--user', 'carol']);
    expect(audit.out).toContain('admin.user.create');
    expect(audit.out).toContain('admin.user.disable');
  });

  it('refuses bad usage with a message and a non-zero exit, changing nothing', async () => {
    expect(cli(['user', 'create', 'bad name!']).code).toBe(64);
    expect(await account('bad name!')).toBeNull();
    const short = cli(['user', 'create', 'dave', '--password', 'short']);
    expect(short.code).toBe(64);
    expect(short.err).toContain('at least 8 characters');
    expect(await account('dave')).toBeNull();
    const nobody = cli(['user', 'disable', 'nobody']);
    expect(nobody.err).toContain('no user "nobody"');
    expect(nobody.code).toBe(65);
    expect(cli(['frobnicate']).code).toBe(64);
    cli(['user', 'create', 'erin', '--password', 'quiet orchard 42 ferry']);
    const dup = cli(['user', 'create', 'ERIN', '--password', 'quiet orchard 42 ferry']);
    expect(dup.code).toBe(65);
    expect(dup.err).toContain('taken');
  });
});
