import { Cluster, Redis as Single, type RedisOptions } from 'ioredis';
import { parseRedisUrl } from './redis-url.js';
import { openStandIn } from './standin.js';

export { parseRedisUrl, RedisUrlError, type RedisTarget } from './redis-url.js';

/** A Redis connection: one server (or a Sentinel-managed master) or a Redis Cluster. */
export type Redis = Single | Cluster;

/**
 * The key prefix on a Redis Cluster: the configured prefix made a hash tag (`idp:` -> `{idp:}`), so that
 * every key of this IdP hashes to one slot. The sign-in's scripts reserve attempts on several keys at
 * once (user, IP, network, the sign-in's own counters) and must see them on one node; Redis runs a
 * script only when all its keys are in one slot. The cluster then gives failover, not sharding: one
 * master (and its replica) holds one IdP's keys. Several IdPs (prefixes) spread over the masters.
 */
export function clusterKeyPrefix(prefix: string): string {
  if (prefix.includes('{') || prefix.includes('}')) return prefix;
  return `{${prefix || 'idp:'}}`;
}

/**
 * A Redis client: the real server (single, Sentinel or Cluster) when a URL is given, otherwise the
 * in-process stand-in (ioredis-mock; one process only, nothing shared between instances of the IdP).
 * `prefix` namespaces every key (tests use a random one per suite).
 */
export function openRedis(url: string | null, prefix = '', onError: (err: Error) => void = () => {}, extra: Partial<RedisOptions> = {}): Redis {
  if (url) {
    const client = connect(url, prefix, extra);
    // With a listener, a failover (Sentinel ~3 s, Cluster ~8 s of CLUSTERDOWN) is retried quietly instead
    // of printed as "Unhandled error event"; the caller decides what is worth a log line.
    client.on('error', onError);
    return client;
  }
  return openStandIn(prefix);
}

function connect(url: string, prefix: string, extra: Partial<RedisOptions>): Redis {
  const common: RedisOptions = { keyPrefix: prefix, maxRetriesPerRequest: 3, enableAutoPipelining: true, ...extra };
  const target = parseRedisUrl(url);
  if (target.kind === 'single') return new Single(url, common);
  const { username, password } = target;
  const auth = { ...(username ? { username } : {}), ...(password ? { password } : {}) };
  if (target.kind === 'sentinel') {
    return new Single({ ...common, ...auth, sentinels: target.sentinels, name: target.name, db: target.db });
  }
  // Every key of one IdP shares one hash slot (its prefix is the hash tag), so each multi-key script,
  // MULTI and pipeline stays atomic on a cluster; see clusterKeyPrefix.
  return new Cluster(target.nodes, { redisOptions: { ...auth, maxRetriesPerRequest: 3, ...extra }, keyPrefix: clusterKeyPrefix(prefix), enableAutoPipelining: true });
}
