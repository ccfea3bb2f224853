/**
 * The one query surface for PostgreSQL (node-postgres) and embedded PGlite.
 * Features own narrow stores built on this; every SQL statement runs unchanged on both.
 */
export interface Db {
  readonly kind: 'postgres' | 'pglite';
  /** Runs one statement with `$1`-style parameters and returns its rows. */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Runs `fn` in a transaction; it commits when `fn` resolves and rolls back when it throws. */
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
