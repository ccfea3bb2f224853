import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { Db } from './db.js';

/** A Db over embedded PGlite in a data folder (the zero-setup default), or in memory when dir is null. */
export async function openPglite(dir: string | null): Promise<Db> {
  if (dir) mkdirSync(dir, { recursive: true });
  const lite = dir ? await PGlite.create(dir) : await PGlite.create();
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
