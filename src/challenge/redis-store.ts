import { pushFatigueSentKey } from '../defences/push-fatigue-store.js';
import { redisScripts } from '../defences/redis-script.js';
import type { Redis } from '../storage/redis.js';
import { asSeenAt } from './model.js';
import type { Challenge, ChallengeStatus, ChallengeStore, Resolution, ResolveOutcome } from './types.js';

/*
 * Layout (every key under the client's keyPrefix):
 *   ch:<id>          HASH  c = the challenge as created (JSON), status, exp (expiresAt), acct, res (JSON)
 *   chu:<accountId>  ZSET  member = challenge id, score = expiresAt: the account's pending ones
 *   chp              ZSET  member = challenge id, score = expiresAt: every pending one (the
 *                          idp_pending_challenges gauge, read at scrape time by countPending)
 *   chn:<accountId>  HASH  field = a match number, value = expiresAt of the request that shows it:
 *                          two requests of one account pending at once never share their number
 * A hash, not one JSON string: the resolve script must read status and expiry and write the
 * resolution, and the in-process stand-in's Lua (ioredis-mock over fengari) has no cjson.
 * The scripts keep both indexes in the same call (no extra round trip on the sign-in). On a Redis
 * Cluster the prefix is a hash tag (src/storage/redis.ts clusterKeyPrefix), so a script's keys share a slot.
 */

export interface RedisChallengeStoreOptions {
  /** Where resolutions are published. Default: the client's keyPrefix + 'pushotp:resolved'. */
  channel?: string;
  /** How long a record outlives its expiry or its resolution, so late readers see the outcome. */
  keepResolvedMs?: number;
  /** The clock for calls that pass no `now` (the IdP's injected one; default Date.now). */
  now?: () => number;
}

export interface RedisChallengeStore extends ChallengeStore {
  readonly channel: string;
  /** Effective statuses of many challenges in one round trip (null: gone). For the waiters' safety net. */
  peekStatuses(ids: string[], now?: number): Promise<(ChallengeStatus | null)[]>;
}

/**
 * Published on every resolution. The resolve script appends the record as it has just written it
 * (c: the challenge as created, res: the resolution, raw JSON members), read in the same script, so
 * the waiters wake their callers with it rather than read it again (one HMGET per answer). A
 * message without them (from a process of an older release) is only a hint: the waiters read.
 */
interface ResolvedMessage {
  id: string;
  status: ChallengeStatus;
}

const DEFAULT_KEEP_MS = 5 * 60_000;

/** Channels are not prefixed by ioredis; prefixing ours keeps deployments sharing a Redis apart. */
export function resolvedChannel(redis: Redis, channel?: string): string {
  return channel ?? `${redis.options.keyPrefix ?? ''}pushotp:resolved`;
}

/** The challenge records' key prefix: signin/state.ts reads a sign-in's push with its state in one script. */
export const CHALLENGE_KEY_PREFIX = 'ch:';
const challengeKey = (id: string): string => `${CHALLENGE_KEY_PREFIX}${id}`;
const accountKey = (accountId: string): string => `chu:${accountId}`;
const PENDING_KEY = 'chp';
const numbersKey = (accountId: string): string => `chn:${accountId}`;

// HGET rather than HMGET: the stand-in hands HMGET's missing fields to Lua as a truthy JS null.
// The global index drops its lapsed entries here too, so it stays small whether or not anyone scrapes.
// KEYS[4], ARGV[7]: the account's match numbers and this request's ('' without number matching,
// or when the caller did not ask for a distinct one).
// A number another of the account's requests shows until later is refused ('number_taken'), before
// anything is written: the caller draws the numbers again. Red-team: two pushes pending at once drew
// their numbers apart, so a user who opened the other request and tapped the number her own
// browser showed approved it whenever the two matched (1 in 90).
const CREATE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 'exists' end
if ARGV[7] ~= '' then
  local held = redis.call('HGET', KEYS[4], ARGV[7])
  local heldUntil = held and tonumber(held)
  if heldUntil and heldUntil > tonumber(ARGV[6]) then return 'number_taken' end
  redis.call('HSET', KEYS[4], ARGV[7], ARGV[2])
  if redis.call('PTTL', KEYS[4]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[4], ARGV[4]) end
