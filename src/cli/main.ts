import { parseArgs } from 'node:util';
import { createAccountStore } from '../accounts/store.js';
import { createAuditLog } from '../audit/log.js';
import { issuerForCli } from '../config/running-issuer.js';
import { ConfigError, loadSettings } from '../config/settings.js';
import { createDeviceRegistry } from '../devices/registry.js';
import { createDeviceService } from '../devices/service.js';
import { rewrapTotpSecrets } from '../devices/totp-secret.js';
import { createSecretBox } from '../crypto/secretbox.js';
import { rewrapKeystore } from '../keys/keystore.js';
import { readStoredSigningKeys, rotateStoredSigningKeys } from '../keys/signing-keys.js';
import { keyStatuses } from '../keys/signing-rotation.js';
import type { SigningKeysAdmin } from './keys.js';
import { loadProcessSecrets } from '../keys/secrets.js';
import { createLogger } from '../log.js';
import { pgliteHolder } from '../storage/lock.js';
import { openDatabase } from '../storage/open.js';
import { openRedis, type Redis } from '../storage/redis.js';
import { redisTlsOptions } from '../storage/redis-tls.js';
import { announceSigningKeys } from '../keys/signing-announce.js';
import { printable } from './printable.js';
import type { Db } from '../storage/db.js';
import { createPushFatigueStore } from '../defences/push-fatigue-store.js';
import { accountThrottleKeys } from '../defences/throttle-keys.js';
import { adapterFactory } from '../oidc/adapters.js';
import { createEndAccountSessions } from '../oidc/sessions.js';
import { createRedisChallengeStore } from '../challenge/redis-store.js';
import { withdrawEndedPushes } from '../signin/resolution.js';
import { commands, UsageError, type Command } from './commands.js';
import { createFederatedLinks } from '../upstream/links.js';

/** sysexits EX_UNAVAILABLE: PostgreSQL or Redis cannot be used; nothing was changed. */
const UNAVAILABLE = 69;
/** A server that accepts and never answers must not hold the CLI for ever (red-team: still waiting after 45 s). */
const CLI_POSTGRES_TIMEOUTS = { connectMs: 10_000, queryMs: 30_000 };
const CLI_REDIS_OPTIONS = { connectTimeout: 10_000, commandTimeout: 10_000, maxRetriesPerRequest: 1 };

/**
 * Commands that change what Redis holds too (the tokens and pushes of the sessions they end, mutes,
 * guess counts): Redis is reached before anything is changed. Red-team: with Redis down, `user
 * set-password` stored the new hash, ended the sessions in SQL, then failed, printing no password
 * and writing no audit row.
 */
const NEEDS_REDIS = new Set(['user set-password', 'user disable', 'user sign-out', 'device revoke', 'user unmute', 'user unlock', 'federation unlink']);

/** PostgreSQL or Redis cannot be used: one line, exit 69. */
class StorageUnavailable extends Error {}

/** Pure: an error as one line (no stack; AggregateError's message is empty, its code says it). */
function oneLine(err: unknown): string {
  const e = err as { message?: unknown; code?: unknown } | null;
  const text = (typeof e?.message === 'string' && e.message) || (typeof e?.code === 'string' && e.code) || String(err);
  return text.split('\n')[0]!.slice(0, 300);
}

/** The admin CLI: `npm run admin -- <command> ...`. Same settings (environment) as the server. */
function overview(): string {
  return ['Usage: npm run admin -- <command> [options]', '', 'Commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(20)} ${c.help}`),
    '', 'Add --help after a command for its options.'].join('\n');
}

function commandHelp(name: string, c: Command): string {
  const opts = Object.entries(c.options ?? {}).map(([o, d]) => `  --${o.padEnd(16)} ${d.help}`);
  return [`Usage: npm run admin -- ${c.usage}`, '', c.help, ...(opts.length ? ['', 'Options:', ...opts] : [])].join('\n');
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    // Red-team: bytes that are not UTF-8 were stored as U+FFFD, a password nobody could type.
    throw new UsageError('the standard input is not UTF-8 text');
  }
}

/**
 * What the words of a command line leave unclear, or null (red-team, odd arguments: `user disable a b`
 * disabled a and said nothing of b; `--name X --name Y` kept Y; `--password P --password-stdin` took
 * the standard input; `audit --user ""` listed every user's events). Positionals: as many as the
 * usage names before its options (`device rename`'s new name may be several words).
 */
