import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createAuditLog } from '../../src/audit/log.js';
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
});
