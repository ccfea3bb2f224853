import type { Db } from '../../src/storage/db.js';

export interface SeenStatement { sql: string; params: readonly unknown[] }

/** The statements sent on `db` while `fn` runs that `pick` keeps, in order (the IdP's own, counted as PostgreSQL receives them). */
export async function statementsDuring(db: Db, pick: (s: SeenStatement) => boolean, fn: () => Promise<unknown>): Promise<SeenStatement[]> {
  const query = db.query.bind(db);
  const seen: SeenStatement[] = [];
  (db as { query: typeof db.query }).query = (sql, params) => {
    const s = { sql, params: params ?? [] };
    if (pick(s)) seen.push(s);
    return query(sql, params);
  };
  try {
    await fn();
  } finally {
    (db as { query: typeof db.query }).query = query;
  }
  return seen;
}
