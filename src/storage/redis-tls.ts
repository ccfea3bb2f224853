import { isIP } from 'node:net';
import tls, { type ConnectionOptions } from 'node:tls';
import { ConfigError } from '../config/settings.js';
import { pemCertificates, pemPrivateKey, trustStore } from '../net/tls-files.js';
import { parseRedisUrl } from './redis-url.js';

/** The settings that shape Redis's TLS (src/config/settings.ts). */
export interface RedisTlsSettings {
  redisUrl: string | null;
  redisCa: string | null;
  redisClientCert: string | null;
  redisClientKey: string | null;
}

/** Pure: whether a REDIS_URL speaks TLS (`rediss://`, `rediss-sentinel://`, `rediss-cluster://`). */
export function redisUrlUsesTls(url: string): boolean {
  const target = parseRedisUrl(url);
  return target.kind === 'single' ? url.startsWith('rediss://') : target.tls;
}

/**
 * The TLS options of every Redis connection (ioredis `tls`, and `sentinelTLS`): REDIS_CA's
 * certificates trusted besides Node's roots, REDIS_CLIENT_CERT and REDIS_CLIENT_KEY shown to a server
 * that asks. Undefined when none is set. Read once at start; anything wrong stops it, naming the
 * setting: set beside a clear-text REDIS_URL (it would protect nothing), a certificate without its key,
 * a file that cannot be read or parsed, a key that is not the certificate's.
 */
export function redisTlsOptions(s: RedisTlsSettings): ConnectionOptions | undefined {
  const given = ([['REDIS_CA', s.redisCa], ['REDIS_CLIENT_CERT', s.redisClientCert], ['REDIS_CLIENT_KEY', s.redisClientKey]] as const)
    .filter(([, file]) => file !== null);
  if (given.length === 0) return undefined;
  if (!s.redisUrl || !redisUrlUsesTls(s.redisUrl)) {
    throw new ConfigError('environment', given[0]![0], 'is for a TLS REDIS_URL (rediss://, rediss-sentinel:// or rediss-cluster://)');
  }
  if ((s.redisClientCert === null) !== (s.redisClientKey === null)) {
    throw new ConfigError('environment', s.redisClientCert === null ? 'REDIS_CLIENT_CERT' : 'REDIS_CLIENT_KEY', 'REDIS_CLIENT_CERT and REDIS_CLIENT_KEY are set together');
  }
  const ca = trustStore(s.redisCa, 'REDIS_CA');
  const options: ConnectionOptions = ca ? { ca } : {};
  if (s.redisClientCert !== null && s.redisClientKey !== null) {
    const cert = pemCertificates(s.redisClientCert, 'REDIS_CLIENT_CERT').join('\n');
    const key = pemPrivateKey(s.redisClientKey, 'REDIS_CLIENT_KEY');
    try {
      tls.createSecureContext({ cert, key });
    } catch {
      throw new ConfigError('environment', 'REDIS_CLIENT_KEY', 'is not the private key of REDIS_CLIENT_CERT');
    }
    Object.assign(options, { cert, key });
  }
  return options;
}

/**
 * Why the first node of a `rediss-cluster://` or `rediss-sentinel://` target refuses a TLS handshake
 * (`host:port: self-signed certificate in certificate chain`), or null when it completes one or the
 * target is of another kind. ioredis reports such a refusal on a Cluster or a Sentinel group only as
 * "Connection is closed", so the start asks once and logs the reason (`rediss://` reports it itself).
 */
export function tlsProblem(url: string, options: ConnectionOptions = {}, timeoutMs = 3_000): Promise<string | null> {
  const target = parseRedisUrl(url);
  if (target.kind === 'single' || !target.tls) return Promise.resolve(null);
  const { host, port } = (target.kind === 'cluster' ? target.nodes : target.sentinels)[0]!;
  return new Promise((resolve) => {
    const socket = tls.connect({ ...options, host, port, ...(isIP(host) ? {} : { servername: host }), timeout: timeoutMs });
    const done = (problem: string | null) => { socket.destroy(); resolve(problem); };
    socket.once('secureConnect', () => done(null));
    socket.once('error', (err) => done(`${host}:${port}: ${err.message}`));
    socket.once('timeout', () => done(`${host}:${port}: no TLS handshake within ${timeoutMs} ms`));
  });
}
