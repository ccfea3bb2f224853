import { openPostgres, type PostgresTimeouts } from './postgres.js';
import { migrate } from './migrations.js';
import type { Db } from './db.js';

/** Opens PostgreSQL when a URL is given, otherwise PGlite in `dataDir`/pg, and applies migrations. */
export async function openDatabase(opts: { databaseUrl: string | null; dataDir: string | null; timeouts?: PostgresTimeouts }): Promise<Db> {
  const db = opts.databaseUrl
    ? openPostgres(opts.databaseUrl, opts.timeouts)
    : // Loaded only when used: the embedded PostgreSQL is not needed beside a real one.
      await (await import('./pglite.js')).openPglite(opts.dataDir ? `${opts.dataDir}/pg` : null);
  await migrate(db);
  return db;
}
