import { describe, expect, it } from '@jest/globals';
import type { Db } from '../../src/storage/db.js';
import { migrate } from '../../src/storage/migrations.js';
import { openScratchPglite } from '../support/pglite-template.js';
import { openPostgres } from '../../src/storage/postgres.js';
import { startSweeper, sweepExpiredPayloads } from '../../src/oidc/sweep.js';
import { freshSchemaUrl } from '../support/idp.js';
import { sweepOldAuditEvents } from '../../src/audit/retention.js';

/**
 * Audit item 9: expired rows of oidc_payloads were never deleted, so the table grew with every
 * sign-in. The sweeper deletes them (in batches), on a timer that stops when the IdP closes.
 */
const insert = (db: Db, id: string, expires: string | null) => db.query(
  `INSERT INTO oidc_payloads (model, id, payload, expires_at) VALUES ('RefreshToken', $1, '{}', ${expires === null ? 'NULL' : `now() + '${expires}'::interval`})`, [id]);
const ids = async (db: Db) => (await db.query<{ id: string }>('SELECT id FROM oidc_payloads ORDER BY id')).map((r) => r.id);

function sweepContract(name: string, open: () => Promise<{ db: Db; close(): Promise<void> }>) {
  describe(`sweeping expired oidc_payloads: ${name}`, () => {
    it('deletes every expired row, in batches, and keeps the live ones', async () => {
      const { db, close } = await open();
      try {
        for (let i = 0; i < 25; i++) await insert(db, `old-${String(i).padStart(2, '0')}`, '-1 minute');
        await insert(db, 'live', '1 hour');
        await insert(db, 'no-expiry', null);
        expect(await sweepExpiredPayloads(db, 10)).toBe(25);
        expect(await ids(db)).toEqual(['live', 'no-expiry']);
        expect(await sweepExpiredPayloads(db)).toBe(0);
      } finally { await close(); }
    });

    it('sweeps on its timer, and not after stop()', async () => {
      const { db, close } = await open();
      try {
        await insert(db, 'old-a', '-1 second');
        const sweeper = startSweeper(db, { intervalMs: 50, onError: (err) => { throw err; } });
        await insert(db, 'old-b', '-1 second');
        await new Promise((r) => setTimeout(r, 300));
        expect(await ids(db)).toEqual([]);
        await sweeper.stop();
        await insert(db, 'old-c', '-1 second');
        await new Promise((r) => setTimeout(r, 300));
        expect(await ids(db)).toEqual(['old-c']);
      } finally { await close(); }
    });

    it('deletes audit records older than AUDIT_RETENTION_DAYS, in batches, on the same timer; 0 keeps them all', async () => {
      const { db, close } = await open();
      const audit = (type: string, age: string) => db.query(`INSERT INTO audit_events (type, at) VALUES ($1, now() - $2::interval)`, [type, age]);
      const types = async () => (await db.query<{ type: string }>('SELECT type FROM audit_events ORDER BY type')).map((r) => r.type);
      try {
        for (let i = 0; i < 12; i++) await audit(`old-${String(i).padStart(2, '0')}`, '31 days');
        await audit('recent', '29 days');
        await audit('today', '0 seconds');
        expect(await sweepOldAuditEvents(db, 0)).toBe(0);
        expect(await types()).toHaveLength(14);
        expect(await sweepOldAuditEvents(db, 30, 5)).toBe(12);
        expect(await types()).toEqual(['recent', 'today']);
        await audit('old-again', '400 days');
        const sweeper = startSweeper(db, { intervalMs: 60_000, auditRetentionDays: 365, onError: (err) => { throw err; } });
        await new Promise((r) => setTimeout(r, 300));
        await sweeper.stop();
        expect(await types()).toEqual(['recent', 'today']);
      } finally { await close(); }
    });
  });
}

sweepContract('PGlite', async () => {
  const db = await openScratchPglite();
  await migrate(db);
  return { db, close: () => db.close() };
});
sweepContract('PostgreSQL', async () => {
  const schema = await freshSchemaUrl();
  const db = openPostgres(schema.url);
  await migrate(db);
  return { db, close: async () => { await db.close(); await schema.drop(); } };
});
