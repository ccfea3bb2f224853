import pg from 'pg';
import type { Db } from './db.js';

/** Bounds for a caller that must not wait for ever on a server that accepts and never answers (the admin CLI). */
export interface PostgresTimeouts {
  connectMs: number;
  queryMs: number;
}

/** A Db over a node-postgres pool (production). */
export function openPostgres(connectionString: string, timeouts?: PostgresTimeouts): Db {
  const pool = new pg.Pool({
    connectionString, max: 10,
    ...(timeouts ? { connectionTimeoutMillis: timeouts.connectMs, query_timeout: timeouts.queryMs } : {}),
  });
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
