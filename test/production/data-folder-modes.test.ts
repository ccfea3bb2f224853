import { afterAll, describe, expect, it } from '@jest/globals';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { hashPassword } from '../../src/accounts/passwords.js';
import { createAccountStore } from '../../src/accounts/store.js';
import { loadProcessSecrets } from '../../src/keys/secrets.js';
import { createLogger } from '../../src/log.js';
import { openDatabase } from '../../src/storage/open.js';
import { privateDataFolder } from '../../src/storage/private-folder.js';
import { startTestIdp } from '../support/idp.js';
import { seedPglite } from '../support/pglite-template.js';

/**
 * The data folder of the default `npm start` (embedded PGlite in DATA_DIR/pg) holds password
 * hashes, sessions, refresh tokens and audit rows. Red-team (operator round): DATA_DIR was 0755
 * and PGlite's files 0666, so any local user read the hashes and could overwrite table files.
 * Only the IdP's own account may read or write anything in it, including files PostgreSQL writes
 * long after start (WAL segments, checkpoints).
 */
describe('data folder permissions', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'data-folder-modes-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  /** Every path under `dir` (itself included) with its permission bits. */
  const tree = (dir: string): { path: string; mode: number; dir: boolean }[] => [
    { path: dir, mode: lstatSync(dir).mode & 0o7777, dir: true },
    ...readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      const p = path.join(dir, e.name);
      return e.isDirectory() ? tree(p) : [{ path: p, mode: lstatSync(p).mode & 0o7777, dir: false }];
    }),
  ];
  const openToOthers = (dir: string) => tree(dir).filter((f) => (f.mode & 0o077) !== 0);

  it('a new embedded data folder is 0700 and nothing in it is open to other local users, after writes, a checkpoint and new WAL segments', async () => {
    const dataDir = path.join(root, 'fresh', 'data'); // ./data under the working directory
    loadProcessSecrets({ cookieKeys: null, kek: null, dataDir });
    const db = await openDatabase({ databaseUrl: null, dataDir });
    const hash = await hashPassword('a local user must not read this 1');
    await createAccountStore(db).create({ username: 'victim', passwordHash: hash });
    // Written after start: new table files, full WAL segments, a checkpoint (the ones recycled too).
    await db.query('CREATE TABLE later_writes (v text)');
    for (let i = 0; i < 3; i++) {
      await db.query("INSERT INTO later_writes SELECT repeat('x', 2000) FROM generate_series(1, 10000)");
      await db.query('SELECT pg_switch_wal()');
      await db.query('CHECKPOINT');
    }
    await db.close();

    expect(lstatSync(dataDir).mode & 0o777).toBe(0o700);
    expect(lstatSync(path.join(dataDir, 'pg')).mode & 0o777).toBe(0o700);
    expect(lstatSync(path.join(dataDir, 'secrets.json')).mode & 0o777).toBe(0o600);
    expect(openToOthers(dataDir)).toEqual([]);
    // The file that holds the hash is the owner's alone.
    const holders = tree(path.join(dataDir, 'pg')).filter((f) => !f.dir && readFileSync(f.path).includes(Buffer.from(hash)));
    expect(holders.length).toBeGreaterThan(0);
    for (const h of holders) expect(h.mode & 0o777).toBe(0o600);
  }, 120_000);

  it('a data folder left open by an earlier version is made private at start, with a warning; the next start has nothing to warn about', async () => {
    const dataDir = path.join(root, 'old');
    mkdirSync(dataDir);
    await seedPglite(path.join(dataDir, 'pg'));
    // As an earlier version left it: folders 0755, PGlite's files 0666.
    for (const f of tree(dataDir)) chmodSync(f.path, f.dir ? 0o755 : 0o666);
    expect(openToOthers(dataDir).length).toBeGreaterThan(100);

    const lines: { level: number; msg: string; count?: number; unfixed?: number }[] = [];
    const logger = () => createLogger('info', new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } }));
    const warnings = () => lines.filter((l) => l.level === 40 && l.msg.startsWith('the data folder was open to other local users'));

    const first = await startTestIdp({ dataDir, idp: { logger: logger() } });
    await first.stop();
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]!.count).toBeGreaterThan(100);
    expect(warnings()[0]!.unfixed).toBe(0);
    expect(openToOthers(dataDir)).toEqual([]);
    expect(lstatSync(dataDir).mode & 0o777).toBe(0o700);

    // The files beside the database, copied in open (a backup restored with its modes): made
    // private too, and counted (red-team: secrets.json with the cookie keys stayed 0644, unnamed).
    const beside = readdirSync(dataDir).filter((n) => n !== 'pg').map((n) => path.join(dataDir, n));
    expect(beside.map((p) => path.basename(p))).toContain('secrets.json');
    for (const p of beside) chmodSync(p, lstatSync(p).isDirectory() ? 0o755 : 0o644);
    lines.length = 0;
    const again = await startTestIdp({ dataDir, idp: { logger: logger() } });
    await again.stop();
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]!.count).toBe(beside.length);
    expect(openToOthers(dataDir)).toEqual([]);

    // Folders the IdP did not make are not entered: a volume's lost+found (root's, 0700: listing it as
    // the container's user failed with EACCES and stopped the start), an operator's own folder.
    mkdirSync(path.join(dataDir, 'lost+found'), { mode: 0o700 });
    mkdirSync(path.join(dataDir, 'operator', 'deep'), { recursive: true });
    writeFileSync(path.join(dataDir, 'operator', 'deep', 'notes.txt'), 'x');
    chmodSync(path.join(dataDir, 'operator', 'deep', 'notes.txt'), 0o644);
    expect(privateDataFolder(dataDir)).toEqual([]);
    expect(lstatSync(path.join(dataDir, 'operator', 'deep', 'notes.txt')).mode & 0o777).toBe(0o644);

    lines.length = 0;
    const second = await startTestIdp({ dataDir, idp: { logger: logger() } });
    await second.close();
    expect(warnings()).toEqual([]);
    expect(openToOthers(dataDir).map((f) => path.relative(dataDir, f.path))).toEqual(['operator/deep/notes.txt']);
  }, 120_000);
});