end
redis.call('HSET', KEYS[1], 'c', ARGV[1], 'status', 'pending', 'exp', ARGV[2], 'acct', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[5])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[6])
if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[3], ARGV[4]) end
return 'ok'
`;

// The same, then (KEYS[5], ARGV[8..12]: owner field, owner, field, value, TTL in seconds) the linked
// record's field, only while it is still its owner's.
const CREATE_LINKED_LUA = `${CREATE_LUA.replace(/return 'ok'\s*$/, '')}
if redis.call('HGET', KEYS[5], ARGV[8]) == ARGV[9] then
  redis.call('HSET', KEYS[5], ARGV[10], ARGV[11])
  redis.call('EXPIRE', KEYS[5], ARGV[12])
end
return 'ok'
`;

// Check, write, unindex and publish in one script: no second resolver, and no resolution unannounced.
// ARGV[8], when given, is the account the caller read with the record: another one is not_found.
// KEYS[4]: the account's push-fatigue set (defences/push-fatigue-store.ts): an approved push was the
// user's own sign-in and stops counting there (signin/resolution.ts), in this same step.
// KEYS[5...]: keys the caller's step settled (ResolveAlso.reset), deleted whatever the outcome.
const RESOLVE_LUA = `
for i = 5, #KEYS do redis.call('DEL', KEYS[i]) end
if redis.call('EXISTS', KEYS[1]) == 0 then return 'not_found' end
if ARGV[8] ~= '' and redis.call('HGET', KEYS[1], 'acct') ~= ARGV[8] then return 'not_found' end
if redis.call('HGET', KEYS[1], 'status') ~= 'pending' then return 'already_resolved' end
if tonumber(redis.call('HGET', KEYS[1], 'exp')) <= tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  return 'expired'
end
local c = redis.call('HGET', KEYS[1], 'c')
redis.call('HSET', KEYS[1], 'status', ARGV[3], 'res', ARGV[4])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
if ARGV[3] == 'approved' then redis.call('ZREM', KEYS[4], ARGV[1]) end
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[5]) then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
if c then
  redis.call('PUBLISH', ARGV[6], string.sub(ARGV[7], 1, -2) .. ',"c":' .. c .. ',"res":' .. ARGV[4] .. '}')
else
  redis.call('PUBLISH', ARGV[6], ARGV[7])
