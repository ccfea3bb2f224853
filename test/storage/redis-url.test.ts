import { describe, expect, it } from '@jest/globals';
import { loadSettings } from '../../src/config/settings.js';
import { clusterKeyPrefix, parseRedisUrl } from '../../src/storage/redis.js';

/** REDIS_URL names one server, a Sentinel group or a Cluster (issue 14, item 1): what each spelling means. */
describe('REDIS_URL', () => {
  it.each([
    ['redis://127.0.0.1:6379/0', { kind: 'single', url: 'redis://127.0.0.1:6379/0' }],
    ['rediss://user:pw@cache.example:6380', { kind: 'single', url: 'rediss://user:pw@cache.example:6380' }],
    ['redis-sentinel://127.0.0.1:26390,127.0.0.1:26391/pushotp', {
      kind: 'sentinel', name: 'pushotp', db: 0, tls: false, sentinels: [{ host: '127.0.0.1', port: 26390 }, { host: '127.0.0.1', port: 26391 }],
    }],
    ['redis-sentinel://s3cr%40t@[::1]:26379/main?db=3', { kind: 'sentinel', name: 'main', db: 3, tls: false, password: 's3cr@t', sentinels: [{ host: '::1', port: 26379 }] }],
    ['redis-cluster://idp:pw@10.0.0.1:7001,10.0.0.2:7002', {
      kind: 'cluster', tls: false, username: 'idp', password: 'pw', nodes: [{ host: '10.0.0.1', port: 7001 }, { host: '10.0.0.2', port: 7002 }],
    }],
    // TLS to every Sentinel and node (managed clusters, ElastiCache's or Azure's, serve TLS only).
    ['rediss-sentinel://:pw@s1.example:26379,s2.example:26379/main', {
      kind: 'sentinel', name: 'main', db: 0, tls: true, password: 'pw', sentinels: [{ host: 's1.example', port: 26379 }, { host: 's2.example', port: 26379 }],
    }],
    ['rediss-cluster://clustercfg.cache.example:6379', { kind: 'cluster', tls: true, nodes: [{ host: 'clustercfg.cache.example', port: 6379 }] }],
    // Red-team (secrets in operations round): a password with a `/` (base64 secrets have them) was read
    // as the host list, and the start's error line quoted it.
    ['redis-sentinel://:Sup3rSECRETpart1/part2@h1:26379,h2:26379/mymaster', {
      kind: 'sentinel', name: 'mymaster', db: 0, tls: false, password: 'Sup3rSECRETpart1/part2', sentinels: [{ host: 'h1', port: 26379 }, { host: 'h2', port: 26379 }],
    }],
    ['redis-cluster://idp:p@ss:w/rd@10.0.0.1:7001', { kind: 'cluster', tls: false, username: 'idp', password: 'p@ss:w/rd', nodes: [{ host: '10.0.0.1', port: 7001 }] }],
  ])('%s', (url, target) => {
    expect(parseRedisUrl(url)).toEqual(target);
  });

  it.each([
    'redis-sentinel://:Sup3rSECRET/x@h1/mymaster',
    'redis-sentinel://:Sup3rSECRET%zz@h1:26379/mymaster',
    'redis-cluster://idp:Sup3rSECRET@10.0.0.1',
    'redis-cluster://idp:Sup3rSECRET:h1:7001', // the `@` forgotten
    'redis-cluster://idp:pw@h1:7001,Sup3rSECRET',
  ])('never quotes the credentials when refusing %s', (url) => {
    expect(() => parseRedisUrl(url)).toThrow();
    let message = '';
    try { loadSettings({ REDIS_URL: url }); } catch (err) { message = (err as Error).message; }
    expect(message).toMatch(/REDIS_URL/);
    expect(message).not.toContain('Sup3rSECRET');
  });

  it.each([
    ['memcached://127.0.0.1:11211', 'must start with'],
    ['redisss-cluster://127.0.0.1:7001', 'must start with'],
    ['rediss-clusters://127.0.0.1:7001', 'must start with'],
    ['rediss-cluster://127.0.0.1:7001/0', 'no database'],
    ['redis-cluster://127.0.0.1', 'is not host:port'],
    ['redis-cluster://127.0.0.1:70000', 'is not host:port'],
    ['redis-cluster://127.0.0.1:7001/0', 'no database'],
    ['redis-sentinel://127.0.0.1:26379', 'name the master'],
    ['redis-sentinel://127.0.0.1:26379/a b', 'name the master'],
    ['redis-sentinel://127.0.0.1:26379/main?db=99', 'db must be'],
  ])('refuses %s at start, saying what is wrong', (url, message) => {
    expect(() => parseRedisUrl(url)).toThrow(message);
    expect(() => loadSettings({ REDIS_URL: url })).toThrow(/REDIS_URL/);
  });

  it('puts every key of one IdP in one cluster hash slot, so multi-key scripts stay atomic', () => {
    expect(clusterKeyPrefix('idp:')).toBe('{idp:}');
    expect(clusterKeyPrefix('')).toBe('{idp:}');
    // An operator's own hash tag is kept as written.
    expect(clusterKeyPrefix('{tenant-a}:')).toBe('{tenant-a}:');
  });
});
