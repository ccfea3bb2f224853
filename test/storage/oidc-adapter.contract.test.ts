import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Adapter } from 'oidc-provider';
import { RedisAdapter, SqlAdapter } from '../../src/oidc/adapters.js';
import type { Db } from '../../src/storage/db.js';
import { migrate } from '../../src/storage/migrations.js';
import { openPglite } from '../../src/storage/pglite.js';
import { openPostgres } from '../../src/storage/postgres.js';
import { openRedis, type Redis } from '../../src/storage/redis.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/env.js';
import { freshSchemaUrl } from '../support/idp.js';

/**
 * The contract oidc-provider expects of an adapter, run against every backend we ship:
 * PGlite and the real PostgreSQL (durable models), the real Redis and the in-process stand-in.
 */
function adapterContract(name: string, open: () => Promise<{ adapter: (model: string) => Adapter; close(): Promise<void> }>) {
  describe(`oidc adapter contract: ${name}`, () => {
    let backend: Awaited<ReturnType<typeof open>>;
    beforeAll(async () => { backend = await open(); });
    afterAll(() => backend.close());

    it('stores, finds and destroys a payload', async () => {
      const a = backend.adapter('Grant');
      await a.upsert('g1', { accountId: 'acc', clientId: 'c', kind: 'Grant', jti: 'g1' }, 60);
      expect(await a.find('g1')).toMatchObject({ accountId: 'acc', clientId: 'c' });
      await a.upsert('g1', { accountId: 'acc', clientId: 'c2', kind: 'Grant', jti: 'g1' }, 60);
      expect((await a.find('g1'))!.clientId).toBe('c2');
      await a.destroy('g1');
      expect(await a.find('g1')).toBeUndefined();
    });

    it('keeps models apart', async () => {
      await backend.adapter('RefreshToken').upsert('same', { kind: 'RefreshToken', jti: 'same' }, 60);
      expect(await backend.adapter('Session').find('same')).toBeUndefined();
    });

    it('marks a payload consumed', async () => {
      const a = backend.adapter('RefreshToken');
      await a.upsert('rt1', { kind: 'RefreshToken', grantId: 'G', jti: 'rt1' }, 60);
      expect((await a.find('rt1'))!.consumed).toBeUndefined();
      await a.consume('rt1');
      const consumed = (await a.find('rt1'))!.consumed as number;
      expect(Math.abs(consumed - Date.now() / 1000)).toBeLessThan(5);
    });

    it('finds by uid and by user code', async () => {
      const a = backend.adapter('Session');
      await a.upsert('s1', { kind: 'Session', uid: 'uid-1', jti: 's1' }, 60);
      expect((await a.findByUid!('uid-1'))!.jti).toBe('s1');
      expect(await a.findByUid!('uid-2')).toBeUndefined();
      const d = backend.adapter('DeviceCode');
      await d.upsert('d1', { kind: 'DeviceCode', userCode: 'ABCD-EFGH', jti: 'd1' }, 60);
      expect((await d.findByUserCode!('ABCD-EFGH'))!.jti).toBe('d1');
    });

    it('revokes everything of a grant, and only that', async () => {
      const a = backend.adapter('AccessToken');
      await a.upsert('at1', { kind: 'AccessToken', grantId: 'G1', jti: 'at1' }, 60);
      await a.upsert('at2', { kind: 'AccessToken', grantId: 'G1', jti: 'at2' }, 60);
      await a.upsert('at3', { kind: 'AccessToken', grantId: 'G2', jti: 'at3' }, 60);
      await a.revokeByGrantId('G1');
      expect(await a.find('at1')).toBeUndefined();
      expect(await a.find('at2')).toBeUndefined();
      expect(await a.find('at3')).toBeDefined();
    });

    it('forgets a payload once it expires', async () => {
      const a = backend.adapter('Interaction');
      await a.upsert('i1', { kind: 'Interaction', jti: 'i1' }, 1);
      expect(await a.find('i1')).toBeDefined();
      await new Promise((r) => setTimeout(r, 2100));
      expect(await a.find('i1')).toBeUndefined();
    });
  });
}

const sql = (db: Db) => ({ adapter: (model: string) => new SqlAdapter(db, model), close: () => db.close() });
const kv = (redis: Redis) => ({ adapter: (model: string) => new RedisAdapter(redis, model), close: async () => { redis.disconnect(); } });

adapterContract('PGlite', async () => { const db = await openPglite(null); await migrate(db); return sql(db); });
adapterContract('PostgreSQL', async () => {
  const schema = await freshSchemaUrl();
  const db = openPostgres(schema.url);
  await migrate(db);
  return { ...sql(db), close: async () => { await db.close(); await schema.drop(); } };
});
adapterContract('Redis', async () => kv(openRedis(TEST_REDIS_URL, uniquePrefix('adapter'))));
adapterContract('in-process stand-in', async () => kv(openRedis(null, uniquePrefix('adapter'))));
