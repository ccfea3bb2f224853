import type { Redis } from '../storage/redis.js';

export type Script = (...keysThenArgs: (string | number)[]) => Promise<(string | number)[] | number>;

/**
 * One command per script and number of keys: ioredis can pass the count with each call, but the
 * stand-in (ioredis-mock) needs it fixed when the command is defined.
 */
export function redisScripts(redis: Redis) {
  const defined = new Map<string, Script>();
  return (name: string, lua: string, keys: number): Script => {
    const id = `pushotp${name}${keys}`;
    if (!defined.has(id)) {
      // defineCommand runs EVALSHA and falls back to EVAL; ioredis adds keyPrefix to the declared keys.
      redis.defineCommand(id, { numberOfKeys: keys, lua });
      defined.set(id, (redis as unknown as Record<string, Script>)[id]!.bind(redis));
    }
    return defined.get(id)!;
  };
}
