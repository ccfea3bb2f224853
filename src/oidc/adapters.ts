import { createHash } from 'node:crypto';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Db } from '../storage/db.js';
import type { Redis } from '../storage/redis.js';
import { redisScripts, type Script } from '../defences/redis-script.js';
import { RedisCopies } from './redis-copies.js';

/**
 * Where oidc-provider keeps each model. What must outlive a restart of the IdP (the browser's
 * session, the user's grant, refresh tokens) goes to PostgreSQL/PGlite; short-lived artefacts
 * (interactions, codes, access tokens, replay markers) go to Redis, with their TTL.
 *
 * A copy of either store must hold no usable token. oidc-provider's opaque tokens (refresh and
 * access tokens, codes) ARE their artefact id, and the id is repeated as `jti` in the payload. So
 * every artefact is stored under SHA-256 of its id and without `jti` (restored on `find`, when the
 * caller shows the id); a bearer value is then only ever compared, never kept, as Lucia stores
 * sessions and as RFC 6819 5.1.4.1.3 ("No Cleartext Storage of Credentials") asks of tokens.
 * `payload->>'accountId'` and `grant_id` stay in clear so an account's artefacts can be found.
 */
const DURABLE_MODELS = new Set(['Session', 'Grant', 'RefreshToken', 'ClientCredentials']);

/**
 * A Session without an account (oidc-provider saves one for an anonymous `GET /session/end`, to
 * keep its logout form's state) lives only this long, in Redis: anonymous requests must not grow
 * the database (README.md, Security: filling the database). Ten minutes is ample to press "Sign out".
 */
export const ANONYMOUS_SESSION_TTL = 600;

/*
 * Consumed is a member of the stored JSON, appended (a later member wins in JSON.parse), the TTL
 * kept: GET, PTTL, SET, atomic. A key of the former layout (a hash; artefacts live a day at most)
 * answers GET with WRONGTYPE and gets its 'consumed' field as before. A missing artefact stays
 * missing: writing one would create it without a TTL. One consumed already answers 2 and is left
 * as it is: of parallel exchanges of one code, which all read it unconsumed, one consumes it
 * (oidc-provider checks `consumed` on its read, then consumes; the rest issued tokens too, red-team
 * run: 3 to 6 of 12; one gone since, 0, is refused likewise). Only this script appends the member,
 * at the top level and last, so the JSON's end tells (a nested "consumed" is followed by two braces).
 */
const CONSUME_LUA = `
local v = redis.pcall('GET', KEYS[1])
if type(v) == 'table' and v.err then
  if redis.call('HEXISTS', KEYS[1], 'consumed') == 1 then return 2 end
  return redis.call('HSET', KEYS[1], 'consumed', ARGV[1])
end
if not v then return 0 end
if string.sub(v, 1, 12) == '{"consumed":' or string.find(v, ',"consumed":%d+}$') then return 2 end
local out
if v == '{}' then out = '{"consumed":' .. ARGV[1] .. '}' else out = string.sub(v, 1, -2) .. ',"consumed":' .. ARGV[1] .. '}' end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('SET', KEYS[1], out, 'PX', ttl) else redis.call('SET', KEYS[1], out) end
return 1
`;

/*
 * One upsert, one round trip, and as few commands as it can be: the artefact is a string, written
 * with its TTL by one SET (it was a hash: DEL, HSET, EXPIRE; MULTI and EXEC before that). SET
 * replaces a key of any type, so a hash of the former layout is replaced too. KEYS: the artefact,
 * then the grant's index when ARGV[3] is '1', then the uid/user-code index keys. ARGV: payload,
 * TTL (0: none), has-grant, the artefact's key as listed in the grant index (without keyPrefix),
 * the index's TTL, the hashed id, and '1' when the artefact must exist already (else nothing is
 * written and 0 is returned). Atomic, as the MULTI was.
 */
