import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { ANONYMOUS_SESSION_TTL, InteractionGone, RedisAdapter, SessionAdapter, SqlAdapter, storageKey } from '../../src/oidc/adapters.js';
import type { Db } from '../../src/storage/db.js';
import { migrate } from '../../src/storage/migrations.js';
import { openScratchPglite } from '../support/pglite-template.js';
import { openPostgres } from '../../src/storage/postgres.js';
import { openRedis, type Redis } from '../../src/storage/redis.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/env.js';
import { keysOf } from '../support/challenge-redis.js';
import { freshSchemaUrl } from '../support/idp.js';

/**
 * The contract oidc-provider expects of an adapter, run against every backend we ship:
 * PGlite and the real PostgreSQL (durable models), the real Redis and the in-process stand-in.
 */
function adapterContract(name: string, open: () => Promise<{ adapter: (model: string) => Adapter; dump(): Promise<string>; close(): Promise<void> }>) {
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

    // Found by uid or user code, the payload comes without its id (jti): only a hash of the id is
    // stored (audit item 6), and oidc-provider only reads such a payload.
    it('finds by uid and by user code', async () => {
      const a = backend.adapter('Session');
      await a.upsert('s1', { kind: 'Session', uid: 'uid-1', jti: 's1', accountId: 'acc-s1' }, 60);
      expect(await a.findByUid!('uid-1')).toMatchObject({ uid: 'uid-1', accountId: 'acc-s1' });
      expect(await a.findByUid!('uid-2')).toBeUndefined();
      const d = backend.adapter('DeviceCode');
      await d.upsert('d1', { kind: 'DeviceCode', userCode: 'ABCD-EFGH', jti: 'd1', clientId: 'dc' }, 60);
      expect(await d.findByUserCode!('ABCD-EFGH')).toMatchObject({ kind: 'DeviceCode', clientId: 'dc', userCode: 'ABCD-EFGH' });
      expect(await d.findByUserCode!('ABCD-EFGX')).toBeUndefined();
    });

    it('keeps no token: the id and the user code are stored only as SHA-256, and find() gives the id back', async () => {
      const token = 'Tok3n-value-0123456789abcdefghijklmnopq';
      const userCode = 'WXYZ-QRST';
      const a = backend.adapter('RefreshToken');
      await a.upsert(token, { kind: 'RefreshToken', jti: token, grantId: 'G-dump', accountId: 'acc-dump', userCode }, 60);
      expect(await a.find(token)).toMatchObject({ jti: token, grantId: 'G-dump', accountId: 'acc-dump' });
      const dump = await backend.dump();
      expect(dump).toContain('acc-dump');
      expect(dump).not.toContain(token);
      expect(dump).not.toContain(userCode);
      await a.consume(token);
      expect((await a.find(token))!.consumed).toBeDefined();
      await a.destroy(token);
      expect(await a.find(token)).toBeUndefined();
    });

    it('consuming a missing artefact creates nothing', async () => {
      // Redis refuses it outright (a code gone since it was read yields no tokens); SQL updates no row.
      await backend.adapter('AuthorizationCode').consume('never-stored-code').catch(() => undefined);
      expect(await backend.adapter('AuthorizationCode').find('never-stored-code')).toBeUndefined();
      expect(await backend.dump()).not.toContain(storageKey('never-stored-code'));
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

const sql = (db: Db) => ({
  adapter: (model: string) => new SqlAdapter(db, model, Date.now),
  dump: async () => JSON.stringify(await db.query('SELECT * FROM oidc_payloads')),
  close: () => db.close(),
});
/** Every key of this prefix and its value, as a copy of Redis would show them. */
async function redisDump(redis: Redis): Promise<string> {
  const prefix = String(redis.options.keyPrefix ?? '');
  const out: unknown[] = [];
  for (const key of await keysOf(redis, `${prefix}*`)) {
    const bare = key.slice(prefix.length);
    const type = await redis.type(bare);
    out.push([key, type === 'hash' ? await redis.hgetall(bare) : type === 'list' ? await redis.lrange(bare, 0, -1) : await redis.get(bare)]);
  }
  return JSON.stringify(out);
}
const kv = (redis: Redis) => ({
  adapter: (model: string) => new RedisAdapter(redis, model, Date.now),
  dump: () => redisDump(redis),
  close: async () => { redis.disconnect(); },
});

/** What only the Redis adapter promises: one string per artefact, its TTL kept when consumed, and the former layout still read. */
function redisLayout(name: string, open: () => Redis, formerLayout: boolean) {
  describe(`oidc adapter, Redis layout: ${name}`, () => {
    let redis: Redis;
    beforeAll(() => { redis = open(); });
    afterAll(() => { redis.disconnect(); });

    it('keeps the TTL when it marks an artefact consumed, also one stored with an empty payload', async () => {
      const a = new RedisAdapter(redis, 'AuthorizationCode', Date.now);
      await a.upsert('code-ttl', { kind: 'AuthorizationCode', jti: 'code-ttl', grantId: 'G-ttl' }, 60);
      await a.consume('code-ttl');
      const key = `oidc:AuthorizationCode:${storageKey('code-ttl')}`;
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(50_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
      expect(await a.find('code-ttl')).toMatchObject({ jti: 'code-ttl', grantId: 'G-ttl', consumed: expect.any(Number) });
      const empty = new RedisAdapter(redis, 'Interaction', Date.now);
      await empty.upsert('empty-1', {}, 60);
      await empty.consume('empty-1');
      expect((await empty.find('empty-1'))!.consumed).toBeGreaterThan(0);
    });

    // oidc-provider reads a code, checks `consumed`, then consumes it: parallel exchanges all read it
    // unconsumed. The consume itself decides: once only; consumed or gone meanwhile is invalid_grant.
    it('consumes an artefact once: a second consume, or one of a missing artefact, is invalid_grant', async () => {
      const a = new RedisAdapter(redis, 'AuthorizationCode', Date.now);
      await a.upsert('code-once', { kind: 'AuthorizationCode', jti: 'code-once', grantId: 'G-once', claims: { id_token: { consumed: 1 } } } as unknown as AdapterPayload, 60);
      const tries = await Promise.allSettled(Array.from({ length: 20 }, () => a.consume('code-once')));
      expect(tries.filter((t) => t.status === 'fulfilled')).toHaveLength(1);
      for (const t of tries) if (t.status === 'rejected') expect(t.reason).toMatchObject({ error: 'invalid_grant' });
      await expect(a.consume('code-missing')).rejects.toMatchObject({ error: 'invalid_grant' });
      // A "consumed" nested in the payload (a claims request is the client's) is not the artefact's own.
      await a.upsert('code-nested', { kind: 'AuthorizationCode', jti: 'code-nested', claims: { id_token: { consumed: 7 } } } as unknown as AdapterPayload, 60);
      await a.consume('code-nested');
      expect((await a.find('code-nested'))!.consumed).toBeGreaterThan(1_000_000);
    });

    // The pages finish the interaction they loaded instead of having oidc-provider read it again
    // (src/interaction/load.ts finishInteraction): one resumed (deleted) or lapsed meanwhile must
    // not come back with a result, as the read again made sure.
    it('saves an Interaction with a result only while it is still there', async () => {
      const a = new RedisAdapter(redis, 'Interaction', Date.now);
      await a.upsert('int-1', { kind: 'Interaction', jti: 'int-1', returnTo: '/auth/int-1' }, 60);
      await a.upsert('int-1', { kind: 'Interaction', jti: 'int-1', returnTo: '/auth/int-1', result: { login: { accountId: 'acc' } } }, 60);
      expect(await a.find('int-1')).toMatchObject({ result: { login: { accountId: 'acc' } } });
      await a.destroy('int-1');
      await expect(a.upsert('int-1', { kind: 'Interaction', jti: 'int-1', returnTo: '/auth/int-1', result: { login: { accountId: 'acc' } } }, 60))
        .rejects.toBeInstanceOf(InteractionGone);
      expect(await a.find('int-1')).toBeUndefined();
      expect(await redis.exists(`oidc:Interaction:${storageKey('int-1')}`)).toBe(0);
    });

    // The stand-in keeps nothing across a restart, so it never holds a key of the former layout.
    if (formerLayout) it('reads and consumes an artefact of the former layout (a hash), and an upsert replaces it', async () => {
      const a = new RedisAdapter(redis, 'AccessToken', Date.now);
      const key = `oidc:AccessToken:${storageKey('old-at')}`;
      await redis.hset(key, 'payload', JSON.stringify({ kind: 'AccessToken', accountId: 'acc-old' }));
      await redis.expire(key, 60);
      expect(await a.find('old-at')).toMatchObject({ jti: 'old-at', accountId: 'acc-old' });
      expect((await a.find('old-at'))!.consumed).toBeUndefined();
      await a.consume('old-at');
      expect((await a.find('old-at'))!.consumed).toBeGreaterThan(0);
      await a.upsert('old-at', { kind: 'AccessToken', jti: 'old-at', accountId: 'acc-new' }, 60);
      expect(await a.find('old-at')).toMatchObject({ accountId: 'acc-new' });
      expect((await a.find('old-at'))!.consumed).toBeUndefined();
    });
  });
}
redisLayout('Redis', () => openRedis(TEST_REDIS_URL, uniquePrefix('layout')), true);
redisLayout('in-process stand-in', () => openRedis(null, uniquePrefix('layout')), false);

adapterContract('PGlite', async () => { const db = await openScratchPglite(); await migrate(db); return sql(db); });
adapterContract('PostgreSQL', async () => {
  const schema = await freshSchemaUrl();
  const db = openPostgres(schema.url);
  await migrate(db);
  return { ...sql(db), close: async () => { await db.close(); await schema.drop(); } };
});
adapterContract('Redis', async () => kv(openRedis(TEST_REDIS_URL, uniquePrefix('adapter'))));
adapterContract('in-process stand-in', async () => kv(openRedis(null, uniquePrefix('adapter'))));

/**
 * Audit item 9: oidc-provider saves a Session for an anonymous `GET /session/end`. Such a session
 * (no accountId) must not become a database row: it lives in Redis for ANONYMOUS_SESSION_TTL.
 * A signed-in session is durable, in SQL, and only there.
 */
function sessionContract(name: string, open: () => Promise<{ db: Db; redis: Redis; close(): Promise<void> }>) {
  describe(`session adapter: ${name}`, () => {
    let b: Awaited<ReturnType<typeof open>>;
    beforeAll(async () => { b = await open(); });
    afterAll(() => b.close());
    const rows = async () => (await b.db.query<{ n: string | number }>("SELECT count(*) AS n FROM oidc_payloads WHERE model = 'Session'"))[0]!.n;

    it('keeps an anonymous session in Redis with a short TTL, and a signed-in one in SQL only', async () => {
      const a = new SessionAdapter(new SqlAdapter(b.db, 'Session', Date.now), new RedisAdapter(b.redis, 'Session', Date.now));
      const before = Number(await rows());
      await a.upsert('anon-1', { kind: 'Session', jti: 'anon-1', uid: 'u-anon', state: { secret: 'x' } }, 14 * 86_400);
      expect(Number(await rows())).toBe(before);
      expect(await a.find('anon-1')).toMatchObject({ jti: 'anon-1', uid: 'u-anon' });
      const keys = await keysOf(b.redis, `${String(b.redis.options.keyPrefix)}oidc:Session:*`);
      const ttls = await Promise.all(keys.filter((k) => !k.includes(':uid:')).map((k) => b.redis.ttl(k.slice(String(b.redis.options.keyPrefix).length))));
      expect(ttls.length).toBe(1);
      expect(ttls[0]).toBeGreaterThan(0);
      expect(ttls[0]).toBeLessThanOrEqual(ANONYMOUS_SESSION_TTL);

      await a.upsert('anon-1', { kind: 'Session', jti: 'anon-1', uid: 'u-anon', accountId: 'acc-1' }, 14 * 86_400);
      expect(Number(await rows())).toBe(before + 1);
      expect(await new RedisAdapter(b.redis, 'Session', Date.now).find('anon-1')).toBeUndefined();
      expect(await a.find('anon-1')).toMatchObject({ accountId: 'acc-1' });
      expect(await a.findByUid('u-anon')).toMatchObject({ accountId: 'acc-1' });
      await a.destroy('anon-1');
      expect(await a.find('anon-1')).toBeUndefined();
      expect(await a.findByUid('u-anon')).toBeUndefined();
      // Ended by a mark kept until it expires: a request in flight that loaded the session before
      // the end saves it back in vain (red-team: that save brought a signed-out session back).
      expect(Number(await rows())).toBe(before + 1);
      await a.upsert('anon-1', { kind: 'Session', jti: 'anon-1', uid: 'u-anon', accountId: 'acc-1' }, 14 * 86_400);
      expect(await a.find('anon-1')).toBeUndefined();
      expect(await a.findByUid('u-anon')).toBeUndefined();
      // The same uid under the new id oidc-provider gives a session at sign-in: read, the ended row not.
      await a.upsert('anon-2', { kind: 'Session', jti: 'anon-2', uid: 'u-anon', accountId: 'acc-1' }, 14 * 86_400);
      expect(await a.findByUid('u-anon')).toMatchObject({ accountId: 'acc-1' });
    });

    // A signed-in save deletes the Redis copy only when one may be there (src/oidc/redis-copies.ts):
    // oidc-provider signs a session in under a new id, so nearly always none is.
    it('a signed-in save of a session never anonymous here sends no DEL to Redis', async () => {
      const kv = new RedisAdapter(b.redis, 'Session', Date.now);
      const destroy = jest.spyOn(kv, 'destroy');
      const a = new SessionAdapter(new SqlAdapter(b.db, 'Session', Date.now), kv);
      await a.upsert('signed-1', { kind: 'Session', jti: 'signed-1', uid: 'u-signed-1', accountId: 'acc-1' }, 3600);
      await a.upsert('signed-1', { kind: 'Session', jti: 'signed-1', uid: 'u-signed-1', accountId: 'acc-1', loginTs: 1 }, 3600);
      expect(destroy).not.toHaveBeenCalled();
      expect(await a.find('signed-1')).toMatchObject({ accountId: 'acc-1', loginTs: 1 });
      await a.destroy('signed-1');
    });

    // The process that saves a session signed in is the one that loaded it (oidc-provider saves a
    // session in the request that read it), whichever process wrote its anonymous copy.
    it('an anonymous session signed in by another process leaves no copy to read back after a logout by uid', async () => {
      const writer = new SessionAdapter(new SqlAdapter(b.db, 'Session', Date.now), new RedisAdapter(b.redis, 'Session', Date.now));
      const other = new SessionAdapter(new SqlAdapter(b.db, 'Session', Date.now), new RedisAdapter(b.redis, 'Session', Date.now));
      await writer.upsert('anon-2', { kind: 'Session', jti: 'anon-2', uid: 'u-anon-2', state: { secret: 'x' } }, 600);
      expect(await other.find('anon-2')).toMatchObject({ uid: 'u-anon-2' });
      await other.upsert('anon-2', { kind: 'Session', jti: 'anon-2', uid: 'u-anon-2', accountId: 'acc-2' }, 3600);
      expect(await new RedisAdapter(b.redis, 'Session', Date.now).find('anon-2')).toBeUndefined();
      // Logout by uid (src/oidc/sessions.ts end) removes the row; nothing anonymous comes back.
      await b.db.query("DELETE FROM oidc_payloads WHERE model = 'Session' AND uid = $1", ['u-anon-2']);
      expect(await writer.find('anon-2')).toBeUndefined();
      expect(await other.find('anon-2')).toBeUndefined();
      expect(await other.findByUid('u-anon-2')).toBeUndefined();
    });
  });
}

sessionContract('PGlite and the in-process stand-in', async () => {
  const db = await openScratchPglite();
  await migrate(db);
  const redis = openRedis(null, uniquePrefix('session'));
  return { db, redis, close: async () => { redis.disconnect(); await db.close(); } };
});
sessionContract('PostgreSQL and Redis', async () => {
  const schema = await freshSchemaUrl();
  const db = openPostgres(schema.url);
  await migrate(db);
  const redis = openRedis(TEST_REDIS_URL, uniquePrefix('session'));
  return { db, redis, close: async () => { redis.disconnect(); await db.close(); await schema.drop(); } };
});
