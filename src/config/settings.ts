import { isIP } from 'node:net';
import path from 'node:path';
import { parseTrustProxy, type TrustProxy } from '../http/client-ip.js';
import { formatIp, isUnspecifiedAddress, parseIp } from '../net/ip.js';
import { parsePushServices, type PushServiceRule } from '../push/endpoint-policy.js';
import { parseRedisUrl, RedisUrlError } from '../storage/redis-url.js';

/**
 * The IdP's settings: one environment variable each, declared once in SETTINGS below with its
 * default, what it accepts and what it means. loadSettings reads them from there, and README.md's
 * Configuration table is generated from there (`npm run config-table`; test/config/config-table.test.ts
 * fails when the two differ).
 */

export class ConfigError extends Error {
  readonly code = 'config_invalid';
  constructor(public readonly source: string, public readonly field: string, message: string) {
    super(`${source}: ${field}: ${message}`);
  }
}

/** What a reader knows besides the variable's own text. */
export interface ReadContext {
  env: NodeJS.ProcessEnv;
  /** Relative paths are resolved against it. */
  cwd: string;
}

/** One setting. `default`, `accepts` and `meaning` are Markdown, shown as they are in README.md. */
export interface SettingSpec<T> {
  /** The environment variable. */
  readonly env: string;
  /** The value when the variable is unset. */
  readonly default: string;
  /** The values or range it accepts. */
  readonly accepts: string;
  /** What it does, in a line. */
  readonly meaning: string;
  /** Reads the variable's text (undefined when unset); throws InvalidSetting saying what is wrong. */
  readonly read: (raw: string | undefined, ctx: ReadContext) => T;
}

/** A bad value; loadSettings turns it into a ConfigError naming the variable. */
class InvalidSetting extends Error {}

const code = (v: string | number) => `\`${v}\``;
const NONE = '*(none)*';

type Kind<T> = Pick<SettingSpec<T>, 'default' | 'accepts' | 'read'>;

/**
 * A whole number in [min, max], in decimal digits only. Set but empty is unset, the default (as
 * COOKIE_KEYS or DEMO; red-team: an env file's `PUSH_MUTE_AFTER_REPORT=` read as 0 turned muting off,
 * `AUDIT_RETENTION_DAYS=` kept audit rows for ever); `1e3` or `0x0BB8` are no whole numbers here.
 */
function integer(dflt: number, min: number, max: number, message = `must be a whole number ${min}..${max}`): Kind<number> {
  return {
    default: code(dflt),
    accepts: `${min}-${max}`,
    read: (raw) => {
      if (raw === undefined || raw === '') return dflt;
      const v = Number(raw);
      if (!/^\d{1,16}$/.test(raw) || v < min || v > max) throw new InvalidSetting(message);
      return v;
    },
  };
}

/** Any text; set but empty stays empty. */
function text(dflt: string, accepts: string): Kind<string> {
  return { default: code(dflt), accepts, read: (raw) => raw ?? dflt };
}

/** Text or nothing; empty counts as unset. */
function optional(accepts: string, whenUnset = NONE): Kind<string | null> {
  return { default: whenUnset, accepts, read: (raw) => raw || null };
}

/** A file's path, resolved against the working directory, or nothing; empty counts as unset. */
function optionalFile(accepts: string): Kind<string | null> {
  return { default: NONE, accepts, read: (raw, { cwd }) => (raw ? path.resolve(cwd, raw) : null) };
}

/** A folder, resolved against the working directory. */
function folder(dflt: string): Kind<string> {
  return { default: code(`./${dflt}`), accepts: 'a folder (relative to the working directory)', read: (raw, { cwd }) => path.resolve(cwd, raw ?? dflt) };
}

function oneOf<const V extends string>(values: readonly V[], dflt: V): Kind<V> {
  const list = `${values.slice(0, -1).join(', ')} or ${values.at(-1)}`;
  return {
    default: code(dflt),
    accepts: `${values.slice(0, -1).map(code).join(', ')} or ${code(values.at(-1)!)}`,
    read: (raw) => {
      const v = raw ?? dflt;
      if (!(values as readonly string[]).includes(v)) throw new InvalidSetting(`must be ${list}`);
      return v as V;
    },
  };
}

