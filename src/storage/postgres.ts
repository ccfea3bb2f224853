import pg from 'pg';
import type { Db } from './db.js';

/** A Db over a node-postgres pool (production). */
export function openPostgres(connectionString: string): Db {
  const pool = new pg.Pool({ connectionString, max: 10 });
  // An idle client's error (server restart) must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  const over = (run: (sql: string, params?: readonly unknown[]) => Promise<pg.QueryResult>): Db['query'] =>
    async (sql, params) => (await run(sql, params)).rows;
  return {
    kind: 'postgres',
    query: over((sql, params) => pool.query(sql, params as unknown[])),
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const tx: Db = {
          kind: 'postgres',
          query: over((sql, params) => client.query(sql, params as unknown[])),
          transaction: (inner) => inner(tx),
          close: async () => {},
        };
        const result = await fn(tx);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}
