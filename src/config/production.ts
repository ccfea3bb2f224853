import { ConfigError, type Settings } from './settings.js';

type Checked = Pick<Settings, 'instances' | 'databaseUrl' | 'redisUrl' | 'cookieKeys' | 'kek' | 'issuer' | 'demo' | 'env'>;

/**
 * Pure: a VAPID contact no push service can reach: a host that is no public name (localhost, a
 * reserved test name, no dot). Apple's push service refuses such a token (403 BadJwtToken), so every
 * iPhone's push would fail while Android's worked (red-team, Web Push round: the default's
 * `mailto:admin@localhost` went to production without a word).
 */
export function placeholderContact(subject: string): boolean {
  let host: string;
  if (subject.startsWith('mailto:')) host = subject.slice(subject.lastIndexOf('@') + 1);
  else {
    try { host = new URL(subject).hostname; } catch { return true; }
  }
  host = host.toLowerCase().replace(/\.$/, '');
  return !host.includes('.') || /(?:^|\.)(?:localhost|invalid|test|example|local|internal|example\.(?:com|net|org))$/.test(host) || /^[\d.]+$/.test(host) || host.startsWith('[');
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Production: NODE_ENV=production (the Dockerfile sets it). */
export const isProduction = (env: NodeJS.ProcessEnv): boolean => env.NODE_ENV === 'production';

/**
 * Pure: a plain-http URL to another host, which NODE_ENV=production refuses for the URLs a client
 * file gives (src/config/clients.ts): what goes there would cross the network in clear. Loopback
 * stays allowed (RFC 8252 7.3: a native app's redirect to a port on its own machine).
 */
export const clearTextUrl = (u: string): boolean => {
  const url = new URL(u);
  return url.protocol === 'http:' && !LOCAL_HOSTS.has(url.hostname);
};

/**
 * Pure: what makes this configuration unsafe to run as declared, first problem first
 * (docs/production.md, Refused configurations). Each names the variable to set and why.
 */
export function unsafeConfiguration(s: Checked): ConfigError | null {
  if (s.instances > 1) {
    const several = `INSTANCES is ${s.instances}`;
    if (!s.databaseUrl) return new ConfigError('environment', 'DATABASE_URL', `required when ${several}: the embedded database belongs to one process, so the instances would not share accounts, devices or keys`);
    if (!s.redisUrl) return new ConfigError('environment', 'REDIS_URL', `required when ${several}: the in-process stand-in keeps challenges, rate limits and lockouts per process, and guesses spread over the instances would escape the limits`);
    if (!s.cookieKeys) return new ConfigError('environment', 'COOKIE_KEYS', `required when ${several}: each instance would generate its own cookie keys, and a cookie set by one would be rejected by the others`);
    if (!s.kek) return new ConfigError('environment', 'KEK', `required when ${several}: each instance would generate its own key-encryption key and could not open the secrets another sealed`);
  }
  if (isProduction(s.env)) {
    const url = new URL(s.issuer);
    if (url.protocol !== 'https:' && !LOCAL_HOSTS.has(url.hostname)) {
      return new ConfigError('environment', 'ISSUER', `must be an https:// URL when NODE_ENV=production (got ${url.protocol}//${url.host}): cookies and tokens would cross the network in clear`);
    }
    if (s.demo) return new ConfigError('environment', 'DEMO', 'must be off when NODE_ENV=production: the demo user\'s password is written to the data folder and the demo app is public');
  }
  return null;
}

/** Pure: the warning a production start logs about its VAPID contact, or null. */
export function vapidContactWarning(s: Pick<Settings, 'vapidSubject' | 'env'>): string | null {
  if (!isProduction(s.env) || !placeholderContact(s.vapidSubject)) return null;
  return `VAPID_SUBJECT is ${s.vapidSubject}: Apple's push service refuses a contact at a local or reserved name (403 BadJwtToken), so iPhones get no push; set mailto:ops@your-domain or https://your-domain`;
}

/** Throws the first problem unsafeConfiguration finds. */
export function refuseUnsafeConfiguration(s: Checked): void {
  const problem = unsafeConfiguration(s);
  if (problem) throw problem;
}
