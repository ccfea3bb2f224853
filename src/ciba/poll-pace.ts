import { redisScripts } from '../defences/redis-script.js';
import { storageKey } from '../oidc/adapters.js';
import type { Redis } from '../storage/redis.js';

/*
 * OpenID CIBA 7.3 `interval` and 11 (token error responses, as RFC 8628 3.5): a client polling
 * sooner than the interval gets `slow_down`, and "the interval MUST be increased by 5 seconds for
 * this and all subsequent requests". oidc-provider does not enforce it; this does, per auth_req_id,
 * in one script, so that of N parallel polls exactly one is served and the others slow down.
 * KEYS: the request's pace hash. ARGV: now (ms), the starting interval, the key's life, the step.
 * Answers {1, interval} (served) or {0, interval} (slow down; the new interval).
 */
const POLL_LUA = `
local now = tonumber(ARGV[1])
local last = tonumber(redis.call('HGET', KEYS[1], 'last'))
local interval = tonumber(redis.call('HGET', KEYS[1], 'iv')) or tonumber(ARGV[2])
local served = 1
if last and now - last < interval then
  interval = interval + tonumber(ARGV[4])
  served = 0
end
redis.call('HSET', KEYS[1], 'last', ARGV[1], 'iv', tostring(interval))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {served, interval}
`;

/** RFC 8628 3.5: what each slow_down adds. */
export const SLOW_DOWN_STEP_MS = 5000;

/**
 * The interval is "between polling requests" (CIBA Core 7.3): the first poll of a request is
 * served whenever it comes; each later one must come at least the interval after the one before.
 */
export interface PollPace {
  /** A poll that found the request pending: served, or told to slow down (and the interval it now has). */
  poll(authReqId: string, now: number, lifeMs: number): Promise<{ served: boolean; intervalMs: number }>;
}

/** Keys hold SHA-256 of the auth_req_id, as the request itself is stored (oidc/adapters.ts). */
export function createPollPace(redis: Redis, intervalMs: number): PollPace {
  const script = redisScripts(redis);
  const key = (authReqId: string) => `ciba:pace:${storageKey(authReqId)}`;
  const run = async (authReqId: string, now: number, lifeMs: number) => {
    const out = (await script('CibaPoll', POLL_LUA, 1)(key(authReqId), now, intervalMs, Math.max(1000, Math.ceil(lifeMs)), SLOW_DOWN_STEP_MS)) as (string | number)[];
    return { served: Number(out[0]) === 1, intervalMs: Number(out[1]) };
  };
  return { poll: run };
}
