import type { Redis } from '../storage/redis.js';
import { redisScripts } from './redis-script.js';
import { LOCKED_KEEP_MS, throttleDecision, type ThrottleDecision, type ThrottlePolicy, type ThrottleState } from './throttle.js';

/*
 * Failure counters in Redis (shared by every IdP process), one hash per account, IP or sign-in:
 *   f = failures counted in the window, l = when the last one was counted (epoch ms), and under a
 *   policy with a cap c = failures since the last success (a key may hold c alone).
 *
 * Reserve before check: an attempt is counted as a failure *before* the password or passcode is
 * checked, by one script that reads the counters, decides and counts. Reading in one request and
 * counting in another let 200 parallel guesses all read "3 failures so far" and all be checked
 * (OWASP ASVS 4.0 V2.2.1, NIST SP 800-63B 5.2.2 "limit consecutive failed attempts"). A success
 * then releases or resets what it reserved.
 *
 * The Lua mirrors the pure functions of throttle.ts, which stay the specification; a table test runs
 * both over the same rows (test/defences/throttle-gate.test.ts), on Redis and on the stand-in.
 * Keys of one call share one hash slot on Redis Cluster: the deployment's REDIS_PREFIX is their hash
 * tag (storage/redis.ts), so one script may touch an account's, an IP's and a sign-in's counts.
 */

/** Seven numbers per key after ARGV[offset]: the policy (same order as policyArgs). */
const THROTTLE_LUA_FUNCTIONS = `
local function policy(o)
  return { free = tonumber(ARGV[o]), base = tonumber(ARGV[o + 1]), maxDelay = tonumber(ARGV[o + 2]),
           lockAfter = tonumber(ARGV[o + 3]), lockMs = tonumber(ARGV[o + 4]), window = tonumber(ARGV[o + 5]),
           cap = tonumber(ARGV[o + 6]) }
end
-- throttleDecision(): 0 when allowed, else the milliseconds to wait and why.
local function decide(key, p, now)
  local f = tonumber(redis.call('HGET', key, 'f'))
  local c = tonumber(redis.call('HGET', key, 'c'))
  if not f and not c then return 0 end
  local since = now - (tonumber(redis.call('HGET', key, 'l')) or 0)
  if p.cap > 0 and (c or f) >= p.cap and since < ${LOCKED_KEEP_MS} then
    return ${LOCKED_KEEP_MS} - since, 'capped'
  end
  if not f or since > p.window then return 0 end
  if f >= p.lockAfter then
    if since >= p.lockMs then return 0 end
    return p.lockMs - since, 'lockout'
  end
  if f < p.free then return 0 end
  local delay = math.floor(math.min(p.maxDelay, p.base * 2 ^ (f - p.free)))
  if since >= delay then return 0 end
  return delay - since, 'delay'
end
-- throttleAfterFailure(): counts one failure at now; answers the previous "last failure" ('' if none).
local function count(key, p, now, nowText)
  local f = tonumber(redis.call('HGET', key, 'f'))
  local l = redis.call('HGET', key, 'l')
  local c = tonumber(redis.call('HGET', key, 'c')) or f or 0
  if f and l and now - tonumber(l) > p.window and f < p.lockAfter then f = nil end
  local nf = (f or 0) + 1
  redis.call('HSET', key, 'f', nf, 'l', nowText)
  -- Under a cap, the failures since the last success, which no window forgets (throttle.ts).
  if p.cap > 0 then redis.call('HSET', key, 'c', c + 1) end
  -- Never shortened: one key may serve two policies (thr:otp: passcodes under the cap, recovery
  -- codes without), and a wrong recovery code must not cut a capped run's 30 days to half an hour.
  local keep = p.window + p.lockMs
  if nf >= p.lockAfter or p.cap > 0 then keep = ${LOCKED_KEEP_MS} end
  if redis.call('PTTL', key) < keep then redis.call('PEXPIRE', key, keep) end
  return l or ''
end
`;

