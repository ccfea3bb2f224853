import type { Redis } from '../storage/redis.js';
import { DeviceError } from '../devices/errors.js';
import { redisScripts, type Script } from '../defences/redis-script.js';

/**
 * A fixed-window counter in Redis, shared by every IdP instance. Used to bound how often one
 * device may answer (docs/device-api.md section 4, `rate_limited`).
 */
export interface RateLimit {
  max: number;
  windowMs: number;
}

export const DEFAULT_RESPONSE_RATE_LIMIT: RateLimit = { max: 30, windowMs: 60_000 };

// INCR and PEXPIRE in one script, so a crash between them cannot leave a counter that never expires.
const HIT_LUA = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
`;

/** The script per client: EVALSHA (its text sent only once the server asks, NOSCRIPT), as every other script here. */
const scripts = new WeakMap<Redis, Script>();
function hitScript(redis: Redis): Script {
  let run = scripts.get(redis);
  if (!run) {
    run = redisScripts(redis)('RateLimitHit', HIT_LUA, 1);
    scripts.set(redis, run);
  }
  return run;
}

/** Counts one hit on `key`; throws `rate_limited` (429, Retry-After) once over `max` in the window. */
export async function hit(redis: Redis, key: string, limit: RateLimit, now: number): Promise<void> {
  const window = Math.floor(now / limit.windowMs);
  const count = Number(await hitScript(redis)(`rl:${key}:${window}`, limit.windowMs));
  if (count > limit.max) {
    // The window is the clock's (window * windowMs onwards): its end, not the key's expiry, is when answers are taken again.
    const retryAfter = Math.max(1, Math.ceil(((window + 1) * limit.windowMs - now) / 1000));
    throw new DeviceError('rate_limited', 429, 'too many answers; try again later', { 'Retry-After': String(retryAfter) });
  }
}
