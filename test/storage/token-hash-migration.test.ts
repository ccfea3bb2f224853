import { describe, expect, it } from '@jest/globals';
import { SqlAdapter, storageKey } from '../../src/oidc/adapters.js';
import type { Db } from '../../src/storage/db.js';
import { migrate } from '../../src/storage/migrations.js';
import { openScratchPglite } from '../support/pglite-template.js';
import { openPostgres } from '../../src/storage/postgres.js';
import { freshSchemaUrl } from '../support/idp.js';

/**
 * Audit item 6, the upgrade: rows written by an older version hold the token itself as their id
 * and as `jti`. Migration 3 re-keys them under SHA-256 (the same hash as src/oidc/adapters.ts),
 * so a refresh token issued before the upgrade keeps working while the database stops holding it;
 * expired rows and anonymous sessions go.
 */
async function upgradeFromLegacyRows(db: Db) {
  await migrate(db);
  // As the database was before migration 3 (it only touches data, so it can be replayed).
  await db.query('DELETE FROM schema_migrations WHERE id = 3');
  const legacy = (model: string, id: string, payload: Record<string, unknown>, expires: string, extra: { grant?: string; uid?: string; userCode?: string } = {}) =>
    db.query(`INSERT INTO oidc_payloads (model, id, payload, grant_id, uid, user_code, expires_at) VALUES ($1, $2, $3, $4, $5, $6, now() + $7::interval)`,
      [model, id, JSON.stringify({ ...payload, jti: id, kind: model }), extra.grant ?? null, extra.uid ?? null, extra.userCode ?? null, expires]);
  await legacy('RefreshToken', 'legacy-refresh-token-0123456789abcdef', { accountId: 'acc-1', grantId: 'G1' }, '1 day', { grant: 'G1' });
  await legacy('RefreshToken', 'expired-refresh-token-0123456789abcd', { accountId: 'acc-1', grantId: 'G1' }, '-1 hour', { grant: 'G1' });
  await legacy('Session', 'legacy-session-id-0123456789abcdef', { accountId: 'acc-1', uid: 'su1' }, '1 day', { uid: 'su1' });
  await legacy('Session', 'anonymous-session-id-0123456789abcd', { uid: 'su2', state: { secret: 's' } }, '14 days', { uid: 'su2' });
  await legacy('DeviceCode', 'legacy-device-code-0123456789abcdef', { userCode: 'BCDF-GHJK' }, '1 hour', { userCode: 'BCDF-GHJK' });

  expect(await migrate(db)).toEqual([3]);

  const dump = JSON.stringify(await db.query('SELECT * FROM oidc_payloads'));
  for (const secret of ['legacy-refresh-token', 'legacy-session-id', 'legacy-device-code', 'BCDF-GHJK', '"jti"']) expect(dump).not.toContain(secret);
  expect(dump).not.toContain('expired-refresh-token');
  expect(dump).not.toContain('anonymous-session-id');
  expect(dump).not.toContain(storageKey('anonymous-session-id-0123456789abcd'));

  const rt = await new SqlAdapter(db, 'RefreshToken', Date.now).find('legacy-refresh-token-0123456789abcdef');
  expect(rt).toMatchObject({ jti: 'legacy-refresh-token-0123456789abcdef', accountId: 'acc-1', grantId: 'G1' });
  expect(await new SqlAdapter(db, 'Session', Date.now).find('legacy-session-id-0123456789abcdef')).toMatchObject({ accountId: 'acc-1' });
  expect(await new SqlAdapter(db, 'Session', Date.now).findByUid('su1')).toMatchObject({ accountId: 'acc-1' });
  expect(await new SqlAdapter(db, 'DeviceCode', Date.now).findByUserCode('BCDF-GHJK')).toMatchObject({ kind: 'DeviceCode' });
  // Deleting an account's artefacts by account and by grant still works on converted rows.
  expect(await db.query("SELECT 1 FROM oidc_payloads WHERE payload->>'accountId' = 'acc-1' AND model = 'RefreshToken' AND grant_id = 'G1'")).toHaveLength(1);
}

describe('migration 3: oidc artefacts under a hash of their id', () => {
  it('converts legacy rows on PGlite', async () => {
    const db = await openScratchPglite();
    try { await upgradeFromLegacyRows(db); } finally { await db.close(); }
  });

  it('converts legacy rows on PostgreSQL', async () => {
    const schema = await freshSchemaUrl();
    const db = openPostgres(schema.url);
    try { await upgradeFromLegacyRows(db); } finally { await db.close(); await schema.drop(); }
  });
});