/*
 * KEYS = the throttle keys, then optionally a rate counter, then optionally the cap's hash, then
 * optionally a hash read beside. ARGV[1] = now, ARGV[2] = number of throttle keys n, ARGV[3] and
 * ARGV[4] = the rate counter's window (ms) and maximum ('' without one), ARGV[5] (below), seven
 * policy numbers per key, then (with a cap) its field, owner and maximum, then the beside fields.
 * The rate counter (a fixed window: INCR, PEXPIRE on the first) counts every attempt, before
 * anything is decided: past its maximum the answer is {0, 0, 'rate'} and nothing else is counted.
 * It is the device API's bound on answers per device (device-api/rate-limit.ts), taken in the
 * same round trip as the reservation it precedes.
 * The cap is a plain count kept in a field of a hash that exists only while its owner does (the
 * sign-in; its field 'acct' names the owner, SIGNIN_OWNER_FIELD in signin/state.ts): 'gone'
 * when it does not, 'cap' when the count is reached.
 * ARGV[5] = how many fields of a hash to read beside (0: none): the hash is the last key, its field
 * names the last arguments, and an allowed reservation answers their values ('' for none) after
 * the keys' previous failures (one round trip for a caller that reads that hash next anyway).
 * Answers {1, capCount, previous l of each key..., beside values...} or {0, retryAfterMs, reason}.
 */
const RESERVE_LUA = `${THROTTLE_LUA_FUNCTIONS}
local now, n, nb = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[5])
local capAt = 6 + 7 * n
local nextKey = n + 1
if ARGV[3] ~= '' then
  local hits = redis.call('INCR', KEYS[nextKey])
  if hits == 1 then redis.call('PEXPIRE', KEYS[nextKey], ARGV[3]) end
  if hits > tonumber(ARGV[4]) then return {0, 0, 'rate'} end
  nextKey = nextKey + 1
end
local besideKey = nil
local lastKey = #KEYS
if nb > 0 then besideKey = KEYS[lastKey]; lastKey = lastKey - 1 end
local capKey = nil
if nextKey <= lastKey then capKey = KEYS[nextKey] end
if capKey then
  if redis.call('HGET', capKey, 'acct') ~= ARGV[capAt + 1] then return {0, 0, 'gone'} end
  if (tonumber(redis.call('HGET', capKey, ARGV[capAt])) or 0) >= tonumber(ARGV[capAt + 2]) then return {0, 0, 'cap'} end
end
local worst, why = 0, nil
for i = 1, n do
  local wait, reason = decide(KEYS[i], policy(6 + 7 * (i - 1)), now)
  if wait > worst then worst, why = wait, reason end
end
if why then return {0, worst, why} end
local capCount = 0
if capKey then capCount = redis.call('HINCRBY', capKey, ARGV[capAt], 1) end
local out = {}
for i = 1, n do out[i] = count(KEYS[i], policy(6 + 7 * (i - 1)), now, ARGV[1]) end
for i = 1, nb do out[n + i] = redis.call('HGET', besideKey, ARGV[#ARGV - nb + i]) or '' end
return {1, capCount, unpack(out)}
`;

/** KEYS = throttle keys; ARGV[1] = now, then seven policy numbers per key. Counts a failure on each. */
const FAIL_LUA = `${THROTTLE_LUA_FUNCTIONS}
for i = 1, #KEYS do count(KEYS[i], policy(2 + 7 * (i - 1)), tonumber(ARGV[1]), ARGV[1]) end
return #KEYS
`;

/*
 * Gives back one reserved failure (the attempt was not a wrong guess). KEYS = the throttle keys to
 * give back on, then those to reset (deleted: a success starts them afresh), in one round trip;
 * ARGV[1] = when it was reserved, ARGV[2] = how many keys give back, then each one's previous
 * "last failure": restored only if nobody counted since. A key whose window count falls to 0
 * keeps its run under a cap (c) and its life: only a success or an unlock ends a run (red-team: a
 * refused answer at the start of each window deleted the key, run and all, so a device key
 * guessed TOTPs past the cap, nine a window, for ever).
 */
