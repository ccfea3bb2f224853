import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { checkPassword } from '../../src/accounts/passwords.js';
import { adminCli } from '../support/admin-cli.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/env.js';
import { freePort, freshSchemaUrl } from '../support/idp.js';
import { IDP_MAIN } from '../support/entry.js';

/**
 * DEMO on a shared database. Red-team (several instances): three processes started with DEMO=true
 * on one PostgreSQL, each with its own data folder (as each container has its own volume), each
 * printed `Demo user: demo / <password>` with a password of its own, while the database kept the
 * first one's: two of the three printed passwords did not sign the demo user in. The password is
 * now kept in the database (sealed), so every instance prints the same, working one; and a start
 * after `user set-password demo` does not print a password that no longer works.
 */
describe('the demo user on a database several processes share', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'idp-demo-'));
  let drop: () => Promise<void> = async () => {};
  afterAll(async () => { await drop(); rmSync(dir, { recursive: true, force: true }); });

  /** Starts the IdP as an operator does and returns the line it prints for the demo user, then stops it. */
  async function demoLine(env: NodeJS.ProcessEnv, dataDir: string): Promise<string> {
    const child = spawn(process.execPath, [IDP_MAIN], { env: { ...env, PORT: String(await freePort()), DATA_DIR: dataDir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => { out += String(b); });
    child.stderr!.on('data', (b: Buffer) => { out += String(b); });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no demo line in 60 s: ${out}`)), 60_000);
      const look = () => {
        const m = /Demo user: +(.*)/.exec(out);
        if (m) { clearTimeout(timer); resolve(m[1]!.trim()); }
      };
      child.stdout!.on('data', look);
      void exited.then(() => { clearTimeout(timer); reject(new Error(`exited before the demo line: ${out}`)); });
    });
    child.kill('SIGTERM');
    await exited;
    return line;
  }

  it('three processes started at once print one password, the one the database signs in with; a changed password is not printed', async () => {
    const schema = await freshSchemaUrl();
    drop = schema.drop;
    const configDir = path.join(dir, 'config');
    mkdirSync(path.join(configDir, 'clients'), { recursive: true });
    const env: NodeJS.ProcessEnv = {
      ...process.env, NODE_OPTIONS: '', HOST: '127.0.0.1', ISSUER: 'http://127.0.0.1:1', CONFIG_DIR: configDir, DEMO: 'true',
      DATABASE_URL: schema.url, REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: uniquePrefix('demoshared'),
      COOKIE_KEYS: randomBytes(32).toString('base64url'), KEK: `k1:${randomBytes(32).toString('base64')}`, LOG_LEVEL: 'warn',
    };
    // One folder is an older installation's: its generated password must stay the demo user's.
    const kept = randomBytes(9).toString('base64url');
    mkdirSync(path.join(dir, 'data-0'), { recursive: true, mode: 0o700 });
    writeFileSync(path.join(dir, 'data-0', 'demo-password'), `${kept}\n`, { mode: 0o600 });
    // The first creates the schema; then two start together against it with the first.
    const lines = [await demoLine(env, path.join(dir, 'data-0'))];
    lines.push(...await Promise.all([1, 2].map((i) => demoLine(env, path.join(dir, `data-${i}`)))));
    expect(lines).toEqual([`demo / ${kept}`, `demo / ${kept}`, `demo / ${kept}`]);
    for (const i of [1, 2]) expect(readFileSync(path.join(dir, `data-${i}`, 'demo-password'), 'utf8').trim()).toBe(kept);

    const db = new pg.Client({ connectionString: schema.url });
    await db.connect();
    try {
      const hash = async () => (await db.query<{ password_hash: string }>("SELECT password_hash FROM accounts WHERE username = 'demo'")).rows[0]!.password_hash;
      expect(await checkPassword(await hash(), kept)).toBe(true);
      // Nothing of it in the clear in the database.
      expect(JSON.stringify((await db.query('SELECT value FROM keystore')).rows)).not.toContain(kept);

      await adminCli(['user', 'set-password', 'demo', '--password-stdin'], { env, input: 'orchard lantern 42 quietly folded\n' });
      expect(await checkPassword(await hash(), kept)).toBe(false);
      const after = await demoLine(env, path.join(dir, 'data-3'));
      expect(after).toMatch(/^demo \/ \(its password is not the generated one/);
      expect(after).not.toContain(kept);
      // An upgrade from the release that kept the password in each folder only: the row is not
      // there yet, and of two folders only one holds the password the account was made with.
      await adminCli(['user', 'set-password', 'demo', '--password-stdin'], { env, input: `${kept}\n` });
      await db.query("DELETE FROM keystore WHERE name = 'demo-password'");
      writeFileSync(path.join(dir, 'data-1', 'demo-password'), 'another folder of its own\n', { mode: 0o600 });
      // The wrong folder first: it cannot know the password, and says so; its file stays as it was.
      expect(await demoLine(env, path.join(dir, 'data-1'))).toMatch(/^demo \/ \(its password is not the generated one/);
      // The right one gives it to the database, and the other prints it from then on (review).
      expect(await demoLine(env, path.join(dir, 'data-0'))).toBe(`demo / ${kept}`);
      expect(await demoLine(env, path.join(dir, 'data-1'))).toBe(`demo / ${kept}`);
      expect(readFileSync(path.join(dir, 'data-0', 'demo-password'), 'utf8').trim()).toBe(kept);
      expect(readFileSync(path.join(dir, 'data-1', 'demo-password'), 'utf8').trim()).toBe(kept);
    } finally {
      await db.end();
    }
  }, 240_000);
});
