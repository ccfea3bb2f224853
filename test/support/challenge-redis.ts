import { createHash } from 'node:crypto';
import { Cluster } from 'ioredis';
import { newChallenge, type NewChallengeInput } from '../../src/challenge/model.js';
import type { Challenge } from '../../src/challenge/types.js';
import { openRedis, type Redis } from '../../src/storage/redis.js';
import { TEST_REDIS_URL, uniquePrefix } from './env.js';

/** The real server (null) or the in-process stand-in, under a fresh key prefix. */
export function openTestRedis(kind: 'real' | 'stand-in', label: string, prefix = uniquePrefix(label)): Redis {
  return openRedis(kind === 'real' ? TEST_REDIS_URL : null, prefix);
}

/**
 * The full names of the keys matching `pattern` (KEYS patterns are not prefixed by ioredis). On a
 * cluster KEYS answers for one node only, so every master is asked.
 */
export async function keysOf(redis: Redis, pattern: string): Promise<string[]> {
  if (redis instanceof Cluster) return (await Promise.all(redis.nodes('master').map((n) => n.keys(pattern)))).flat();
  return redis.keys(pattern);
}

/** Deletes every key under the client's prefix, then closes it. */
export async function dropAndQuit(redis: Redis): Promise<void> {
  const prefix = redis.options.keyPrefix ?? '';
  // DEL arguments are prefixed by ioredis, hence the slice.
  const keys = await keysOf(redis, `${prefix}*`);
  if (keys.length) await redis.del(...keys.map((k) => k.slice(prefix.length)));
  await redis.quit();
}

/** Deterministic bytes (SHA-256 in counter mode): same seed, same challenge. */
export function seededRandom(seed: string): (n: number) => Buffer {
  let counter = 0;
  return (n) => {
    const out: Buffer[] = [];
    let len = 0;
    while (len < n) {
      const block = createHash('sha256').update(`${seed}:${counter++}`).digest();
      out.push(block);
      len += block.length;
    }
    return Buffer.concat(out).subarray(0, n);
  };
}

export function makeChallenge(over: Partial<NewChallengeInput> = {}): Challenge {
  return newChallenge({
    accountId: 'acct-alice',
    signInId: 'int-1',
    clientId: 'demo',
    appName: 'Demo App',
    ip: '203.0.113.7',
    browser: 'Chrome on Linux',
    location: null,
    numberMatching: true,
    ttlMs: 120_000,
    now: Date.now(),
    ...over,
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