end
return 'resolved'
`;

export function createRedisChallengeStore(redis: Redis, opts: RedisChallengeStoreOptions = {}): RedisChallengeStore {
  const channel = resolvedChannel(redis, opts.channel);
  const keepMs = opts.keepResolvedMs ?? DEFAULT_KEEP_MS;
  const clock = opts.now ?? Date.now;
  // EVALSHA with an EVAL fallback (src/defences/redis-script.ts); ioredis adds keyPrefix to the keys.
  const script = redisScripts(redis);
  const createScript = script('pushotpChallengeCreate', CREATE_LUA, 4);
  const createLinkedScript = script('pushotpChallengeCreateLinked', CREATE_LINKED_LUA, 5);

  return {
    channel,

    async create(ch, link, opts) {
      if (ch.status !== 'pending') throw new Error('only a pending challenge can be stored');
      // The TTL follows the challenge's own clock (createdAt), so an injected "now" stays coherent.
      const ttl = ch.expiresAt - ch.createdAt + keepMs;
      const json = JSON.stringify({ ...ch, resolution: null });
      const args = [json, ch.expiresAt, ch.accountId, ttl, ch.id, ch.createdAt, opts?.distinctNumber ? ch.matchNumber ?? '' : ''];
      const keys = [challengeKey(ch.id), accountKey(ch.accountId), PENDING_KEY, numbersKey(ch.accountId)];
      const res = link
        ? await createLinkedScript(...keys, link.key, ...args,
          link.ownerField, link.owner, link.field, link.value, Math.max(1, Math.ceil(link.ttlSeconds)))
        : await createScript(...keys, ...args);
      if (res === 'number_taken') return 'number_taken';
      if (res !== 'ok') throw new Error(`challenge ${ch.id} already exists`);
      return 'created';
    },

    async get(id, now = clock()) {
      const [c, status, res] = await redis.hmget(challengeKey(id), 'c', 'status', 'res');
      return c ? asSeenAt(decode(c, status ?? null, res ?? null), now) : null;
    },

    readBeside(id) {
      return {
        key: challengeKey(id), fields: ['c', 'status', 'res'],
        challenge: ([c, status, res], now) => (c ? asSeenAt(decode(c, status || null, res || null), now) : null),
      };
    },

    async resolve(id, resolution: Resolution, now = clock(), known, also) {
      // The account is needed to name the index key; it never changes once written. A caller that
      // read the record passes it (one round trip fewer per answer), and the script checks it.
      const reset = also?.reset ?? [];
      const accountId = known?.accountId ?? await redis.hget(challengeKey(id), 'acct');
      if (accountId === null) {
        if (reset.length) await redis.del(...reset);
        return 'not_found';
      }
      const message: ResolvedMessage = { id, status: resolution.status };
      const resolveScript = script('pushotpChallengeResolve', RESOLVE_LUA, 4 + reset.length);
      return (await resolveScript(challengeKey(id), accountKey(accountId), PENDING_KEY, pushFatigueSentKey(accountId), ...reset, id, now,
        resolution.status, JSON.stringify(resolution), keepMs, channel, JSON.stringify(message),
        known ? accountId : '')) as ResolveOutcome;
    },

    async listPending(accountId, now = clock()) {
      const key = accountKey(accountId);
      // Prune the lapsed ones while reading: the index would otherwise only shrink on resolve.
      const replies = await redis.multi().zremrangebyscore(key, '-inf', now)
        .zrangebyscore(key, `(${now}`, '+inf').exec();
      const list = (replies?.[1]?.[1] as string[] | undefined) ?? [];
      if (list.length === 0) return [];
      const p = redis.pipeline();
      for (const id of list) p.hmget(challengeKey(id), 'c', 'status', 'res');
      const rows = (await p.exec()) ?? [];
      const found: Challenge[] = [];
      for (const [err, row] of rows) {
        const [c, status, res] = (row ?? []) as (string | null)[];
        if (err || !c) continue;
        const ch = asSeenAt(decode(c, status ?? null, res ?? null), now);
        if (ch.status === 'pending' && ch.accountId === accountId) found.push(ch);
      }
      return found.sort((a, b) => b.createdAt - a.createdAt);
    },

    async countPending(now = clock()) {
      // Lapsed entries go at read time: nothing resolves a challenge that nobody answered.
      const replies = await redis.multi().zremrangebyscore(PENDING_KEY, '-inf', now)
        .zcount(PENDING_KEY, `(${now}`, '+inf').exec();
      const [err, count] = replies?.[1] ?? [null, 0];
      if (err) throw err;
      return Number(count);
    },

    async peekStatuses(ids, now = clock()) {
      if (ids.length === 0) return [];
      const p = redis.pipeline();
      for (const id of ids) p.hmget(challengeKey(id), 'status', 'exp');
      const rows = (await p.exec()) ?? [];
      return rows.map(([err, row]) => {
        if (err) throw err;
        const [status, exp] = row as (string | null)[];
        if (!status) return null;
        return status === 'pending' && now >= Number(exp) ? 'expired' : (status as ChallengeStatus);
      });
    },
  };
}

/**
 * The challenge a resolution message carries (ResolvedMessage), as a read of its record right after
 * the resolution would give it; null when the message names no id. `challenge` is null for a
 * message without the record (an older process): then it must be read.
 */
export function challengeFromMessage(raw: string, now: number): { id: string; challenge: Challenge | null } | null {
  let msg: { id?: unknown; status?: unknown; c?: unknown; res?: unknown };
  try {
    msg = JSON.parse(raw) as typeof msg;
  } catch {
    return null;
  }
  if (typeof msg.id !== 'string') return null;
  const { c, res, status } = msg;
  if (!c || typeof c !== 'object' || !res || typeof res !== 'object' || typeof status !== 'string') return { id: msg.id, challenge: null };
  const ch = fromRecord(c as Challenge & { interactionUid?: string | null }, status, res as Resolution);
  return { id: msg.id, challenge: ch.id === msg.id ? asSeenAt(ch, now) : null };
}

/** A challenge from its hash's fields c, status and res, as read at `now` (for readers of the layout above). */
export function challengeFromFields(c: string, status: string | null, res: string | null, now: number): Challenge {
  return asSeenAt(decode(c, status, res), now);
}

function decode(c: string, status: string | null, res: string | null): Challenge {
  return fromRecord(JSON.parse(c) as Challenge & { interactionUid?: string | null }, status, res ? (JSON.parse(res) as Resolution) : null);
}

function fromRecord(ch: Challenge & { interactionUid?: string | null }, status: string | null, resolution: Resolution | null): Challenge {
  // Written before the field was renamed (a challenge lives minutes): its sign-in still finds it.
  if (ch.signInId === undefined) ch.signInId = ch.interactionUid ?? null;
  delete ch.interactionUid;
  ch.status = (status ?? ch.status) as ChallengeStatus;
  ch.resolution = resolution;
  return ch;
}
