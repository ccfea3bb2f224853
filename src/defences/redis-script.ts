import { createHash } from 'node:crypto';
import type { Redis } from '../storage/redis.js';

export type ScriptReply = (string | number)[] | number | string;
export type Script = (...keysThenArgs: (string | number)[]) => Promise<ScriptReply>;

/**
 * A Lua script as a function, one per script and number of keys: EVALSHA, and EVAL when the server
 * does not know the script yet (NOSCRIPT). Sent as plain commands, not through ioredis's
 * defineCommand: under auto-pipelining, a pipeline of defined scripts that ioredis had to load first
 * could come back with fewer results than callbacks ("results[i] is not iterable"), and the requests
 * waiting on it hung (seen under 200 parallel sign-ins). ioredis adds its keyPrefix to the keys of
 * EVAL/EVALSHA, as it did for defined commands.
 * Scripts for both servers: HGET, not HMGET (the stand-in hands HMGET's missing fields to Lua as a
 * truthy value); no cjson; return tables built by one constructor (the stand-in returns nothing for
 * a table filled in afterwards); arguments as strings, as real Redis hands them to Lua (the stand-in
 * would pass JS numbers on as Lua numbers).
 */
export function redisScripts(redis: Redis) {
  const defined = new Map<string, Script>();
  return (name: string, lua: string, keys: number): Script => {
    const id = `${name}${keys}`;
    let run = defined.get(id);
    if (!run) {
      const sha = createHash('sha1').update(lua).digest('hex');
      run = async (...args) => {
        const argv = args.map(String);
        try {
          return (await redis.evalsha(sha, keys, ...argv)) as ScriptReply;
        } catch (err) {
          if (!/NOSCRIPT/.test((err as Error).message ?? '')) throw err;
          return (await redis.eval(lua, keys, ...argv)) as ScriptReply;
        }
      };
      defined.set(id, run);
    }
    return run;
  };
}

/*
 * A string key read beside a script's own work (one round trip for both: the interaction a page or
 * the resume reads with its sign-in state or its claim). Lua: getBeside(key) answers '' for none,
 * '=' and the value, '!' for a key that is not a string (a former layout: the caller reads it its
 * own way). besideValue turns that answer into the value, null, or undefined.
 */
export const GET_BESIDE_LUA = `
local function getBeside(key)
  local v = redis.pcall('GET', key)
  if type(v) == 'string' then return '=' .. v elseif v then return '!' end
  return ''
end
`;

/** Pure: getBeside's answer as the value, null (no such key), or undefined (not a string). */
export function besideValue(reply: string | undefined): string | null | undefined {
  if (!reply) return null;
  return reply.startsWith('=') ? reply.slice(1) : undefined;
}
