import path from 'node:path';
import { z } from 'zod';
import { parseTrustProxy, type TrustProxy } from '../http/client-ip.js';
import { parsePushServices, type PushServiceRule } from '../push/endpoint-policy.js';

/**
 * Every setting of the IdP, its environment variable and its default, in one place.
 * README.md's Configuration table mirrors this file.
 */
export interface Settings {
  /** PORT: where to listen. Default 3000. */
  port: number;
  /** HOST: the address to bind. Default 0.0.0.0 (all interfaces). */
  host: string;
  /** ISSUER: the public URL of the IdP; discovery, tokens and links use it. Default http://localhost:PORT. */
  issuer: string;
  /** DATABASE_URL: PostgreSQL connection string. Default none: embedded PGlite in DATA_DIR/pg. */
  databaseUrl: string | null;
  /** REDIS_URL: Redis connection string. Default none: the in-process stand-in (one process only), refused at start beside DATABASE_URL. */
  redisUrl: string | null;
  /** REDIS_PREFIX: prefix of every Redis key and channel of this IdP. Default idp: */
  redisPrefix: string;
  /** DATA_DIR: generated secrets and the embedded database. Default ./data. */
  dataDir: string;
  /** CONFIG_DIR: where clients/*.json live. Default ./config. */
  configDir: string;
  /** COOKIE_KEYS: comma-separated secrets for signing cookies, newest first. Default generated into DATA_DIR. */
  cookieKeys: string[] | null;
  /** JWKS_FILE: a JSON Web Key Set of private signing keys to use instead of generated ones (must hold an RS256 key). Default none. */
  jwksFile: string | null;
  /** KEK: key-encryption key(s) for secrets at rest, `id:base64(32 bytes)` comma-separated, active first. Default generated into DATA_DIR. */
  kek: { id: string; key: Buffer }[] | null;
  /**
   * TRUST_PROXY: whose X-Forwarded-For to believe for the client's IP. `false` (default): nobody's,
   * the socket peer is the client; a number N (`true` = 1): N reverse proxies in front, the client is
   * the address the nearest one saw; or comma-separated proxy addresses/CIDRs. X-Forwarded-Proto and
   * -Host are never read: every URL comes from ISSUER.
   */
  trustProxy: TrustProxy;
  /**
   * PUSH_SERVICES: push services allowed beyond the browser vendors' (FCM, Mozilla, Apple, Windows),
   * comma-separated `host[:port]`, `*.` for any name one label deeper. The operator's decision: an
   * entry may be a private name or address (a push proxy), whose addresses are not judged. Default none.
   */
  pushServices: PushServiceRule[];
  /** PUSH_CA: a PEM file of CA certificates trusted for push services, besides Node's bundled ones. Default none. */
  pushCa: string | null;
  /** VAPID_SUBJECT: contact for push services (mailto: or https:). Default mailto:admin@localhost. */
  vapidSubject: string;
  /** PUSH_CHALLENGE_TTL: seconds a push challenge lives. Default 120. */
  pushChallengeTtl: number;
  /**
   * Push-fatigue defence. PUSH_LIMIT (default 5) unapproved pushes per PUSH_LIMIT_WINDOW seconds
   * (default 300) stop pushes; PUSH_FORCE_MATCH_AFTER (default 2) unapproved ones force number
   * matching; a report mutes pushes for PUSH_MUTE_AFTER_REPORT seconds (default 1200).
   */
  pushFatigue: { windowMs: number; limit: number; forceMatchAfter: number; muteMs: number };
  /** GEOIP_DB: path of a MaxMind GeoLite2/GeoIP2 City .mmdb file for request locations. Default none. */
  geoipDb: string | null;
  /** DEVICE_UNLOCK: what the authenticator app asks before answering: none, pin or webauthn. Default none. */
  deviceUnlock: 'none' | 'pin' | 'webauthn';
  /** POLL_INTERVAL: seconds between an app's checks for requests in poll mode. Default 5. */
  pollIntervalSeconds: number;
  /**
   * Sign-in sessions (the IdP's SSO session and the self-service page's), NIST SP 800-63B 7.2 at
   * AAL2: SESSION_MAX_AGE seconds after the sign-in (default 43200, 12 h) and SESSION_IDLE_TIMEOUT
   * seconds without use (default 1800, 30 min) each end a session.
   */
  session: { maxAgeSeconds: number; idleSeconds: number };
  /** MAX_DEVICES_PER_ACCOUNT: active authenticators one account may have; more are refused at enrollment. Default 5. */
  maxDevicesPerAccount: number;
  /** DEMO: seed the demo user and the demo relying app at /demo. Default true when DATABASE_URL is unset. */
  demo: boolean;
  /** LOG_LEVEL: pino level. Default info. */
  logLevel: string;
  /** The environment these settings came from; client files name their secrets' variables in it. */
  env: NodeJS.ProcessEnv;
}

export class ConfigError extends Error {
  readonly code = 'config_invalid';
  constructor(public readonly source: string, public readonly field: string, message: string) {
    super(`${source}: ${field}: ${message}`);
  }
}

const bool = (v: string | undefined, dflt: boolean): boolean =>
  v === undefined || v === '' ? dflt : /^(1|true|yes|on)$/i.test(v);