const UPSERT_LUA = `
if ARGV[7] == '1' and redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local ttl = tonumber(ARGV[2])
if ttl > 0 then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) else redis.call('SET', KEYS[1], ARGV[1]) end
local first = 2
if ARGV[3] == '1' then
  redis.call('RPUSH', KEYS[2], ARGV[4])
  redis.call('EXPIRE', KEYS[2], ARGV[5])
  first = 3
end
for i = first, #KEYS do
  if ttl > 0 then redis.call('SET', KEYS[i], ARGV[6], 'EX', ARGV[2]) else redis.call('SET', KEYS[i], ARGV[6]) end
end
return 1
`;

/**
 * An Interaction is saved with a `result` only to finish it (finishInteraction in
 * src/interaction/load.ts; oidc-provider's resume, on one it has just read): the save must then
 * find it still there. oidc-provider's interactionResult read it again just before saving; the
 * pages save the one they loaded instead (one GET fewer per sign-in), and this check, made in the
 * same script as the write, keeps what that read gave: an interaction already resumed (deleted) or
 * lapsed is not brought back with a result.
 */
export class InteractionGone extends Error {
  constructor() {
    super('interaction session not found');
  }
}

/**
 * A code, CIBA request or rotating refresh token consumed by another request first: oidc-provider's
 * InvalidGrant by shape (its error handler answers `expose`d errors with their `message` as the
 * OAuth error, `error_description` and `statusCode`). Not the class itself: importing
 * oidc-provider's values here would load it into the admin CLI, which imports this file.
 */
export class AlreadyUsed extends Error {
  readonly expose = true;
  readonly statusCode = 400;
  readonly error = 'invalid_grant';
  readonly error_description: string;
  constructor(what: string) {
    super('invalid_grant');
    this.error_description = `${what} already used`;
  }
}

/** The clock the adapters date artefacts by: oidc-provider's own (it reads the system clock), given at composition. */
export type Clock = () => number;

/**
 * The storage key of a token id (or user code): SHA-256, hex. Token ids carry 256 random bits
 * (oidc-provider's bitsOfOpaqueRandomness), so a fast hash suffices: there is nothing to guess.
 * Migration 3 computes the same in SQL.
 */
