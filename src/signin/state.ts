import { CHALLENGE_KEY_PREFIX, challengeFromFields } from '../challenge/redis-store.js';
import type { Challenge, LinkedWrite } from '../challenge/types.js';
import type { Redis } from '../storage/redis.js';
import type { FirstFactorMethod } from './amr.js';
import { besideValue, GET_BESIDE_LUA, redisScripts } from '../defences/redis-script.js';
import type { LinkedScript } from '../defences/throttle-store.js';

/**
 * Where a sign-in stands, kept in Redis under its sign-in id for as long as the front door's own
 * transaction lives (the OIDC pages pass their interaction uid as an opaque id, with its remaining
 * life; an agent or RADIUS door would pass its own). The first factor is a separate step from the
 * second, and either may come from elsewhere later (a trusted upstream assertion).
 */
export interface SignInState {
  accountId: string;
  /**
   * `acr`: for a first factor from upstream (upstream.ts), the acr the front door will answer with
   * (chosen from the request before any push is sent); unset, the app's policy decides.
   */
  firstFactor: { method: FirstFactorMethod; at: number; acr?: string; link?: PendingLink };
  /** The push challenge this sign-in waits for, if any. */
  challengeId: string | null;
}

/**
 * An upstream identity a link claim named (upstream.ts autoLink) and the username it named: written
 * as a link only when the sign-in finishes with the account's second factor (finish.ts), so a
 * sign-in the account's phone never approved links nothing.
 */
export interface PendingLink { issuer: string; subject: string; username: string }

/** A sign-in's state and its push as they stood at one moment (null: no push, or its record is gone). */
export interface StateWithPush {
  state: SignInState;
  challenge: Challenge | null;
  /** The state was deleted with this read (getWithPush's takeIfApproved): the sign-in is this caller's to finish or refuse. */
  taken?: true;
}

export interface SignInStateStore {
  get(signInId: string): Promise<SignInState | null>;
  /**
   * The state and the challenge it points at, in one round trip: the waiting page, its long-poll
   * and the page that finishes the sign-in each need both (they were two reads each).
   */
  /*
   * `takeIfApproved`: the page that finishes the sign-in when its push is approved. Then, if the
   * push is this sign-in's (its record names the sign-in and the same account) and approved, the
   * state is deleted by the same script, and `taken` says so: of parallel finishing requests one
   * gets the state, the others none (it was a read, then a DEL after the device re-check).
   */
  getWithPush(signInId: string, now: number, opts?: { takeIfApproved?: boolean }): Promise<StateWithPush | null>;
  /**
   * getWithPush (no take) and, in the same script, the string at `besideKey`: a front door's own
   * record of the same sign-in that its page reads anyway (the OIDC pages: the interaction), one
   * round trip for both. `beside`: its value, null when there is none, undefined when it is not a
   * string (the caller reads it its own way).
   */
  readBeside(signInId: string, now: number, besideKey: string): Promise<{ found: StateWithPush | null; beside: string | null | undefined }>;
  /**
   * Writes the state. This sign-in's limit counters (SIGNIN_COUNTERS) are kept, whatever account
   * the state now names (posting a password again, any account's, does not buy fresh tries).
   */
  put(signInId: string, state: SignInState, ttlSeconds: number): Promise<void>;
  /**
   * A first factor done: writes the state in one step and returns it. The same account keeps this
   * sign-in's counters and its pending push (posting the password again on the same page must
   * not buy fresh tries nor forget the push); another account starts with no push (the one it
   * drops is returned, to be withdrawn) and keeps the page's counters (red-team: switching to another
   * account and back gave fresh push limits and left the first account's push approvable).
   * `linked`: another store's write made by the same script (the password's throttle release).
   */
  begin(signInId: string, first: Omit<SignInState, 'challengeId'>, ttlSeconds: number, linked?: LinkedScript): Promise<Begun>;
  /**
   * Ends the sign-in; its page's counters stay until the key expires (red-team: a sign-in ended by a
   * bad passcode, then the password posted again on its page, had fresh push limits). True when this
   * call removed it (false: already gone, e.g. another request finished the sign-in).
   */
  delete(signInId: string): Promise<boolean>;
}

