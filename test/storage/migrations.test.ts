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

  it('apply once when six processes start together on an empty schema (each its own pool)', async () => {
    const schema = `mig_race_${Date.now()}`;
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    const url = new URL(TEST_DATABASE_URL);
    url.searchParams.set('options', `-c search_path=${schema}`);
    const dbs = Array.from({ length: 6 }, () => openPostgres(url.toString()));
    try {
      const runs = await Promise.allSettled(dbs.map((db) => migrate(db)));
      expect(runs.map((r) => r.status)).toEqual(Array(6).fill('fulfilled'));
      const applied = runs.map((r) => (r as PromiseFulfilledResult<number[]>).value);
      expect(applied.filter((a) => a.length > 0)).toEqual([migrations.map((m) => m.id)]);
    } finally {
      await Promise.all(dbs.map((db) => db.close()));
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    }
  });
});