export function storageKey(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** The payload as stored: no bearer value in it (the id, a device flow's user code). */
function storable(model: string, payload: AdapterPayload): AdapterPayload {
  const { jti: _jti, userCode: _userCode, ...rest } = payload;
  if (model === 'Interaction' && rest.session && typeof rest.session === 'object') {
    // oidc-provider copies the session's id (the session cookie's value) here; nothing reads it back.
    const { cookie: _cookie, ...session } = rest.session as Record<string, unknown>;
    rest.session = session as AdapterPayload['session'];
  }
  return rest;
}

/**
 * Looked up by uid or user code, the caller does not show the id, so the payload comes back
 * without `jti`: oidc-provider only reads such a Session (is it there, whose is it). The device
 * flow (the one user of findByUserCode, and of a DeviceCode's userCode) is not enabled here;
 * enabling it would need the id kept sealed rather than hashed.
 */
const restore = (payload: AdapterPayload, id?: string): AdapterPayload => (id === undefined ? payload : { ...payload, jti: id });

/**
 * A Session saved over its row keeps the row's logout `state` (the /session/end form's secret)
 * when the save carries none: every request that loaded the session saves it back whole, and one
 * that loaded it before the logout page was shown dropped the secret, so the user's "yes, sign
 * me out" was refused (red-team: a second tab's silent renew, or a busy copy of the cookie, kept
 * the owner from signing out). oidc-provider clears the state only with a new id or an end.
 */
const SESSION_PAYLOAD = `CASE WHEN EXCLUDED.payload ? 'state' OR NOT (oidc_payloads.payload ? 'state') THEN EXCLUDED.payload
         ELSE jsonb_set(EXCLUDED.payload, '{state}', oidc_payloads.payload->'state') END`;

/** One row of oidc_payloads as an upsert writes it: its seven parameters, in column order. */
export type PayloadRow = [model: string, id: string, payload: string, grantId: string | null, uid: string | null, userCode: string | null, expiresAt: Date | null];

/** Pure: the row an upsert of `payload` writes (stored key, storable JSON, expiry from `now`). */
export function payloadRow(model: string, id: string, payload: AdapterPayload, expiresIn: number, now: number): PayloadRow {
  return [model, storageKey(id), JSON.stringify(storable(model, payload)), payload.grantId ?? null, payload.uid ?? null,
    payload.userCode ? storageKey(payload.userCode) : null, expiresIn ? new Date(now + expiresIn * 1000) : null];
}

/**
 * The upsert of `rows` rows whose parameters start at `$first`. A Session's keeps the row's logout
 * state and never writes over an ended row (answering a row only when it wrote).
 */
function upsertSql(rows: number, session: boolean, first: number): string {
  const values = Array.from({ length: rows }, (_, r) => `(${Array.from({ length: 7 }, (_, c) => `$${first + r * 7 + c}`).join(', ')})`).join(', ');
  return `INSERT INTO oidc_payloads (model, id, payload, grant_id, uid, user_code, expires_at)
       VALUES ${values}
       ON CONFLICT (model, id) DO UPDATE SET payload = ${session ? SESSION_PAYLOAD : 'EXCLUDED.payload'}, grant_id = EXCLUDED.grant_id,
         uid = EXCLUDED.uid, user_code = EXCLUDED.user_code, expires_at = EXCLUDED.expires_at${session ? ' WHERE oidc_payloads.consumed_at IS NULL RETURNING 1' : ''}`;
}

/** Writes rows of models other than Session (no two with the same model and id) in one statement. */
export async function upsertRows(db: Db, rows: readonly PayloadRow[]): Promise<void> {
  if (rows.length) await db.query(upsertSql(rows.length, false, 1), rows.flat());
}

/** How a Session row is ended (SqlAdapter, sessions.ts): marked, and kept at most an hour more. */
export const ENDED = `consumed_at = now(), expires_at = LEAST(expires_at, now() + interval '1 hour')`;

/**
 * PostgreSQL/PGlite adapter over the `oidc_payloads` table.
 *
 * A Session row is ended by a mark (`consumed_at`), not deleted, and kept until it expires: oidc-
 * provider saves every session a request loaded when that request ends, so a request in flight
 * while the session was ended (a sign-out, oidc-provider's end_session) wrote the deleted row back
 * and the session lived on in any browser holding its cookie (red-team: a copied cookie kept
 * /account open after the owner signed out, and enrolled a phone). An ended row is never updated
 * again, and reads as no session. (A signed-in session keeps its uid when oidc-provider gives it a
 * new id, and the old id's row is ended: a look-up by uid reads only the row not ended.) The mark
 * need only outlast the requests in flight: it expires within the hour, and the sweep removes it.
 */
export class SqlAdapter implements Adapter {
  private readonly endedStaysEnded: boolean;
  /** `onEndedSave`: a save of an ended Session changed nothing (the request then must not hand its id back to the browser). */
  constructor(private readonly db: Db, private readonly model: string, private readonly now: Clock, private readonly onEndedSave?: () => void) {
    this.endedStaysEnded = model === 'Session';
  }

  /**
   * `beside`: rows of other models written in the same statement, before this one
   * (grant-beside-session.ts: a sign-in's Grant with its Session).
   */
  async upsert(id: string, payload: AdapterPayload, expiresIn: number, beside: readonly PayloadRow[] = []): Promise<void> {
    const row = payloadRow(this.model, id, payload, expiresIn, this.now());
    const own = upsertSql(1, this.endedStaysEnded, 1);
    const rows = await this.db.query(beside.length ? `WITH beside AS (${upsertSql(beside.length, false, 8)}) ${own}` : own, [...row, ...beside.flat()]);
    if (this.endedStaysEnded && rows.length === 0) this.onEndedSave?.();
  }

  private async findWhere(column: 'id' | 'uid' | 'user_code', value: string): Promise<AdapterPayload | undefined> {
    const [row] = await this.db.query<{ payload: AdapterPayload; consumed_at: Date | string | null }>(
      `SELECT payload, consumed_at FROM oidc_payloads
        WHERE model = $1 AND ${column} = $2 AND (expires_at IS NULL OR expires_at > now())${this.endedStaysEnded ? ' AND consumed_at IS NULL' : ''} LIMIT 1`,
      [this.model, value]);
    if (!row) return undefined;
    return row.consumed_at ? { ...row.payload, consumed: Math.floor(new Date(row.consumed_at).getTime() / 1000) } : row.payload;
  }

  async find(id: string) {
    const payload = await this.findWhere('id', storageKey(id));
    return payload && restore(payload, id);
  }
  findByUid(uid: string) { return this.findWhere('uid', uid); }
  async findByUserCode(userCode: string) {
    const payload = await this.findWhere('user_code', storageKey(userCode));
    return payload && { ...payload, userCode };
  }

  async consume(id: string): Promise<void> {
    // Once: a refresh token rotated by parallel requests (all read it unconsumed) rotates for one;
    // the rest, and one gone meanwhile, are invalid_grant (as RedisAdapter.consume for codes).
    const rows = await this.db.query('UPDATE oidc_payloads SET consumed_at = now() WHERE model = $1 AND id = $2 AND consumed_at IS NULL RETURNING 1 AS done',
      [this.model, storageKey(id)]);
    if (rows.length === 0) throw new AlreadyUsed(this.model === 'RefreshToken' ? 'refresh token' : 'grant');
  }

  async destroy(id: string): Promise<void> {
    if (this.endedStaysEnded) {
      await this.db.query(`UPDATE oidc_payloads SET ${ENDED} WHERE model = $1 AND id = $2 AND consumed_at IS NULL`, [this.model, storageKey(id)]);
      return;
    }
    await this.db.query('DELETE FROM oidc_payloads WHERE model = $1 AND id = $2', [this.model, storageKey(id)]);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.db.query('DELETE FROM oidc_payloads WHERE model = $1 AND grant_id = $2', [this.model, grantId]);
  }
}

/** The Redis key of an interaction (without the client's key prefix), for a script that reads it beside other keys. */
export const interactionKey = (uid: string): string => `oidc:Interaction:${storageKey(uid)}`;

/** Redis adapter: one string per artefact (its JSON, consumed a member of it), with secondary index keys. */
export class RedisAdapter implements Adapter {

  private keyOf(hashed: string) { return `oidc:${this.model}:${hashed}`; }
  private key(id: string) { return this.keyOf(storageKey(id)); }
  private grantKey(grantId: string) { return `oidc:${this.model}:grant:${grantId}`; }
  private uidKey(uid: string) { return `oidc:${this.model}:uid:${uid}`; }
  private userCodeKey(userCode: string) { return `oidc:${this.model}:userCode:${storageKey(userCode)}`; }

  private readonly script: (name: string, lua: string, keys: number) => Script;
  constructor(private readonly redis: Redis, private readonly model: string, private readonly now: Clock) {
    this.script = redisScripts(redis);
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    const hashed = storageKey(id);
    const key = this.keyOf(hashed);
    const keys = [key];
    // The index must outlive every artefact listed in it; Redis models here live a day at most.
    if (payload.grantId) keys.push(this.grantKey(payload.grantId));
    // The index keys point at the hashed id: a dump of Redis names no token either.
    for (const indexKey of [payload.uid && this.uidKey(payload.uid), payload.userCode && this.userCodeKey(payload.userCode)]) {
      if (indexKey) keys.push(indexKey);
    }
    // The grant index lists the keys as we wrote them (without the client's keyPrefix); del() adds it again.
    const updateOnly = this.model === 'Interaction' && payload.result !== undefined;
    const written = await this.script('OidcUpsert', UPSERT_LUA, keys.length)(...keys, JSON.stringify(storable(this.model, payload)), expiresIn || 0,
      payload.grantId ? '1' : '0', key, Math.max(expiresIn || 0, 24 * 3600), hashed, updateOnly ? '1' : '0');
    if (updateOnly && Number(written) !== 1) throw new InteractionGone();
  }

  private async read(key: string, id?: string): Promise<AdapterPayload | undefined> {
    let raw: string | null;
    try {
      raw = await this.redis.get(key);
    } catch (err) {
      if (!/WRONGTYPE/.test((err as Error).message ?? '')) throw err;
      return this.readHash(key, id);
    }
    return raw ? restore(JSON.parse(raw) as AdapterPayload, id) : undefined;
  }

  /** The former layout (one hash: payload, consumed), until its artefacts have lapsed (a day at most). */
  private async readHash(key: string, id?: string): Promise<AdapterPayload | undefined> {
    const data = await this.redis.hgetall(key);
    if (!data.payload) return undefined;
    const payload = restore(JSON.parse(data.payload) as AdapterPayload, id);
    return data.consumed ? { ...payload, consumed: Number(data.consumed) } : payload;
  }

  find(id: string) { return this.read(this.key(id), id); }

  private async findByIndex(indexKey: string) {
    const hashed = await this.redis.get(indexKey);
    return hashed ? this.read(this.keyOf(hashed)) : undefined;
  }

  findByUid(uid: string) { return this.findByIndex(this.uidKey(uid)); }
  async findByUserCode(userCode: string) {
    const payload = await this.findByIndex(this.userCodeKey(userCode));
    return payload && { ...payload, userCode };
  }

  async consume(id: string): Promise<void> {
    // Only an artefact that is still there: HSET on a missing key would create one without a TTL.
    const done = await this.script('OidcConsume', CONSUME_LUA, 1)(this.key(id), String(Math.floor(this.now() / 1000)));
    // Consumed by another request since this one read it (2), or gone since (0: a replay seen by a
    // third revoked the grant and all its artefacts): this one gets no tokens (RFC 6749 4.1.2).
    if (Number(done) !== 1) throw new AlreadyUsed(this.model === 'AuthorizationCode' ? 'authorization code' : 'grant');
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

/**
 * Sessions: a signed-in one (it has an accountId) is durable, in SQL; an anonymous one goes to
 * Redis for ANONYMOUS_SESSION_TTL, so `GET /session/end` without a session adds no database row.
 * A save moves the session to its store and removes it from the other.
 *
 * A signed-in save deletes the Redis copy only when one may be there (RedisCopies: this process
 * found or wrote it within ANONYMOUS_SESSION_TTL); otherwise that DEL was one Redis command per
 * signed-in save for nothing. oidc-provider gives a session a new id when it signs in (resume's
 * resetIdentifier, or a new session's fresh id), so nearly always none is. Removed whenever one
 * may be, the copy cannot be read back (find falls back to Redis once the row is gone: a logout
 * by uid, src/oidc/sessions.ts) as an anonymous session after the signed-in one ended.
 */
export class SessionAdapter implements Adapter {
  // Timed by the monotonic clock, as Redis times the copy's TTL: not oidc-provider's (a test may move it).
  constructor(private readonly sql: SqlAdapter, private readonly kv: RedisAdapter,
    private readonly copies = new RedisCopies(() => performance.now(), ANONYMOUS_SESSION_TTL * 1000)) {}

  /** `beside`: written with a signed-in session in its statement (SqlAdapter.upsert); only a signed-in save is given any (grant-beside-session.ts). */
  async upsert(id: string, payload: AdapterPayload, expiresIn: number, beside: readonly PayloadRow[] = []): Promise<void> {
    if (payload.accountId) {
      await this.sql.upsert(id, payload, expiresIn, beside);
      if (this.copies.mayExist(id)) {
        await this.kv.destroy(id);
        this.copies.forget(id);
      }
    } else {
      this.copies.note(id);
      await this.kv.upsert(id, payload, Math.min(expiresIn || ANONYMOUS_SESSION_TTL, ANONYMOUS_SESSION_TTL));
      await this.sql.destroy(id);
    }
  }

  async find(id: string) {
    const durable = await this.sql.find(id);
    if (durable) return durable;
    const anonymous = await this.kv.find(id);
    if (anonymous) this.copies.note(id);
    return anonymous;
  }
  async findByUid(uid: string) { return (await this.sql.findByUid(uid)) ?? this.kv.findByUid(uid); }
  async findByUserCode(userCode: string) { return (await this.sql.findByUserCode(userCode)) ?? this.kv.findByUserCode(userCode); }
  /** A session lives in one of the two stores: consumed there, it is consumed. */
  async consume(id: string) {
    const tries = await Promise.allSettled([this.sql.consume(id), this.kv.consume(id)]);
    if (tries.every((t) => t.status === 'rejected')) throw (tries[0] as PromiseRejectedResult).reason;
  }
  async destroy(id: string) { await Promise.all([this.sql.destroy(id), this.kv.destroy(id)]); }
  async revokeByGrantId(grantId: string) { await Promise.all([this.sql.revokeByGrantId(grantId), this.kv.revokeByGrantId(grantId)]); }
}

/** `onEndedSave`: called in the request whose save of a Session found it ended (SqlAdapter). */
export function adapterFactory(db: Db, redis: Redis, now: Clock, onEndedSave?: () => void) {
  const plain = (model: string): Adapter => {
    if (model === 'Session') return new SessionAdapter(new SqlAdapter(db, model, now, onEndedSave), new RedisAdapter(redis, model, now));
    return DURABLE_MODELS.has(model) ? new SqlAdapter(db, model, now) : new RedisAdapter(redis, model, now);
  };
  const revokeGrant = (grantId: string) => Promise.all([
    ...GRANT_TOKEN_MODELS.map((m) => plain(m).revokeByGrantId?.(grantId)),
    plain('Grant').destroy(grantId),
  ]);
  return (model: string): Adapter => {
    const adapter = plain(model);
    return GRANT_SOURCE_MODELS.has(model) ? revokingOnReuse(adapter, revokeGrant) : adapter;
  };
}

/** What a grant's revocation removes (oidc-provider's helpers/revoke.js: these, then the Grant itself). */
const GRANT_TOKEN_MODELS = ['AccessToken', 'RefreshToken', 'AuthorizationCode', 'DeviceCode', 'BackchannelAuthenticationRequest'];
/** Artefacts redeemed once, whose second use tells of a theft (RFC 6749 4.1.2, RFC 9700 4.14.2). */
const GRANT_SOURCE_MODELS = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

/**
 * A code (or rotating refresh token, CIBA request) used twice: oidc-provider revokes the grant and
 * every token of it when its read shows the artefact consumed already, but two uses at once both
 * read it unconsumed, and the second learns of the first only from consume() (AlreadyUsed). Red-team:
 * then nothing was revoked, so an attacker's exchange racing the app's (or the app's racing a
 * thief's) kept its tokens, 8 of 8 pairs. Now the loser revokes the grant before it answers,
 * as a later reuse does: the winner's tokens, saved before or after, point at a grant that is gone,
 * and userinfo, introspection and the refresh grant refuse them (they all read the grant).
 */
function revokingOnReuse(adapter: Adapter, revokeGrant: (grantId: string) => Promise<unknown>): Adapter {
  return Object.assign(Object.create(adapter) as Adapter, {
    async consume(id: string) {
      try {
        await adapter.consume(id);
      } catch (err) {
        if (err instanceof AlreadyUsed) {
          const used = await adapter.find(id);
          if (typeof used?.grantId === 'string') await revokeGrant(used.grantId);
        }
        throw err;
      }
    },
  });
}
