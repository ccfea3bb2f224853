import { Redis } from 'ioredis';
import RedisMock from 'ioredis-mock';

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
  return new (RedisMock as unknown as typeof Redis)({ keyPrefix: prefix });
}
