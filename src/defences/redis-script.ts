import type { Redis } from '../storage/redis.js';

export type Script = (...keysThenArgs: (string | number)[]) => Promise<(string | number)[] | number>;

/**
 * A Lua script as a command, one per script and number of keys: ioredis can pass the count with
 * each call, but the stand-in (ioredis-mock 8, Lua on fengari) needs it fixed when the command is
 * defined. Scripts for both: HGET, not HMGET (the stand-in hands HMGET's missing fields to Lua as a
 * truthy value); no cjson; return tables built by one constructor (the stand-in returns nothing for
 * a table filled in afterwards).
 */
export function redisScripts(redis: Redis) {
  const defined = new Map<string, Script>();
  return (name: string, lua: string, keys: number): Script => {
    const id = `pushotp${name}${keys}`;
    if (!defined.has(id)) {
      // defineCommand runs EVALSHA and falls back to EVAL; ioredis adds keyPrefix to the declared keys.
      redis.defineCommand(id, { numberOfKeys: keys, lua });
      const run = (redis as unknown as Record<string, Script>)[id]!.bind(redis);
      // Strings, as real Redis hands them to Lua; the stand-in would pass JS numbers on as Lua numbers.
      defined.set(id, (...args) => run(...args.map(String)));
    }
    return defined.get(id)!;
  };
}