/** KEK: `id:base64(32 bytes)`, comma-separated, the active key first. */
function parseKek(raw: string): { id: string; key: Buffer }[] {
  return checkedKekList(raw.split(',').map((part) => {
    const [id, key] = part.trim().split(':');
    return { id, key };
  }));
}

/**
 * The rules every list of key-encryption keys follows, from KEK or from DATA_DIR/secrets.json:
 * ids of 1-32 characters of [A-Za-z0-9_-], 32-byte keys in base64, each id once (a sealed value
 * names its key by id; red-team: a new key given the old one's id passed here and the start died
 * with a stack trace). Throws an Error saying what is wrong, quoting no key.
 */
export function checkedKekList(entries: readonly { id?: unknown; key?: unknown }[]): { id: string; key: Buffer }[] {
  const keys = entries.map(({ id, key }) => {
    const bytes = Buffer.from(typeof key === 'string' ? key : '', 'base64');
    if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,32}$/.test(id) || bytes.length !== 32) {
      throw new InvalidSetting('expected id:base64 with a 32-byte key, e.g. k1:' + 'A'.repeat(43) + '=');
    }
    return { id, key: bytes };
  });
  if (keys.length === 0) throw new InvalidSetting('names no key');
  const twice = keys.find((k, i) => keys.findIndex((o) => o.id === k.id) !== i);
  if (twice) throw new InvalidSetting(`the key id ${twice.id} is listed twice: give each key its own id (k2, k3, ...)`);
  return keys;
}

const isUrl = (v: string) => { try { new URL(v); return true; } catch { return false; } };

/**
 * The issuer as RPs compare it, character for character (OpenID Connect Discovery 1.0, section 3:
 * "a case-sensitive URL using the https scheme that contains scheme, host, and optionally, port
 * number and path components and no query or fragment components"). Returns it, or throws what
 * is wrong. Checked on the text, not on `new URL()`'s reading: `https://idp/?` parses to an empty
 * query yet an RP would compare the `?`.
 */
