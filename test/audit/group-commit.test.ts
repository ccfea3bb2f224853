import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createAuditLog, createAuditWriter } from '../../src/audit/log.js';
import { createLogger } from '../../src/log.js';
import type { Db } from '../../src/storage/db.js';
import { migrate } from '../../src/storage/migrations.js';
import { openScratchPglite } from '../support/pglite-template.js';

/**
 * Audit records are written by group commit (src/audit/log.ts): what arrives while an INSERT is in
 * flight goes in the next one. What a reader of the audit log must still see: every record, with
 * its content, in the order recorded, written before record() resolves; a bad one fails alone.
 */
describe('audit log, group commit', () => {
  let db: Db;
  let statements: string[];
  beforeAll(async () => {
    const real = await openScratchPglite();
    await migrate(real);
    statements = [];
    db = { ...real, query: (sql, params) => { statements.push(sql); return real.query(sql, params); } };
  });
  afterAll(() => db.close());

  it('writes records that arrive together in fewer statements, each one whole, in order, before record() resolves', async () => {
    const audit = createAuditLog(db, createLogger('silent'));
    statements.length = 0;
    const done = await Promise.all(Array.from({ length: 12 }, async (_, i) => {
      await audit.record({ type: 'test.batch', accountId: `acc-${i}`, clientId: 'app', ip: '192.0.2.1', detail: { n: i, note: 'ünïcode' } });
      // Resolved: the row is there already.
      return (await audit.query({ accountId: `acc-${i}` })).length;
    }));
    expect(done).toEqual(Array(12).fill(1));
    const inserts = statements.filter((s) => s.startsWith('INSERT INTO audit_events'));
    expect(inserts.length).toBeLessThan(12);
    const rows = (await audit.query({ type: 'test.batch', limit: 50 })).reverse();
    expect(rows.map((r) => r.accountId)).toEqual(Array.from({ length: 12 }, (_, i) => `acc-${i}`));
    expect(rows[5]).toMatchObject({ type: 'test.batch', clientId: 'app', ip: '192.0.2.1', detail: { n: 5, note: 'ünïcode' } });
  });

  it('fails only the record that cannot be written, not the others written with it', async () => {
    const audit = createAuditLog(db, createLogger('silent'));
    const results = await Promise.allSettled([
      audit.record({ type: 'test.alone', accountId: 'first' }),
      audit.record({ type: 'test.alone', accountId: 'good-1' }),
      // PostgreSQL refuses \u0000 in jsonb.
      audit.record({ type: 'test.alone', accountId: 'bad', detail: { text: 'nul \u0000 here' } }),
      audit.record({ type: 'test.alone', accountId: 'good-2' }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    const rows = await audit.query({ type: 'test.alone' });
    expect(rows.map((r) => r.accountId).sort()).toEqual(['first', 'good-1', 'good-2']);
  });

  describe('a record written in the background (a push\'s send results)', () => {
    const row = (accountId: string) => ['test.linger', accountId, 'app', null, '{}'] as [string, string, string, null, string];
    const rowsOf = async (...accountIds: string[]) => (await db.query<{ account_id: string }>(
      `SELECT account_id FROM audit_events WHERE type = 'test.linger' AND account_id = ANY($1) ORDER BY id`, [accountIds])).map((r) => r.account_id);

    it('goes in the statement of the next record written, which does not wait for it', async () => {
      // A linger far past the test's own timeout: only the other record's write can have taken it.
      const write = createAuditWriter(db, 600_000);
      statements.length = 0;
      const background = write(row('bg-1'), { background: true });
      expect(statements.filter((s) => s.startsWith('INSERT INTO audit_events'))).toHaveLength(0);
      await write(row('fg-1'));
      await background;
      expect(statements.filter((s) => s.startsWith('INSERT INTO audit_events'))).toHaveLength(1);
      expect(await rowsOf('bg-1', 'fg-1')).toEqual(['bg-1', 'fg-1']);
      await write.close();
    });

    it('is written alone when no other record comes within the linger time', async () => {
      const write = createAuditWriter(db, 20);
      await write(row('bg-alone'), { background: true });
      expect(await rowsOf('bg-alone')).toEqual(['bg-alone']);
    });

    it('is written at once when the log closes (shutdown), and later ones are not held', async () => {
      const write = createAuditWriter(db, 600_000);
      const lingering = write(row('bg-close'), { background: true });
      await write.close();
      await lingering;
      expect(await rowsOf('bg-close')).toEqual(['bg-close']);
      await write(row('bg-after'), { background: true });
      expect(await rowsOf('bg-after')).toEqual(['bg-after']);
    });

    it('a bad record beside it fails alone', async () => {
      const write = createAuditWriter(db, 600_000);
      const background = write(row('bg-good'), { background: true });
      await expect(write(['test.linger', 'bad', null, null, JSON.stringify({ text: 'nul \u0000 here' })])).rejects.toBeTruthy();
      await background;
      expect(await rowsOf('bg-good', 'bad')).toEqual(['bg-good']);
      await write.close();
    });
  });
});
