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

/**
 * A command not answered in this time fails (and its request answers 503). Red-team (Redis gone
 * for good): while no Sentinel answered, ioredis kept retrying inside its Sentinel connector without
 * ever closing, so `maxRetriesPerRequest` never flushed the queued commands and every request hung;
 * on a Cluster whose nodes were all gone, too. The timer is armed before a command is queued.
 */
export const COMMAND_TIMEOUT_MS = 5_000;

/** What every connection to a Redis server gets, the Cluster's node connections and its listener too. */
const PER_CONNECTION: RedisOptions = { maxRetriesPerRequest: 3, commandTimeout: COMMAND_TIMEOUT_MS };

function connect(url: string, prefix: string, extra: Partial<RedisOptions>): Redis {
  const common: RedisOptions = { keyPrefix: prefix, ...PER_CONNECTION, enableAutoPipelining: true, ...extra };
  const target = parseRedisUrl(url);
  if (target.kind === 'single') return new Single(url, common);
  const { username, password } = target;
  const auth = { ...(username ? { username } : {}), ...(password ? { password } : {}) };
  if (target.kind === 'sentinel') {
    // rediss-sentinel://: TLS to the Sentinels and to the master they name (ioredis's `tls` alone
    // would leave the master's connection in clear).
    const overTls = target.tls ? { sentinelTLS: extra.tls ?? {}, tls: extra.tls ?? {}, enableTLSForSentinelMode: true } : {};
    return new Single({ ...common, ...auth, ...overTls, sentinels: target.sentinels, name: target.name, db: target.db });
  }
  // Every key of one IdP shares one hash slot (its prefix is the hash tag), so each multi-key script,
  // MULTI and pipeline stays atomic on a cluster; see clusterKeyPrefix. rediss-cluster://: TLS to
  // every node, the ones the cluster announces too (and so to openSubscriber's, which copies these options).
  const overTls = target.tls ? { tls: extra.tls ?? {} } : {};
  const cluster = new Cluster(target.nodes, { redisOptions: { ...auth, ...overTls, ...PER_CONNECTION, ...extra }, keyPrefix: clusterKeyPrefix(prefix), enableAutoPipelining: true });
  startupNodes.set(cluster, target.nodes.map((n) => ({ host: n.host, port: n.port })));
  return cluster;
}

/** The nodes a Cluster client was given, for openSubscriber (ioredis keeps its own list private). */
const startupNodes = new WeakMap<Cluster, { host: string; port: number }[]>();


/**
 * The connection a process listens on (SUBSCRIBE), made from its Redis client. On one server or a
 * Sentinel group, a copy of the client (ioredis reconnects and resubscribes). On a Cluster, one
 * plain connection to one node (a PUBLISH on any node reaches the subscribers of every node),
 * moving to the next known node each time a connection fails, with a pause that grows to 2 s.
 * Red-team (a Cluster whose nodes were all gone for good): ioredis's own cluster subscriber, from
 * `duplicate()`, went from dead node to dead node without a pause, using half a core, and left a
 * timer and a listener behind at each turn: 2 MB of memory a second, never given back.
 */
export function openSubscriber(redis: Redis): Single {
  if (!(redis instanceof Cluster)) {
    const sub = redis.duplicate();
    sub.on('error', () => {});
    return sub;
  }
  const known = (): { host: string; port: number }[] => {
    const all = [...redis.nodes('all').map((n) => ({ host: String(n.options.host), port: Number(n.options.port) })), ...(startupNodes.get(redis) ?? [])];
    return all.filter((n, i) => all.findIndex((o) => o.host === n.host && o.port === n.port) === i);
  };
  let turn = 0;
  const first = known()[0] ?? { host: '127.0.0.1', port: 6379 };
  // As the Cluster connects to its nodes (PER_CONNECTION and the credentials), without the key prefix.
  const { keyPrefix: _prefix, ...options } = redis.options.redisOptions ?? {};
  const sub: Single = new Single({
    ...options, host: first.host, port: first.port,
    retryStrategy: (times) => {
      // The connector reads host and port from these options at each connect: the next attempt goes to the next node.
      const nodes = known();
      const next = nodes[++turn % nodes.length];
      if (next) Object.assign(sub.options, { host: next.host, port: next.port });
      return Math.min(50 * 2 ** Math.min(times, 6), 2_000);
    },
  });
  sub.on('error', () => {});
  return sub;
}