function parseKek(raw: string): { id: string; key: Buffer }[] {
  return raw.split(',').map((part) => {
    const [id, b64] = part.trim().split(':');
    const key = Buffer.from(b64 ?? '', 'base64');
    if (!id || !/^[A-Za-z0-9_-]{1,32}$/.test(id) || key.length !== 32) {
      throw new ConfigError('environment', 'KEK', 'expected id:base64 with a 32-byte key, e.g. k1:' + 'A'.repeat(43) + '=');
    }
    return { id, key };
  });
}

const urlField = (name: string) =>
  z.string().refine((v) => { try { new URL(v); return true; } catch { return false; } }, `${name} must be a URL`);

/** Reads the settings from an environment (process.env by default). Throws ConfigError naming the variable. */
export function loadSettings(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Settings {
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError('environment', 'PORT', 'must be a port number');
  const issuer = (env.ISSUER ?? `http://localhost:${port}`).replace(/\/$/, '');
  const parsedIssuer = urlField('ISSUER').safeParse(issuer);
  if (!parsedIssuer.success) throw new ConfigError('environment', 'ISSUER', 'must be an absolute URL');
  const ttl = Number(env.PUSH_CHALLENGE_TTL ?? 120);
  if (!Number.isInteger(ttl) || ttl < 15 || ttl > 600) throw new ConfigError('environment', 'PUSH_CHALLENGE_TTL', 'must be 15..600 seconds');
  const vapidSubject = env.VAPID_SUBJECT ?? 'mailto:admin@localhost';
  if (!/^(mailto:|https:)/.test(vapidSubject)) throw new ConfigError('environment', 'VAPID_SUBJECT', 'must start with mailto: or https:');
  const databaseUrl = env.DATABASE_URL || null;
  const int = (name: string, dflt: number, min: number, max: number) => {
    const v = Number(env[name] ?? dflt);
    if (!Number.isInteger(v) || v < min || v > max) throw new ConfigError('environment', name, `must be a whole number ${min}..${max}`);
    return v;
  };
  const pushFatigue = {
    limit: int('PUSH_LIMIT', 5, 1, 100),
    windowMs: int('PUSH_LIMIT_WINDOW', 300, 30, 86_400) * 1000,
    forceMatchAfter: int('PUSH_FORCE_MATCH_AFTER', 2, 0, 100),
    muteMs: int('PUSH_MUTE_AFTER_REPORT', 1200, 0, 7 * 86_400) * 1000,
  };
  const deviceUnlock = env.DEVICE_UNLOCK ?? 'none';
  if (deviceUnlock !== 'none' && deviceUnlock !== 'pin' && deviceUnlock !== 'webauthn') throw new ConfigError('environment', 'DEVICE_UNLOCK', 'must be none, pin or webauthn');
  let trustProxy: TrustProxy;
  try {
    trustProxy = parseTrustProxy(env.TRUST_PROXY);
  } catch (err) {
    throw new ConfigError('environment', 'TRUST_PROXY', (err as Error).message);
  }
  let pushServices: PushServiceRule[];
  try {
    pushServices = parsePushServices(env.PUSH_SERVICES ?? '');
  } catch (err) {
    throw new ConfigError('environment', 'PUSH_SERVICES', `${(err as Error).message}; expected comma-separated host[:port] entries, e.g. push.example.com,*.push.example.net:8443`);
  }
  const session = { maxAgeSeconds: int('SESSION_MAX_AGE', 43_200, 1, 30 * 86_400), idleSeconds: int('SESSION_IDLE_TIMEOUT', 1800, 1, 30 * 86_400) };
  const pollIntervalSeconds = Number(env.POLL_INTERVAL ?? 5);
  if (!Number.isInteger(pollIntervalSeconds) || pollIntervalSeconds < 2 || pollIntervalSeconds > 300) throw new ConfigError('environment', 'POLL_INTERVAL', 'must be 2..300 seconds');
  return {
    port,
    host: env.HOST ?? '0.0.0.0',
    issuer,
    databaseUrl,
    redisUrl: env.REDIS_URL || null,
    redisPrefix: env.REDIS_PREFIX ?? 'idp:',
    dataDir: path.resolve(cwd, env.DATA_DIR ?? 'data'),
    configDir: path.resolve(cwd, env.CONFIG_DIR ?? 'config'),
    cookieKeys: env.COOKIE_KEYS ? env.COOKIE_KEYS.split(',').map((s) => s.trim()).filter(Boolean) : null,
    kek: env.KEK ? parseKek(env.KEK) : null,
    jwksFile: env.JWKS_FILE ? path.resolve(cwd, env.JWKS_FILE) : null,
    trustProxy,
    pushServices,
    pushCa: env.PUSH_CA ? path.resolve(cwd, env.PUSH_CA) : null,
    vapidSubject,
    pushChallengeTtl: ttl,
    pushFatigue,
    geoipDb: env.GEOIP_DB || null,
    deviceUnlock,
    pollIntervalSeconds,
    session,
    maxDevicesPerAccount: int('MAX_DEVICES_PER_ACCOUNT', 5, 1, 100),
    demo: bool(env.DEMO, databaseUrl === null),
    logLevel: env.LOG_LEVEL ?? 'info',
    env,
  };
}
