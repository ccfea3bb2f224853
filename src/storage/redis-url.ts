/**
 * Where Redis is, from REDIS_URL:
 * - `redis://[user:pass@]host:port[/db]` or `rediss://…`: one server;
 * - `redis-sentinel://[user:pass@]host:port,host:port/<master name>[?db=N]`: the master a group of Sentinels names;
 * - `redis-cluster://[user:pass@]host:port,host:port`: a Redis Cluster (any reachable nodes; the rest are discovered);
 * - `rediss-sentinel://…` and `rediss-cluster://…`: the same over TLS, to every Sentinel and every node.
 * Certificates are checked against Node's trust store (plus `NODE_EXTRA_CA_CERTS`), host names and IPs alike.
 */
export type RedisTarget =
  | { kind: 'single'; url: string }
  | { kind: 'sentinel'; sentinels: { host: string; port: number }[]; name: string; db: number; tls: boolean; username?: string; password?: string }
  | { kind: 'cluster'; nodes: { host: string; port: number }[]; tls: boolean; username?: string; password?: string };

export class RedisUrlError extends Error {}

/** Parses REDIS_URL into a target. Pure; throws RedisUrlError with what is wrong. */
export function parseRedisUrl(url: string): RedisTarget {
  // The credentials run to the last `@` (red-team: a password with a `/`, as base64 secrets have, was
  // read as the host list and quoted in the start's error line); the hosts, name and query have none.
  const m = /^(rediss?-sentinel|rediss?-cluster):\/\/(?:(.*)@)?([^/?#@]+)(?:\/([^?#@]*))?(?:\?([^#@]*))?$/.exec(url);
  if (!m) {
    if (/^rediss?:\/\//.test(url)) return { kind: 'single', url };
    throw new RedisUrlError('must start with redis://, rediss://, redis-sentinel://, redis-cluster:// (or rediss-sentinel://, rediss-cluster:// for TLS)');
  }
  const [, scheme, auth, hostList, path = '', query = ''] = m;
  const tls = scheme!.startsWith('rediss');
  const list = hostList!.split(',');
  const hosts = list.map((hp, i) => {
    const hm = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(hp);
    // Not quoted: with the `@` forgotten, the "host" is the user name and password (red-team).
    const which = list.length === 1 ? 'the host' : `host ${i + 1} of ${list.length}`;
    if (!hm || Number(hm[2]) < 1 || Number(hm[2]) > 65535) throw new RedisUrlError(`${which} is not host:port (percent-encode what the user name or password holds of : / @ ? #)`);
    return { host: hm[1]!.replace(/^\[|\]$/g, ''), port: Number(hm[2]) };
  });
  const creds: { username?: string; password?: string } = {};
  if (auth) {
    // user:password, split at the first `:` (a password may hold more); never quoted in an error.
    const colon = auth.indexOf(':');
    const decode = (part: string) => {
      try { return decodeURIComponent(part); } catch { throw new RedisUrlError('the user name or password is not valid percent-encoding'); }
    };
    const user = decode(colon < 0 ? auth : auth.slice(0, colon));
    if (colon < 0) creds.password = user;
    else { if (user) creds.username = user; creds.password = decode(auth.slice(colon + 1)); }
  }
  if (scheme!.endsWith('-cluster')) {
    if (path) throw new RedisUrlError('a cluster has no database number or name');
    return { kind: 'cluster', nodes: hosts, tls, ...creds };
  }
  const name = decodeURIComponent(path);
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw new RedisUrlError('name the master after the hosts: redis-sentinel://host:port,host:port/mymaster');
  const db = Number(new URLSearchParams(query).get('db') ?? '0');
  if (!Number.isInteger(db) || db < 0 || db > 15) throw new RedisUrlError('db must be 0..15');
  return { kind: 'sentinel', sentinels: hosts, name, db, tls, ...creds };
}