/*
 * One hash per sign-in: s = the state (JSON), acct = its account, and the limit counters, which
 * scripts count in place (defences/throttle-store.ts, defences/push-fatigue-store.ts): a counter
 * inside the JSON was read, incremented and written back by each request, so parallel requests
 * all read the same count (an outside audit had 261 of 300 parallel wrong passcodes checked;
 * test/signin/passcode-guessing.race.test.ts guards it).
 * The braces are a hash tag (one Redis Cluster slot per sign-in); the name is new because the
 * layout is: a key of the old layout (a string) would answer WRONGTYPE.
 */
/** What begin() wrote, and the push of another account it dropped (still to be withdrawn). */
export type Begun = SignInState & { dropped?: { challengeId: string; accountId: string } };

export const signInKey = (signInId: string): string => `signin:{${signInId}}`;
export const SIGNIN_OWNER_FIELD = 'acct';
export const SIGNIN_COUNTERS = {
  /** Passcodes typed wrong in this sign-in. */
  passcodeFailures: 'otp',
  /** Pushes sent for this sign-in, and when the last one was (for "send again" limits). */
  pushes: 'pushes',
  lastPushAt: 'push_at',
} as const;

// The page's counters stay, whoever the state names.
const PUT_LUA = `
redis.call('HSET', KEYS[1], 's', ARGV[1], '${SIGNIN_OWNER_FIELD}', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
`;

/*
 * put() with the pending push kept for the same account, in one round trip (it was a read, then a
 * write). ARGV[1] is the state's JSON without challengeId; the kept id (base64url, so it needs no
 * escaping) is appended as its last member, as put() writes it, so nothing is decoded (no cjson:
 * the stand-in has none). The match is anchored at the end: a string inside the state cannot pose
 * as the member, JSON escapes its quotes. Returns the id kept, the id of another account's push it
 * dropped, and that account ('' for none).
 */
const BEGIN_BODY = `
local owner = redis.call('HGET', KEYS[1], '${SIGNIN_OWNER_FIELD}')
local old = redis.call('HGET', KEYS[1], 's')
local id = false
if old then id = string.match(old, ',"challengeId":"([A-Za-z0-9_-]+)"}$') or false end
local keep, dropped = false, ''
if owner == ARGV[2] then keep = id elseif id then dropped = id end
local kept = 'null'
if keep then kept = '"' .. keep .. '"' end
redis.call('HSET', KEYS[1], 's', string.sub(ARGV[1], 1, -2) .. ',"challengeId":' .. kept .. '}', '${SIGNIN_OWNER_FIELD}', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
`;
const BEGIN_LUA = `${BEGIN_BODY}
return {keep or '', dropped, owner or ''}
`;
/*
 * begin() with another store's write in the same script (LinkedScript: the password's throttle
 * release, first-factor.ts): its keys follow the sign-in's, its arguments follow begin's three.
 */
const beginLinkedLua = (linked: LinkedScript) => `${linked.lua}
${BEGIN_BODY}
local lk, la = {}, {}
for i = 2, #KEYS do lk[i - 1] = KEYS[i] end
for i = 4, #ARGV do la[i - 3] = ARGV[i] end
${linked.fn}(lk, la)
return {keep or '', dropped, owner or ''}
`;
/**
 * Pure: the write that points a sign-in at its new push, for the challenge store to make in the
 * same script as the challenge (challenge/types.ts LinkedWrite): what put() would write, but only
 * while the sign-in is still the account's (one that ended or changed account meanwhile is not
 * brought back). Saves put()'s round trip on every push.
 */
export function challengeLink(signInId: string, state: SignInState, ttlSeconds: number): LinkedWrite {
  const { accountId, firstFactor, challengeId } = state;
  return {
    key: signInKey(signInId), ownerField: SIGNIN_OWNER_FIELD, owner: accountId,
    field: 's', value: JSON.stringify({ accountId, firstFactor, challengeId }), ttlSeconds,
  };
}