const RELEASE_FN = `
local function release(keys, argv)
  local n = tonumber(argv[2])
  for i = 1, n do
    if redis.call('EXISTS', keys[i]) == 1 then
      local c = 0
      if redis.call('HEXISTS', keys[i], 'c') == 1 then c = redis.call('HINCRBY', keys[i], 'c', -1) end
      local f = redis.call('HINCRBY', keys[i], 'f', -1)
      if f <= 0 and c <= 0 then
        redis.call('DEL', keys[i])
      else
        if f <= 0 then redis.call('HDEL', keys[i], 'f') end
        if redis.call('HGET', keys[i], 'l') == argv[1] and argv[i + 2] ~= '' then
          redis.call('HSET', keys[i], 'l', argv[i + 2])
        end
      end
    end
  end
  for i = n + 1, #keys do redis.call('DEL', keys[i]) end
  return #keys
end
`;
const RELEASE_LUA = `${RELEASE_FN}
return release(KEYS, ARGV)
`;

/**
 * A script another store runs inside its own (one round trip for both): a Lua text defining the
 * function `fn` of (keys, argv), and the keys and arguments to call it with.
 */
export interface LinkedScript { name: string; lua: string; fn: string; keys: string[]; args: string[] }

export interface ThrottleKey {
  key: string;
  policy: ThrottlePolicy;
}

/** Fields of a hash read by the reservation's script, beside its counts (the answer's challenge: device-api/respond.ts). */
export interface BesideRead { key: string; fields: string[] }

/** A count of attempts in a field of a hash owned by one sign-in (see signin/state.ts). */
export interface AttemptCap {
  key: string;
  field: string;
  /** The account the hash must still belong to. */
  owner: string;
  max: number;
}

/** A fixed-window count of attempts, kept beside a reservation: `key` is the window's own (its name carries the window). */
export interface RateCounter {
  key: string;
  windowMs: number;
  max: number;
}

export type Reservation =
  | {
    allowed: true;
    /** The cap's count including this attempt (0 without a cap). */
    count: number;
    /** The fields read beside (BesideRead), in its order: '' for a missing one. */
    beside?: string[];
    /** The attempt succeeded: give back what was counted on these keys, and reset (delete) those. */
    release(keys: string[], reset?: string[]): Promise<void>;
    /** The same release, for another store's script to make with its own write (LinkedScript). */
    releaseWith(keys: string[], reset?: string[]): LinkedScript;
  }
  | { allowed: false; reason: 'delay' | 'lockout' | 'capped'; retryAfterMs: number }
  /** The cap is reached, or its hash is gone (the sign-in ended). */
  | { allowed: false; reason: 'cap' }
  | { allowed: false; reason: 'gone' }
  /** The rate counter is past its maximum in this window: nothing was counted on the keys. */
  | { allowed: false; reason: 'rate' };

const policyArgs = (p: ThrottlePolicy) => [p.freeFailures, p.baseDelayMs, p.maxDelayMs, p.lockoutAfter, p.lockoutMs, p.windowMs, p.capAfter ?? 0];

