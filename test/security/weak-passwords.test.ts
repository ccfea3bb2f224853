import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { passwordProblem } from '../../src/accounts/passwords.js';
import { createAccountStore } from '../../src/accounts/store.js';
import { openPostgres } from '../../src/storage/postgres.js';
import { runAdminCli } from '../support/admin-cli.js';
import { freshSchemaUrl } from '../support/idp.js';

/**
 * Audit item 8: passwords were checked only for length, so "password1" or "12345678" could be
 * set. NIST SP 800-63B 5.1.1.2 asks to refuse values from breach corpuses, dictionary words,
 * repetitive or sequential characters and context-specific words (the username, the service).
 * Checked offline against zxcvbn-ts's maintained lists (no network at run time).
 */
describe('choosing a password', () => {
  it.each([
    ['a breached password', 'password1'],
    ['a breached password with a capital and a symbol', 'Password123!'],
    ['digits in sequence', '12345678'],
    ['a keyboard walk', 'qwertyuiop'],
    ['a repeated character', 'aaaaaaaaaaaa'],
    ['a repeated word', 'abcabcabcabc'],
    ['a common word with a year', 'sunshine2024'],
    ['l33t of a common password', 'p@ssw0rd1'],
  ])('refuses %s (%s)', (_what, password) => {
    expect(passwordProblem(password, ['carol'])).toMatch(/too easy to guess/);
  });

  it.each([
    ['the username', 'carol', 'carol-tangerine-77'],
    ['the username in other case', 'Carol', 'xxCAROLxx-walnut'],
    ['the name of the service', 'dave', 'my pushotp login!'],
  ])('refuses a password built on %s', (_what, username, password) => {
    expect(passwordProblem(password, [username])).toMatch(/must not contain the username/);
  });

  it('keeps the length rules', () => {
    expect(passwordProblem('short', [])).toMatch(/at least 8/);
    expect(passwordProblem('x'.repeat(257), [])).toMatch(/at most 256/);
  });

  it('accepts strong passwords, passphrases and what the IdP generates itself', () => {
    for (const p of ['violet harbour lantern', 'correct horse battery staple', 'Tr0ub4dor&3-kiwi', 'mq7-Vz2#kLp9']) expect(passwordProblem(p, ['carol'])).toBeNull();
    // The demo seed's (9 random bytes) and the CLI's (12 random bytes) generated passwords.
    for (let i = 0; i < 50; i++) {
      expect(passwordProblem(randomBytes(9).toString('base64url'), ['demo'])).toBeNull();
      expect(passwordProblem(randomBytes(12).toString('base64url'), ['carol'])).toBeNull();
    }
  });
});

describe('the admin CLI refuses weak passwords', () => {
  let schema: Awaited<ReturnType<typeof freshSchemaUrl>>;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'weak-pw-'));
  beforeAll(async () => { schema = await freshSchemaUrl(); });
  afterAll(async () => { await schema.drop(); rmSync(dataDir, { recursive: true, force: true }); });
  const cli = (args: string[], input?: string) => runAdminCli(args, { env: { DATABASE_URL: schema.url, DATA_DIR: dataDir }, ...(input === undefined ? {} : { input }) });

  it('on user create and set-password, changing nothing', async () => {
    const breached = await cli(['user', 'create', 'frank', '--password-stdin'], 'iloveyou1\n');
    expect(breached.status).toBe(64);
    expect(breached.stderr).toContain('too easy to guess');
    const db = openPostgres(schema.url);
    try {
      expect(await createAccountStore(db).findByUsername('frank')).toBeNull();
      expect((await cli(['user', 'create', 'frank', '--password-stdin'], 'amber kestrel voyage\n')).status).toBe(0);
      const before = (await createAccountStore(db).findByUsername('frank'))!.passwordHash;
      const own = await cli(['user', 'set-password', 'frank', '--password-stdin'], 'frank2024!\n');
      expect(own.status).toBe(64);
      expect(own.stderr).toContain('must not contain the username');
      expect((await createAccountStore(db).findByUsername('frank'))!.passwordHash).toBe(before);
      expect((await cli(['user', 'set-password', 'frank'])).status).toBe(0);
    } finally { await db.close(); }
  });
});
