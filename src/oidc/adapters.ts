import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Db } from '../storage/db.js';
import type { Redis } from '../storage/redis.js';

/**
 * Where oidc-provider keeps each model. What must outlive a restart of the IdP (the browser's
 * session, the user's grant, refresh tokens) goes to PostgreSQL/PGlite; short-lived artefacts
 * (interactions, codes, access tokens, replay markers) go to Redis, with their TTL.
 */
export const DURABLE_MODELS = new Set(['Session', 'Grant', 'RefreshToken', 'ClientCredentials']);

const epoch = () => Math.floor(Date.now() / 1000);

/** PostgreSQL/PGlite adapter over the `oidc_payloads` table. */
export class SqlAdapter implements Adapter {
  constructor(private readonly db: Db, private readonly model: string) {}

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    const expiresAt = expiresIn ? new Date(Date.now() + expiresIn * 1000) : null;
    await this.db.query(
      `INSERT INTO oidc_payloads (model, id, payload, grant_id, uid, user_code, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (model, id) DO UPDATE SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id,
         uid = EXCLUDED.uid, user_code = EXCLUDED.user_code, expires_at = EXCLUDED.expires_at`,
      [this.model, id, JSON.stringify(payload), payload.grantId ?? null, payload.uid ?? null, payload.userCode ?? null, expiresAt]);
  }

  private async findWhere(column: 'id' | 'uid' | 'user_code', value: string): Promise<AdapterPayload | undefined> {
    const [row] = await this.db.query<{ payload: AdapterPayload; consumed_at: Date | string | null }>(
      `SELECT payload, consumed_at FROM oidc_payloads
        WHERE model = $1 AND ${column} = $2 AND (expires_at IS NULL OR expires_at > now()) LIMIT 1`,
      [this.model, value]);
    if (!row) return undefined;
    return row.consumed_at ? { ...row.payload, consumed: Math.floor(new Date(row.consumed_at).getTime() / 1000) } : row.payload;
  }

  find(id: string) { return this.findWhere('id', id); }
  findByUid(uid: string) { return this.findWhere('uid', uid); }
  findByUserCode(userCode: string) { return this.findWhere('user_code', userCode); }

  async consume(id: string): Promise<void> {
    await this.db.query('UPDATE oidc_payloads SET consumed_at = now() WHERE model = $1 AND id = $2', [this.model, id]);
  }

  async destroy(id: string): Promise<void> {
    await this.db.query('DELETE FROM oidc_payloads WHERE model = $1 AND id = $2', [this.model, id]);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.db.query('DELETE FROM oidc_payloads WHERE model = $1 AND grant_id = $2', [this.model, grantId]);
  }
}

/** Redis adapter: one hash per artefact (payload, consumed), with secondary index keys. */
export class RedisAdapter implements Adapter {
  constructor(private readonly redis: Redis, private readonly model: string) {}

  private key(id: string) { return `oidc:${this.model}:${id}`; }
  private grantKey(grantId: string) { return `oidc:${this.model}:grant:${grantId}`; }

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    const key = this.key(id);
    const multi = this.redis.multi().del(key).hset(key, 'payload', JSON.stringify(payload));
    if (expiresIn) multi.expire(key, expiresIn);
    if (payload.grantId) {
      const grantKey = this.grantKey(payload.grantId);
      multi.rpush(grantKey, key);
      // The index must outlive every artefact listed in it; Redis models here live a day at most.
      multi.expire(grantKey, Math.max(expiresIn || 0, 24 * 3600));
    }
    for (const [index, value] of [['uid', payload.uid], ['userCode', payload.userCode]] as const) {
      if (!value) continue;
      const indexKey = `oidc:${this.model}:${index}:${value}`;
      if (expiresIn) multi.set(indexKey, id, 'EX', expiresIn); else multi.set(indexKey, id);
    }
    await multi.exec();
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const data = await this.redis.hgetall(this.key(id));
    if (!data.payload) return undefined;
    const payload = JSON.parse(data.payload) as AdapterPayload;
    return data.consumed ? { ...payload, consumed: Number(data.consumed) } : payload;
  }

  private async findByIndex(index: string, value: string) {
    const id = await this.redis.get(`oidc:${this.model}:${index}:${value}`);
    return id ? this.find(id) : undefined;
  }

  findByUid(uid: string) { return this.findByIndex('uid', uid); }
  findByUserCode(userCode: string) { return this.findByIndex('userCode', userCode); }

  async consume(id: string): Promise<void> {
    await this.redis.hset(this.key(id), 'consumed', String(epoch()));
  }

  async destroy(id: string): Promise<void> {
    await this.redis.del(this.key(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    const grantKey = this.grantKey(grantId);
    const keys = await this.redis.lrange(grantKey, 0, -1);
    // The list holds the keys as we wrote them (without the client's keyPrefix); del() adds it again.
    await this.redis.del(...keys, grantKey);
  }
}

export function adapterFactory(db: Db, redis: Redis) {
  return (model: string): Adapter => (DURABLE_MODELS.has(model) ? new SqlAdapter(db, model) : new RedisAdapter(redis, model));
}
