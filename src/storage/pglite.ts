import { PGlite } from '@electric-sql/pglite';
import type { Db } from './db.js';
import { ensurePrivateDir, privateUmask, tightenTree } from './private-folder.js';

/** A Db over embedded PGlite in a data folder (the zero-setup default), or in memory when dir is null. */
export async function openPglite(dir: string | null): Promise<Db> {
  if (dir) {
    // Red-team (operator round): the database's files were 0666 in a 0755 folder, readable and
    // writable by every local user. The folder is 0700, files created from now on are private
    // (umask), and the ones PGlite unpacks with an explicit 0666 are tightened once it is open.
    privateUmask();
    ensurePrivateDir(dir);
  }
  const lite = dir ? await PGlite.create(dir) : await PGlite.create();
  if (dir) tightenTree(dir);
  const wrap = (q: { query: PGlite['query'] }): Db['query'] =>
    async (sql, params) => (await q.query(sql, params as unknown[])).rows as never;
  // PGlite runs one statement at a time; its own transaction() serialises callers.
  const db: Db = {
    kind: 'pglite',
    query: wrap(lite),
    transaction: (fn) =>
      lite.transaction(async (t) => {
        const tx: Db = { kind: 'pglite', query: wrap(t), transaction: (inner) => inner(tx), close: async () => {} };
        return fn(tx);
      }),
    close: () => lite.close(),
  };
  return db;
}