export function createThrottle(redis: Redis, now: () => number) {
  const script = redisScripts(redis);
  const read = async (key: string): Promise<ThrottleState | null> => {
    const [failures, last, consecutive] = await redis.hmget(key, 'f', 'l', 'c');
    if (!failures && !consecutive) return null;
    return { failures: Number(failures ?? 0), lastFailureAt: Number(last), ...(consecutive ? { consecutive: Number(consecutive) } : {}) };
  };
  return {
    /**
     * Reserves one attempt: decides as throttleDecision does on every key (and the cap, if any)
     * and, only if all allow it, counts it as a failure on each, atomically. N parallel attempts
     * thus see 0, 1, ..., N-1 failures before them, never N times the same count.
     */
    async reserve(keys: ThrottleKey[], cap?: AttemptCap, rate?: RateCounter, beside?: BesideRead): Promise<Reservation> {
      const t = now();
      const args: (string | number)[] = [t, keys.length, rate?.windowMs ?? '', rate?.max ?? '', beside?.fields.length ?? 0, ...keys.flatMap((k) => policyArgs(k.policy))];
      if (cap) args.push(cap.field, cap.owner, cap.max);
      if (beside) args.push(...beside.fields);
      const names = [...keys.map((k) => k.key), ...(rate ? [rate.key] : []), ...(cap ? [cap.key] : []), ...(beside ? [beside.key] : [])];
      const out = (await script('ThrottleReserve', RESERVE_LUA, names.length)(...names, ...args)) as (string | number)[];
      if (Number(out[0]) !== 1) {
        const reason = String(out[2]) as 'delay' | 'lockout' | 'capped' | 'cap' | 'gone' | 'rate';
        if (reason === 'cap' || reason === 'gone' || reason === 'rate') return { allowed: false, reason };
        return { allowed: false, reason, retryAfterMs: Number(out[1]) };
      }
      const previous = new Map(keys.map((k, i) => [k.key, String(out[2 + i])]));
      return {
        allowed: true,
        count: Number(out[1]),
        ...(beside ? { beside: beside.fields.map((_, i) => String(out[2 + keys.length + i] ?? '')) } : {}),
        async release(which, reset = []) {
          if (which.length + reset.length === 0) return;
          await script('ThrottleRelease', RELEASE_LUA, which.length + reset.length)(...which, ...reset, t, which.length, ...which.map((k) => previous.get(k) ?? ''));
        },
        releaseWith(which, reset = []) {
          return { name: 'ThrottleRelease', lua: RELEASE_FN, fn: 'release', keys: [...which, ...reset], args: [String(t), String(which.length), ...which.map((k) => previous.get(k) ?? '')] };
        },
      };
    },
    /** Read-only: what reserve would decide now, without counting. To show, never to gate: a gate reserves. */
    async check(keys: ThrottleKey[]): Promise<ThrottleDecision> {
      let worst: ThrottleDecision = { allowed: true };
      for (const { key, policy } of keys) {
        const d = throttleDecision(await read(key), policy, now());
        if (!d.allowed && (worst.allowed || d.retryAfterMs > worst.retryAfterMs)) worst = d;
      }
      return worst;
    },
    /** Counts one failure on each key (e.g. a wrong TOTP in a device's answer), atomically. */
    async fail(keys: ThrottleKey[]): Promise<void> {
      if (keys.length === 0) return;
      await script('ThrottleFail', FAIL_LUA, keys.length)(...keys.map((k) => k.key), now(), ...keys.flatMap((k) => policyArgs(k.policy)));
    },
    async reset(key: string): Promise<void> {
      await redis.del(key);
    },
    /**
     * After a refusal: whether it is the first one since these keys began to refuse, for the keys
     * that refuse now (each marked for the wait it imposes). The audit trail gets one row per
     * throttled username or address and wait, not one per request (red-team: a throttled address
     * posting one login form again and again wrote a row and a log line for each, 150 for 150).
     */
    async firstRefusal(keys: ThrottleKey[], waitMs: number): Promise<boolean> {
      const t = now();
      let first = false;
      for (const { key, policy } of keys) {
        if (throttleDecision(await read(key), policy, t).allowed) continue;
        if ((await redis.set(`${key}:told`, '1', 'PX', Math.max(1000, Math.ceil(waitMs)), 'NX')) === 'OK') first = true;
      }
      return first;
    },
  };
}

export type Throttle = ReturnType<typeof createThrottle>;
