import { z } from 'zod';
import { shownName } from '../config/shown-name.js';
import { DEFAULT_ACR, loginPolicySchema, type LoginPolicy } from '../config/clients.js';
import { ConfigError } from '../config/settings.js';
import { formatIp, inCidr, parseCidr, parseIp, type Cidr } from '../net/ip.js';
import { readJsonFolder } from '../config/json-folder.js';

/**
 * RADIUS clients (NASes: VPN gateways, firewalls, Wi-Fi controllers), one per file under
 * config/radius/*.json, validated at start: a bad file stops the start naming the file and field.
 * docs/radius.md lists the fields.
 */
export interface RadiusClient {
  file: string;
  /** A short name: the audit trail's client id is `radius:<name>`. */
  name: string;
  /** What the phone shows as the app asking. */
  displayName: string;
  /** Where its packets come from (addresses are /32 or /128). */
  networks: Cidr[];
  /** The shared secret, from the environment variable the file names. */
  secret: Buffer;
  /** BlastRADIUS (CVE-2024-3596): drop Access-Requests without a valid Message-Authenticator. */
  requireMessageAuthenticator: boolean;
  /** 'challenge': password, then Access-Challenge; 'single': one request, the answer held until the push is answered. */
  mode: 'challenge' | 'single';
  /** Longest a request is held waiting for the phone's answer. */
  maxWaitSeconds: number;
  login: LoginPolicy;
}

/** Shared secrets shorter than this are refused (RFC 2865 section 3 asks for at least 16 octets; BlastRADIUS guidance asks for long random ones). */
export const MIN_SECRET_LENGTH = 32;
/** A secret of this many distinct characters or fewer is a pattern, not a random string. */
const MIN_DISTINCT = 12;
/** Some NASes cut longer secrets. */
const MAX_SECRET_LENGTH = 128;

const fileSchema = z.strictObject({
  $comment: z.string().optional(),
  name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits, dots, dashes or underscores'),
  displayName: shownName(64).optional(),
  address: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  secretEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must name an environment variable'),
  requireMessageAuthenticator: z.boolean().default(true),
  mode: z.enum(['challenge', 'single']).default('challenge'),
  maxWaitSeconds: z.number().int().min(5).max(300).default(30),
  // A NAS cannot tell a password-only Accept from one with the second factor: an account without an
  // authenticator is refused unless the file says `noDevice: "password-only"` (red-team: a minimal
  // file let every account not yet enrolled onto the VPN with its password), as for a gateway.
  login: loginPolicySchema.extend({ noDevice: z.enum(['password-only', 'refuse']).default('refuse') })
    .default({ form: 'two-step', numberMatching: true, noDevice: 'refuse', consent: 'explicit', acr: { ...DEFAULT_ACR } }),
});

/** Validates one parsed client file. Throws ConfigError naming the file and the field. */
export function parseRadiusClient(file: string, raw: unknown, env: NodeJS.ProcessEnv): RadiusClient {
  const result = fileSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') {
      const key = issue.keys[0]!;
      const field = [...issue.path, key].join('.');
      if (/secret/i.test(key)) throw new ConfigError(file, field, 'secrets never go in the file: put it in an environment variable and name that in secretEnv');
      throw new ConfigError(file, field, 'unknown field (a typo?)');
    }
    throw new ConfigError(file, issue.path.join('.') || '(file)', issue.message);
  }
  const f = result.data;
  const networks = (Array.isArray(f.address) ? f.address : [f.address]).map((text, i) => {
    const range = parseCidr(text.trim());
    if (!range) throw new ConfigError(file, Array.isArray(f.address) ? `address.${i}` : 'address', `"${text}" is not an IP address or CIDR range`);
    return range;
  });
  const secret = env[f.secretEnv];
  if (!secret) throw new ConfigError(file, 'secretEnv', `environment variable ${f.secretEnv} is not set`);
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(file, 'secretEnv', `${f.secretEnv} must be a random string of at least ${MIN_SECRET_LENGTH} characters (e.g. openssl rand -base64 33); a short RADIUS secret can be guessed offline from one captured packet`);
  }
  if (secret.length > MAX_SECRET_LENGTH) throw new ConfigError(file, 'secretEnv', `${f.secretEnv} must be at most ${MAX_SECRET_LENGTH} characters (longer ones are cut by some NASes)`);
  if (new Set(secret).size <= MIN_DISTINCT) throw new ConfigError(file, 'secretEnv', `${f.secretEnv} looks like a pattern, not a random string: use e.g. openssl rand -base64 33`);
  if (f.login.autoPush !== undefined) throw new ConfigError(file, 'login.autoPush', 'a RADIUS password without a passcode already sends a push: autoPush does not apply');
  if (f.mode === 'single' && f.login.numberMatching) {
    throw new ConfigError(file, 'login.numberMatching', 'mode "single" cannot show the user a number to match: set login.numberMatching to false, or use mode "challenge" (which shows it)');
  }
  return {
    file, name: f.name, displayName: f.displayName ?? f.name, networks, secret: Buffer.from(secret, 'utf8'),
    requireMessageAuthenticator: f.requireMessageAuthenticator, mode: f.mode, maxWaitSeconds: f.maxWaitSeconds, login: f.login,
  };
}

const rangeText = (r: Cidr) => `${formatIp({ version: r.version, value: r.base })}/${r.bits}`;

/** Loads every *.json under `dir` (sorted). A missing folder means no clients. */
export function loadRadiusClients(dir: string, env: NodeJS.ProcessEnv): RadiusClient[] {
  const byName = new Map<string, string>();
  const byRange = new Map<string, string>();
  return readJsonFolder(dir).map(({ file, raw }) => {
    const client = parseRadiusClient(file, raw, env);
    if (byName.has(client.name)) throw new ConfigError(file, 'name', `"${client.name}" is already used by ${byName.get(client.name)}`);
    byName.set(client.name, file);
    for (const r of client.networks) {
      const key = rangeText(r);
      // The same source under two secrets: which one a packet is checked with would be a guess.
      if (byRange.has(key)) throw new ConfigError(file, 'address', `${key} is already the address of ${byRange.get(key)}`);
      byRange.set(key, file);
    }
    return client;
  });
}

/**
 * The client a packet's source address belongs to: the most specific range that holds it (a
 * gateway's own address wins over its site's range). Null for anyone else (RFC 2865 section 3:
 * requests from unknown clients are silently discarded).
 */
export function clientFor(clients: readonly RadiusClient[], address: string): RadiusClient | null {
  const ip = parseIp(address);
  if (!ip) return null;
  let best: { client: RadiusClient; bits: number } | null = null;
  for (const client of clients) {
    for (const r of client.networks) {
      if (inCidr(ip, r) && (!best || r.bits > best.bits)) best = { client, bits: r.bits };
    }
  }
  return best?.client ?? null;
}