/*
 * The state, then the challenge its JSON names (the same anchored match as BEGIN_LUA), read by one
 * script. KEYS[2] is the challenge records' key prefix given as a key, so that the client's own key
 * prefix is added to it as to any key (and the stand-in, which prefixes keys inside Lua itself, is
 * given it bare); on a Redis Cluster the client's prefix is a hash tag, so the challenge lies in the
 * same slot. HGET, not HMGET (redis-script.ts); '' stands for a missing field (a Lua table stops at
 * its first nil). ARGV[1]: the sign-in's id to take the state if its push is approved (the same
 * test as wait.ts belongs: the record names this sign-in, and the account is the state's), '' not to.
 * KEYS[3], when given: a string key of the front door's read in the same round trip (readBeside),
 * answered last, as redis-script.ts getBeside answers it.
 */
const GET_WITH_PUSH_LUA = `${GET_BESIDE_LUA}
local beside = ''
if KEYS[3] then beside = getBeside(KEYS[3]) end
local s = redis.call('HGET', KEYS[1], 's')
if not s then return {'', '', '', '', '', beside} end
local id = string.match(s, ',"challengeId":"([A-Za-z0-9_-]+)"}$')
if not id then return {s, '', '', '', '', beside} end
local key = KEYS[2] .. id
local c, status = redis.call('HGET', key, 'c') or '', redis.call('HGET', key, 'status') or ''
local taken = ''
if ARGV[1] ~= '' and status == 'approved' and string.find(c, '"signInId":"' .. ARGV[1] .. '"', 1, true)
  and redis.call('HGET', key, 'acct') == redis.call('HGET', KEYS[1], '${SIGNIN_OWNER_FIELD}') then
  redis.call('HDEL', KEYS[1], 's', '${SIGNIN_OWNER_FIELD}')
  taken = '1'
end
return {s, c, status, redis.call('HGET', key, 'res') or '', taken, beside}
`;

/** Pure: GET_WITH_PUSH_LUA's reply as the state and its push. */
function stateWithPushOf([s, c, status, res, taken]: string[], now: number): StateWithPush | null {
  if (!s) return null;
  const state = JSON.parse(s) as SignInState;
  const challenge = c ? challengeFromFields(c, status || null, res || null, now) : null;
  return taken ? { state, challenge, taken: true } : { state, challenge };
}

export function createSignInStateStore(redis: Redis): SignInStateStore {
  const script = redisScripts(redis);
  return {
    async get(signInId) {
      const raw = await redis.hget(signInKey(signInId), 's');
      return raw ? (JSON.parse(raw) as SignInState) : null;
    },
    async getWithPush(signInId, now, opts) {
      const reply = (await script('SignInGetWithPush', GET_WITH_PUSH_LUA, 2)(signInKey(signInId), CHALLENGE_KEY_PREFIX,
        opts?.takeIfApproved ? signInId : '')) as string[];
      return stateWithPushOf(reply, now);
    },
    async readBeside(signInId, now, besideKey) {
      const reply = (await script('SignInGetWithPush', GET_WITH_PUSH_LUA, 3)(signInKey(signInId), CHALLENGE_KEY_PREFIX, besideKey, '')) as string[];
      return { found: stateWithPushOf(reply, now), beside: besideValue(reply[5]) };
    },
    async put(signInId, state, ttlSeconds) {
      const { accountId, firstFactor, challengeId } = state;
      await script('SignInPut', PUT_LUA, 1)(signInKey(signInId), JSON.stringify({ accountId, firstFactor, challengeId }), accountId, Math.max(1, Math.ceil(ttlSeconds)));
    },
    async begin(signInId, first, ttlSeconds, linked) {
      const { accountId, firstFactor } = first;
      const args = [JSON.stringify({ accountId, firstFactor }), accountId, Math.max(1, Math.ceil(ttlSeconds))];
      const [kept, dropped, droppedAccount] = (linked
        ? await script(`SignInBegin+${linked.name}`, beginLinkedLua(linked), 1 + linked.keys.length)(signInKey(signInId), ...linked.keys, ...args, ...linked.args)
        : await script('SignInBegin', BEGIN_LUA, 1)(signInKey(signInId), ...args)) as string[];
      return { accountId, firstFactor, challengeId: kept || null, ...(dropped && droppedAccount ? { dropped: { challengeId: dropped, accountId: droppedAccount } } : {}) };
    },
    async delete(signInId) {
      return (await redis.hdel(signInKey(signInId), 's', SIGNIN_OWNER_FIELD)) > 0;
    },
  };
}