function argumentsProblem(name: string, command: Command, parsed: { positionals: string[]; tokens: { kind: string; name?: string; value?: string | undefined }[] }): string | null {
  const named = (command.usage.slice(name.length).split(/ [[(]/)[0]!.match(/<[^>]+>/g) ?? []).length;
  const most = command.manyWordsLast ? Infinity : named;
  if (parsed.positionals.length > most) return `${name} takes ${most === 0 ? 'no words' : most === 1 ? 'one word' : `${most} words`} besides its options; ${JSON.stringify(parsed.positionals.slice(most).join(' ').slice(0, 80))} is more than it takes`;
  const seen = new Set<string>();
  for (const t of parsed.tokens) {
    if (t.kind !== 'option' || !t.name) continue;
    if (seen.has(t.name)) return `--${t.name} is given twice`;
    seen.add(t.name);
    if (t.value === '') return `--${t.name} needs a value`;
  }
  if (seen.has('password') && seen.has('password-stdin')) return 'give --password or --password-stdin, not both';
  return null;
}


export async function runCli(argv: string[]): Promise<number> {
  const name = [argv.slice(0, 2).join(' '), argv[0] ?? ''].find((n) => Object.hasOwn(commands, n));
  if (!name) {
    const asked = argv.length === 0 || argv[0] === '--help' || argv[0] === 'help';
    // Which words were not understood, first (red-team: `user frobnicate` printed the overview alone).
    const group = Object.keys(commands).some((c) => c.startsWith(`${argv[0]} `));
    const unknown = JSON.stringify(group && argv[1] !== undefined ? `${argv[0]} ${argv[1]}` : argv[0] ?? '').slice(0, 120);
    (asked ? process.stdout : process.stderr).write(`${asked ? '' : `error: unknown command ${unknown}\n\n`}${overview()}\n`);
    return asked ? 0 : 64;
  }
  const command = commands[name]!;
  const rest = argv.slice(name.split(' ').length);
  let parsed;
  try {
    parsed = parseArgs({ args: rest, allowPositionals: true, tokens: true, options: { help: { type: 'boolean' }, ...(command.options ?? {}) } });
    const refusal = argumentsProblem(name, command, parsed);
    if (refusal) throw new Error(refusal);
  } catch (err) {
    process.stderr.write(`${printable((err as Error).message)}\n\n${commandHelp(name, command)}\n`);
    return 64;
  }
  if (parsed.values.help) {
    process.stdout.write(commandHelp(name, command) + '\n');
    return 0;
  }
  const settings = loadSettings();
  // Links name the port the server really runs on (its record in the data folder), unless ISSUER is set here.
  const issuer = issuerForCli(process.env, settings.dataDir, settings.issuer);
  if (!settings.databaseUrl) {
    const holder = pgliteHolder(settings.dataDir);
    if (holder) {
      process.stderr.write(`The IdP (process ${holder}) has the embedded database open. Stop it first, or use the self-service page ${issuer}/account; with DATABASE_URL (PostgreSQL) the CLI and the server run side by side.\n`);
      return 75;
    }
  }
  let db: Db;
  try {
    db = await openDatabase({ databaseUrl: settings.databaseUrl, dataDir: settings.dataDir, timeouts: CLI_POSTGRES_TIMEOUTS });
  } catch (err) {
    throw new StorageUnavailable(`${settings.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : 'the embedded database'} cannot be used: ${oneLine(err)}`);
  }
  // One Redis connection for the run, reached (PING) before it is used.
  const held: { redis: Redis | null } = { redis: null };
  const redisReached = async (url: string): Promise<Redis> => {
    if (held.redis) return held.redis;
    const redisTls = redisTlsOptions(settings);
    const redis = openRedis(url, settings.redisPrefix, () => {}, { ...CLI_REDIS_OPTIONS, ...(redisTls ? { tls: redisTls } : {}) });
    held.redis = redis;
    try {
      // Raced against a timer too: a Redis Cluster whose nodes all refuse queues commands until it is
      // ready, past any per-node timeout (review).
      let timer: NodeJS.Timeout | undefined;
      const silent = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('no answer within 10 s')), CLI_REDIS_OPTIONS.commandTimeout); });
      await Promise.race([redis.ping(), silent]).finally(() => clearTimeout(timer));
    } catch (err) {
      throw new StorageUnavailable(`Redis (REDIS_URL) cannot be used: ${oneLine(err)}`);
    }
    return redis;
  };
  const audit = createAuditLog(db, createLogger('silent'));
  const registry = createDeviceRegistry(db);
  const endSessions = async (accountId: string) => {
    // Access tokens and codes live in Redis; the in-process stand-in is the server's own (they
    // still die, as userinfo and introspection need the grants deleted here).
    const redis = settings.redisUrl ? await redisReached(settings.redisUrl) : null;
    // The pushes of the sign-ins it ends are withdrawn in Redis and published, so the servers' waiting
    // doors wake; a withdrawal has no effect of its own for the servers' resolution policy to run.
    const withdraw = redis
      ? (id: string, endedAt: number) => withdrawEndedPushes({ challenges: createRedisChallengeStore(redis), resolution: async () => {}, now: Date.now }, id, endedAt)
      : null;
    return createEndAccountSessions(db, redis ? adapterFactory(db, redis, Date.now) : null, Date.now, withdraw)(accountId);
  };
  const devices = createDeviceService({
    devices: registry, db, issuer, audit, unlock: settings.deviceUnlock,
    // As the server's own revoke (app.ts): the unconfirmed phones that end with the sessions are audited.
    onRevoked: async (accountId) => {
      const ended = await endSessions(accountId);
      for (const deviceId of ended.pendingDevices) await audit.record({ type: 'device.revoked', accountId, detail: { deviceId, by: 'sessions_ended' } });
    },
  });
  const unmute = async (accountId: string) => {
    // Mutes live in Redis; the embedded default's stand-in lives inside the server process.
    if (!settings.redisUrl) throw new UsageError('REDIS_URL is not set: with the in-process stand-in, mutes live in the server process and end when it restarts');
    return createPushFatigueStore(await redisReached(settings.redisUrl), settings.pushFatigue).unmute(accountId);
  };
  const unlock = async (account: { id: string; username: string }) => {
    // Throttle counts live in Redis, as mutes do.
    if (!settings.redisUrl) throw new UsageError('REDIS_URL is not set: with the in-process stand-in, guess counts live in the server process and end when it restarts');
    return (await redisReached(settings.redisUrl)).del(...accountThrottleKeys(account));
  };
  const rewrapSecrets = async () => {
    const { kek } = loadProcessSecrets(settings);
    const box = createSecretBox(kek, kek[0]!.id);
    // The keystore's private keys (signing, VAPID) are sealed under the same key-encryption key.
    const keys = await rewrapKeystore(db, box);
    process.stdout.write(`re-sealed ${keys.rewrapped} of ${keys.total} stored keys and secrets (OIDC and SAML signing, VAPID, the issuer record, the demo password) under the active key\n`);
    return rewrapTotpSecrets(db, registry, box);
  };
  const signingKeys: SigningKeysAdmin = {
    async list() {
      if (settings.jwksFile) throw new UsageError('JWKS_FILE is set: the signing keys are that file\'s, rotated by replacing it');
      const { kek } = loadProcessSecrets(settings);
      return keyStatuses(await readStoredSigningKeys(db, settings.issuer, createSecretBox(kek, kek[0]!.id)), Date.now());
    },
    async rotate(opts) {
      if (settings.jwksFile) throw new UsageError('JWKS_FILE is set: the signing keys are that file\'s, rotated by replacing it');
      const { kek } = loadProcessSecrets(settings);
      const now = Date.now();
      const rows = keyStatuses(await rotateStoredSigningKeys(db, settings.issuer, createSecretBox(kek, kek[0]!.id), now, opts), now);
      // The running processes re-read the keys at once (src/keys/signing-announce.ts); unheard, within a minute.
      if (!settings.redisUrl) {
        // The embedded database's server is stopped while the CLI runs (it starts with these keys); PostgreSQL's is not.
        if (settings.databaseUrl) process.stderr.write('note: REDIS_URL is not set here, so the running IdP processes were not told; they follow within a minute\n');
      } else {
        const url = settings.redisUrl;
        await (async () => announceSigningKeys(await redisReached(url)))().catch((err: unknown) => {
          process.stderr.write(`warning: the running IdP processes were not told through Redis (${printable(oneLine(err))}); they follow within a minute\n`);
        });
      }
      return rows;
    },
  };
  try {
    if (settings.redisUrl && NEEDS_REDIS.has(name)) await redisReached(settings.redisUrl);
    await command.run({ signingKeys, accounts: createAccountStore(db), devices, audit, out: (l) => process.stdout.write(l + '\n'), readStdin, rewrapSecrets, unmute, unlock, endSessions, now: Date.now, links: createFederatedLinks(db) },
      parsed.positionals, parsed.values as Record<string, string | boolean | undefined>);
    return 0;
  } catch (err) {
    const e = err as { code?: string; message: string };
    if (err instanceof UsageError) {
      process.stderr.write(`error: ${printable(e.message)}\n\n${commandHelp(name, command)}\n`);
      return 64;
    }
    if (e.code && /^[a-z_]+$/.test(e.code)) {
      process.stderr.write(`error: ${printable(e.message)} (${e.code})\n`);
      return 65;
    }
    throw err;
  } finally {
    held.redis?.disconnect();
    await db.close().catch(() => {});
  }
}

runCli(process.argv.slice(2)).then((code) => process.exit(code), (err) => {
  // One line, never a stack (red-team: a stack trace for storage that was down).
  if (err instanceof ConfigError) process.stderr.write(`Configuration error: ${err.message}\n`);
  else process.stderr.write(`error: ${oneLine(err)}\n`);
  process.exit(err instanceof StorageUnavailable ? UNAVAILABLE : 1);
});
