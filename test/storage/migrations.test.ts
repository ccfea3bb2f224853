import { describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { openPglite } from '../../src/storage/pglite.js';
import { openPostgres } from '../../src/storage/postgres.js';
import { migrate, migrations } from '../../src/storage/migrations.js';
import { TEST_DATABASE_URL } from '../support/env.js';

describe('migrations', () => {
  it('apply once on PGlite and are a no-op the second time', async () => {
    const db = await openPglite(null);
    expect(await migrate(db)).toEqual(migrations.map((m) => m.id));
    expect(await migrate(db)).toEqual([]);
    const tables = await db.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1");
    expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(['accounts', 'devices', 'oidc_payloads']));
    await db.close();
  });

  it('apply on a fresh schema of the real PostgreSQL server', async () => {
    const schema = `mig_${Date.now()}`;
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    const url = new URL(TEST_DATABASE_URL);
    url.searchParams.set('options', `-c search_path=${schema}`);
    const db = openPostgres(url.toString());
    try {
      expect(await migrate(db)).toEqual(migrations.map((m) => m.id));
      expect(await migrate(db)).toEqual([]);
    } finally {
      await db.close();
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    }
  });
});
