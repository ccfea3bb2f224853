import { createRequire } from 'node:module';
import { Redis } from 'ioredis';

export type { Redis } from 'ioredis';

/**
 * A Redis client: the real server when a URL is given, otherwise the in-process stand-in
 * (ioredis-mock; one process only, nothing shared between instances of the IdP).
 * `prefix` namespaces every key (tests use a random one per suite).
 */
export function openRedis(url: string | null, prefix = ''): Redis {
  if (url) {
    return new Redis(url, { keyPrefix: prefix, maxRetriesPerRequest: 3, enableAutoPipelining: true });
  }
  // Loaded only when used: the stand-in costs a few MiB that a production process never needs.
  const RedisMock = createRequire(import.meta.url)('ioredis-mock') as typeof Redis;
  return new RedisMock({ keyPrefix: prefix });
}