function checkedIssuer(issuer: string): string {
  const url = new URL(issuer);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new InvalidSetting(`must be an https:// (or http://) URL, not ${url.protocol}`);
  if (/[?#]/.test(issuer)) throw new InvalidSetting('must have no query (?) or fragment (#): OpenID Connect Discovery forbids them in an issuer');
  // Red-team: `https://admin:pw@idp.example.com` was accepted, and the issuer is published in
  // discovery, in every token's `iss` and in every page's links.
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(issuer)) throw new InvalidSetting('must have no user name or password (user:pass@): the issuer is published in discovery and in every token');
  return issuer;
}

/** Cookie keys shorter than this are refused: see SETTINGS.cookieKeys. */
export const COOKIE_KEY_MIN_LENGTH = 32;

/**
 * COOKIE_KEYS: comma-separated, blanks around each dropped. Red-team: a list of only commas read as
 * no key at all, and the IdP started with every cookie page a 500 while /readyz said 200; and a
 * one-character key was recovered from one signed cookie (Keygrip's HMAC) in under 100 guesses,
 * after which any session cookie can be forged. Each key must be long enough that an offline guess
 * is hopeless, in every environment (the generated key is 43 characters, and a server started
 * without NODE_ENV=production is no less exposed).
 */
function parseCookieKeys(raw: string): string[] {
  return checkedCookieKeys(raw.split(',').map((s) => s.trim()).filter(Boolean));
}

/** The rules every list of cookie keys follows, from COOKIE_KEYS or from DATA_DIR/secrets.json (see parseCookieKeys). */
export function checkedCookieKeys(keys: readonly unknown[]): string[] {
  if (keys.length === 0) throw new InvalidSetting('names no key (only commas or blanks): give at least one secret, or leave it unset to use the generated one');
  const short = keys.findIndex((k) => typeof k !== 'string' || k.length < COOKIE_KEY_MIN_LENGTH);
  if (short >= 0) {
    throw new InvalidSetting(`${keys.length > 1 ? `key ${short + 1} of ${keys.length}` : 'the key'} is shorter than ${COOKIE_KEY_MIN_LENGTH} characters: a signed cookie would let it be guessed offline; use a random secret, e.g. node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`);
  }
  return keys as string[];
}

/**
 * Every setting, in the order README.md lists them. The key is the field loadSettings reads it into
 * (the push-fatigue and session ones are then grouped, see Settings).
 */
export const SETTINGS = {
  port: { env: 'PORT', meaning: 'Port to listen on.', ...integer(3000, 0, 65535, 'must be a port number') },
  host: { env: 'HOST', meaning: 'Address to bind.', ...text('0.0.0.0', 'an IP address or host name') },
  issuer: {
    env: 'ISSUER',
    default: '`http://localhost:$PORT`',
    accepts: 'an absolute `https:` (or `http:`) URL without query, fragment or user name (a trailing `/` is dropped)',
    meaning: 'The public URL of the IdP. Discovery, tokens and links use it; every request\'s `Host` and scheme are pinned to it; with `https:` cookies are `Secure` and HSTS is sent.',
    read: (raw: string | undefined, ctx: ReadContext): string => {
      const issuer = (raw ?? `http://localhost:${SETTINGS.port.read(ctx.env.PORT, ctx)}`).replace(/\/$/, '');
      if (!isUrl(issuer)) throw new InvalidSetting('must be an absolute URL');
      return checkedIssuer(issuer);
    },
  },
  databaseUrl: {
    env: 'DATABASE_URL',
    meaning: 'PostgreSQL for durable data. Unset: embedded PGlite in `$DATA_DIR/pg`, which one process holds (the admin CLI refuses to run beside the server). Set: `REDIS_URL` must be set too.',
    ...optional('a PostgreSQL connection string'),
  },
  redisUrl: {
    env: 'REDIS_URL',
    meaning: 'Redis for challenges, rate limits, pub/sub and short-lived tokens: one server, the master a Sentinel group names, or a Cluster (one IdP\'s keys share one hash slot: the cluster gives failover, see docs/production.md). Unset: an in-process stand-in (one process only; lost at restart; the log says so; it frees keys once they lapse, as Redis does, and near the heap limit of the process refuses writes as a full Redis under `noeviction` does, so pages answer 503 rather than the process dying: red-team, anonymous `/auth` requests whose records it never freed killed `npm start`), and the start is refused when `DATABASE_URL` is set.',
    default: NONE,
    accepts: '`redis://[user:pass@]host:port[/db]`, `redis-sentinel://host:port,host:port/<master>[?db=N]`, `redis-cluster://host:port,host:port`; over TLS `rediss://`, `rediss-sentinel://`, `rediss-cluster://` (certificates checked against Node\'s trust store and `REDIS_CA`)',
    read: (raw: string | undefined): string | null => {
      if (!raw) return null;
      try { parseRedisUrl(raw); } catch (err) { if (err instanceof RedisUrlError) throw new InvalidSetting(err.message); throw err; }
      return raw;
    },
  },
  redisCa: {
    env: 'REDIS_CA',
    meaning: 'CA certificates trusted for a TLS `REDIS_URL` besides Node\'s bundled ones (a Redis behind a private CA); `NODE_EXTRA_CA_CERTS` works too. Set with a clear-text `REDIS_URL`, or a file that cannot be read or holds no certificate, stops the start.',
    ...optionalFile('a PEM file'),
  },
  redisClientCert: {
    env: 'REDIS_CLIENT_CERT',
    meaning: 'The certificate the IdP shows a TLS Redis that asks for one (Redis\'s own default, `tls-auth-clients yes`), with `REDIS_CLIENT_KEY`.',
    ...optionalFile('a PEM file'),
  },
  redisClientKey: {
    env: 'REDIS_CLIENT_KEY',
    meaning: 'The private key of `REDIS_CLIENT_CERT` (not encrypted; keep the file readable by the IdP only).',
    ...optionalFile('a PEM file'),
  },
  redisPrefix: { env: 'REDIS_PREFIX', meaning: 'Prefix of this IdP\'s Redis keys and channels (several IdPs can share one Redis).', ...text('idp:', 'any text') },
  dataDir: { env: 'DATA_DIR', meaning: 'Generated secrets (`secrets.json`, mode 0600), the embedded database (`pg/`, without `DATABASE_URL`), the demo user\'s password. Made 0700 (an existing one open to other users is fixed at start, with a warning: docs/production.md, The data folder).', ...folder('data') },
  configDir: { env: 'CONFIG_DIR', meaning: 'Where the registrations are read from: OIDC relying apps `clients/*.json`, SAML service providers `saml/*.json`, gateways of the agent API `agents/*.json`, RADIUS clients `radius/*.json` (with `RADIUS_PORT`), and with `DEMO` the demo app\'s `demo/*.json`.', ...folder('config') },
  cookieKeys: {
    env: 'COOKIE_KEYS',
    default: 'generated into `$DATA_DIR/secrets.json`',
    accepts: 'comma-separated secrets of at least 32 characters each',
    meaning: 'Secrets that sign cookies, newest first. Set it (and `KEK`) when several instances serve.',
    read: (raw: string | undefined): string[] | null => (raw ? parseCookieKeys(raw) : null),
  },
  kek: {
    env: 'KEK',
    default: 'generated into `$DATA_DIR/secrets.json`',
    accepts: '`id:base64(32 bytes)`, comma-separated',
    meaning: 'Key-encryption keys for secrets at rest (TOTP secrets, the stored signing and VAPID keys). The first seals, every one opens; `npm run admin -- secrets rewrap` re-seals under the first.',
    read: (raw: string | undefined): { id: string; key: Buffer }[] | null => (raw ? parseKek(raw) : null),
  },
  jwksFile: {
    env: 'JWKS_FILE',
    meaning: 'A JSON Web Key Set of private signing keys to use instead of the generated ones; it must include an RSA key (RS256).',
    ...optionalFile('a JSON file'),
  },
  trustProxy: {
    env: 'TRUST_PROXY',
    default: code('false'),
    accepts: '`false`, `true` (= 1), a number of proxies (at most 32), or comma-separated proxy addresses and CIDR ranges',
    meaning: 'Whose `X-Forwarded-For` to believe for the client\'s IP: with N proxies, the address the nearest one saw; with addresses, the first from the right that is not a listed proxy. `X-Forwarded-Host` and `-Proto` are never read (URLs come from `ISSUER`).',
    read: (raw: string | undefined): TrustProxy => {
      try {
        return parseTrustProxy(raw);
      } catch (err) {
        throw new InvalidSetting((err as Error).message);
      }
    },
  },
  pushServices: {
    env: 'PUSH_SERVICES',
    default: NONE,
    accepts: 'comma-separated `host[:port]` (port 443 by default); `*.name` for any name one label deeper',
    meaning: 'Push services allowed besides the browser vendors\' (FCM, Mozilla, Apple, Windows). The operator\'s choice: an entry may be a private name or address (a push proxy), and its addresses are not checked.',
    read: (raw: string | undefined): PushServiceRule[] => {
      try {
        return parsePushServices(raw ?? '');
      } catch (err) {
        throw new InvalidSetting(`${(err as Error).message}; expected comma-separated host[:port] entries, e.g. push.example.com,*.push.example.net:8443`);
      }
    },
  },
  pushCa: {
    env: 'PUSH_CA',
    meaning: 'CA certificates trusted for push services besides Node\'s bundled ones (a push proxy behind a private CA). A file that cannot be read or holds no certificate stops the start.',
    ...optionalFile('a PEM file'),
  },
  vapidSubject: {
    env: 'VAPID_SUBJECT',
    default: code('mailto:admin@localhost'),
    accepts: 'a `mailto:` or `https:` URI',
    meaning: 'Contact given to push services in the VAPID token (RFC 8292).',
    read: (raw: string | undefined): string => {
      const v = raw ?? 'mailto:admin@localhost';
      if (!/^(mailto:|https:)/.test(v)) throw new InvalidSetting('must start with mailto: or https:');
      // A contact a push service can use (RFC 8292 2.1; red-team: `mailto:` and `mailto:%20` were taken).
      if (v.startsWith('mailto:') && !/^mailto:[^\s@<>"]+@[^\s@<>"]+$/.test(v)) throw new InvalidSetting('must be mailto:<an e-mail address> or an https: URL');
      if (v.startsWith('https:') && !URL.canParse(v)) throw new InvalidSetting('must be mailto:<an e-mail address> or an https: URL');
      return v;
    },
  },
  pushChallengeTtl: { env: 'PUSH_CHALLENGE_TTL', meaning: 'Seconds a push request lives.', ...integer(120, 15, 600, 'must be 15..600 seconds') },
  pushLimit: {
    env: 'PUSH_LIMIT',
    meaning: 'Unapproved pushes to an account within `PUSH_LIMIT_WINDOW` after which no push is sent (the passcode still works).',
    ...integer(5, 1, 100),
  },
  pushLimitWindow: { env: 'PUSH_LIMIT_WINDOW', meaning: 'Seconds over which unapproved pushes are counted.', ...integer(300, 30, 86_400) },
  pushForceMatchAfter: {
    env: 'PUSH_FORCE_MATCH_AFTER',
    meaning: 'Unapproved pushes within `PUSH_LIMIT_WINDOW` after which number matching is forced on, whatever the app\'s setting.',
    ...integer(2, 0, 100),
  },
  pushMuteAfterReport: { env: 'PUSH_MUTE_AFTER_REPORT', meaning: 'Seconds a "deny and report" mutes pushes to the account (0: no mute).', ...integer(1200, 0, 7 * 86_400) },
  cibaPollInterval: {
    env: 'CIBA_POLL_INTERVAL',
    meaning: 'Seconds an OpenID CIBA client must wait between token requests for one auth_req_id (the `interval` it is given); polling sooner answers `slow_down` and adds 5 s.',
    ...integer(5, 1, 60),
  },
  geoipDb: {
    env: 'GEOIP_DB',
    meaning: 'A MaxMind GeoLite2/GeoIP2 City database; the phone then shows "City, Country" for requests from public addresses. A file that cannot be opened stops the start.',
    ...optional('an `.mmdb` file'),
  },
  deviceUnlock: {
    env: 'DEVICE_UNLOCK',
    meaning: 'What the authenticator asks before answering: `pin` a PIN of at least 6 digits chosen on the phone (5 wrong PINs free, then waits from 30 s doubling to 1 h), `webauthn` a user-verifying WebAuthn assertion with every approval. Fixed on each device as it enrolls: a change applies to new enrollments only (re-enroll a phone to change its own).',
    ...oneOf(['none', 'pin', 'webauthn'] as const, 'none'),
  },
  firstDevice: {
    env: 'FIRST_DEVICE',
    meaning: 'Who may set up an account\'s first authenticator: `self` the user on `/account` after a password sign-in (the quickstart; whoever has the password can then enroll a phone of their own before the user does), `admin` only with an enrollment code an administrator issues (`device enroll-code`); later ones always need a sign-in with the second factor.',
    ...oneOf(['self', 'admin'] as const, 'self'),
  },
  pollIntervalSeconds: {
    env: 'POLL_INTERVAL',
    meaning: 'Seconds between an authenticator\'s checks for requests in poll mode (where Web Push is unavailable).',
    ...integer(5, 2, 300, 'must be 2..300 seconds'),
  },
  sessionMaxAge: {
    env: 'SESSION_MAX_AGE',
    meaning: 'Seconds after its sign-in at which a session (the SSO session and `/account`\'s) ends, however active (NIST SP 800-63B 7.2).',
    ...integer(43_200, 1, 30 * 86_400),
  },
  sessionIdleTimeout: { env: 'SESSION_IDLE_TIMEOUT', meaning: 'Seconds without use after which a session ends.', ...integer(1800, 1, 30 * 86_400) },
  maxDevicesPerAccount: {
    env: 'MAX_DEVICES_PER_ACCOUNT',
    meaning: 'Active authenticators one account may have; another enrollment is refused (`409 device_limit_reached`).',
    ...integer(5, 1, 100),
  },
  demo: {
    env: 'DEMO',
    default: '`true` without `DATABASE_URL`, else `false`',
    accepts: '`1`, `true`, `yes` or `on` (anything else: off)',
    meaning: 'Seed the demo user and the demo app at `/demo`.',
    read: (raw: string | undefined, ctx: ReadContext): boolean =>
      raw === undefined || raw === '' ? SETTINGS.databaseUrl.read(ctx.env.DATABASE_URL, ctx) === null : /^(1|true|yes|on)$/i.test(raw),
  },
  radiusPort: {
    env: 'RADIUS_PORT',
    default: '*(none: RADIUS off)*',
    accepts: '0-65535 (RADIUS\'s own is `1812`)',
    meaning: 'UDP port of the RADIUS front door for VPN gateways and other NASes (docs/radius.md); its clients are read from `$CONFIG_DIR/radius/*.json` and checked at start. `npm run radius` serves it alone.',
    read: (raw: string | undefined): number | null => {
      if (raw === undefined || raw === '') return null;
      const v = Number(raw);
      if (!/^\d+$/.test(raw) || v > 65535) throw new InvalidSetting('must be a port number');
      return v;
    },
  },
  radiusHost: {
    env: 'RADIUS_HOST',
    meaning: 'Address the RADIUS front door binds (an IPv6 address binds IPv6), or a comma-separated list of addresses, each bound by a socket of its own that replies from it. A NAS discards a reply from another address than it sent to: on a machine with several addresses (or a VRRP virtual IP) list those NASes send to; with `0.0.0.0` the start then warns (docs/radius.md).',
    default: code('0.0.0.0'),
    accepts: 'an IP address, or a comma-separated list of them (`0.0.0.0` and `::` alone)',
    read: (raw: string | undefined): string => {
      const list = (raw || '0.0.0.0').split(',').map((h) => h.trim());
      for (const h of list) {
        if (isIP(h) === 0) throw new InvalidSetting('must be an IP address or a comma-separated list of them, e.g. 0.0.0.0, 192.0.2.1,192.0.2.2 or ::');
      }
      if (list.length > 1 && list.some(isUnspecifiedAddress)) throw new InvalidSetting('0.0.0.0 or :: (every address) stands alone, not in a list');
      // One address however written (`::1` and `0:0:0:0:0:0:0:1`, `::ffff:127.0.0.1` and `127.0.0.1`).
      const canonical = list.map((h) => { const ip = parseIp(h); return ip ? formatIp(ip) : h; });
      if (new Set(canonical).size < list.length) throw new InvalidSetting('lists an address twice');
      return list.join(',');
    },
  },
  productName: { env: 'PRODUCT_NAME', meaning: 'The product\'s name, shown at the top of every page of the IdP and in its titles.', ...text('Push OTP', 'any text') },
  productLogo: {
    env: 'PRODUCT_LOGO',
    meaning: 'A logo shown beside the product name on every page: a path on the IdP (e.g. a file put in `views/static/`) or a `data:image/…` URL; the pages\' Content-Security-Policy allows no other origin.',
    default: NONE,
    accepts: 'a path starting with `/`, or a `data:image/` URL',
    read: (raw: string | undefined) => {
      if (!raw) return null;
      if (!/^\/(?!\/)[^\s"'<>\\]*$/.test(raw) && !/^data:image\/[a-z0-9.+-]+[;,][^\s"'<>]*$/i.test(raw)) throw new InvalidSetting('must be a path starting with / or a data:image/ URL');
      return raw;
    },
  },
  // pino's levels: any other value made pino throw its own stack trace at start (red-team: `warning`).
  auditRetentionDays: {
    env: 'AUDIT_RETENTION_DAYS',
    meaning: 'Days an audit record (`audit_events`) is kept; older ones are deleted by the sweep every 10 minutes. `0` keeps them all.',
    ...integer(365, 0, 36_500),
  },
  logLevel: { env: 'LOG_LEVEL', meaning: 'JSON log level (pino).', ...oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info') },
  instances: {
    env: 'INSTANCES',
    meaning: 'How many IdP processes serve together (docs/production.md). Above 1 the start is refused without `DATABASE_URL`, `REDIS_URL`, `COOKIE_KEYS` and `KEK`: stand-ins and generated secrets are per process.',
    ...integer(1, 1, 1000),
  },
  metricsToken: {
    env: 'METRICS_TOKEN',
    default: NONE,
    accepts: 'at least 32 characters of `A-Z a-z 0-9 - . _ ~ + /`',
    meaning: 'Bearer token that opens `GET /metrics` (Prometheus) on the main port. Unset: `/metrics` is not served there (see `METRICS_PORT`).',
    read: (raw: string | undefined): string | null => {
      if (!raw) return null;
      // A Bearer credential is token68 (RFC 9110 11.4); anything else is refused at the edge (src/http/hostile.ts).
      if (raw.length < 32 || !/^[A-Za-z0-9\-._~+/]+=*$/.test(raw)) throw new InvalidSetting('must be at least 32 characters of A-Z a-z 0-9 - . _ ~ + / (a random secret, e.g. base64url)');
      return raw;
    },
  },
  metricsPort: { env: 'METRICS_PORT', meaning: 'A separate port serving only `/metrics`, without a token, on `METRICS_HOST` (0: none).', ...integer(0, 0, 65535, 'must be a port number') },
  metricsHost: { env: 'METRICS_HOST', meaning: 'Address the `METRICS_PORT` listener binds (keep it private).', ...text('127.0.0.1', 'an IP address or host name') },
  shutdownGrace: { env: 'SHUTDOWN_GRACE', meaning: 'Seconds in-flight requests get to finish after `SIGTERM` before connections are closed.', ...integer(10, 0, 600, 'must be 0..600 seconds') },
  memoryTrimInterval: {
    env: 'MEMORY_TRIM_INTERVAL',
    meaning: 'Seconds between returns of the C heap\'s free pages to the system (glibc `malloc_trim` on a worker thread, from the native part `npm run build` makes; docs/performance.md). 0: never.',
    ...integer(1, 0, 3600, 'must be 0..3600 seconds'),
  },
} satisfies Record<string, SettingSpec<unknown>>;

type Values = { [K in keyof typeof SETTINGS]: ReturnType<(typeof SETTINGS)[K]['read']> };

/** The settings as the IdP uses them; each field's variable and meaning are in SETTINGS. */
export interface Settings extends Omit<Values, 'pushLimit' | 'pushLimitWindow' | 'pushForceMatchAfter' | 'pushMuteAfterReport' | 'sessionMaxAge' | 'sessionIdleTimeout'> {
  /** Push-fatigue defence: PUSH_LIMIT, PUSH_LIMIT_WINDOW, PUSH_FORCE_MATCH_AFTER, PUSH_MUTE_AFTER_REPORT. */
  pushFatigue: { windowMs: number; limit: number; forceMatchAfter: number; muteMs: number };
  /** Sign-in sessions: SESSION_MAX_AGE, SESSION_IDLE_TIMEOUT. */
  session: { maxAgeSeconds: number; idleSeconds: number };
  /** The environment these settings came from; client files name their secrets' variables in it. */
  env: NodeJS.ProcessEnv;
}

/** Reads the settings from an environment (process.env by default). Throws ConfigError naming the variable. */
export function loadSettings(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Settings {
  const ctx: ReadContext = { env, cwd };
  const values: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(SETTINGS) as [string, SettingSpec<unknown>][]) {
    try {
      values[key] = spec.read(env[spec.env], ctx);
    } catch (err) {
      if (err instanceof InvalidSetting) throw new ConfigError('environment', spec.env, err.message);
      throw err;
    }
  }
  const { pushLimit, pushLimitWindow, pushForceMatchAfter, pushMuteAfterReport, sessionMaxAge, sessionIdleTimeout, ...rest } = values as Values;
  return {
    ...rest,
    pushFatigue: { limit: pushLimit, windowMs: pushLimitWindow * 1000, forceMatchAfter: pushForceMatchAfter, muteMs: pushMuteAfterReport * 1000 },
    session: { maxAgeSeconds: sessionMaxAge, idleSeconds: sessionIdleTimeout },
    env,
  };
}
