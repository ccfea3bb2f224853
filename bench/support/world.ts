/**
 * What every benchmark sets up: a PostgreSQL schema of its own on the real server, a Redis key
 * prefix of its own on the real server, a config folder with the benchmark's relying app, and our
 * IdP in child processes on 127.0.0.1. Everything is removed again by `cleanup()`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { BenchChild, childArgs } from './child.js';

export const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

export const RP_SECRET = 'bench-rp-secret-0123456789abcdef0123456789';
export const RP_CALLBACK = 'http://127.0.0.1:1/cb';
export const PASSWORD = 'bench password 1';

/** The relying app of the benchmarks: confidential, ES256 ID tokens, refresh tokens, no consent page. */
export function benchClient(login: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    client_id: 'bench-rp',
    client_name: 'Bench RP',
    client_secret_env: 'BENCH_RP_SECRET',
    redirect_uris: [RP_CALLBACK],
    grant_types: ['authorization_code', 'refresh_token'],
    id_token_signed_response_alg: 'ES256',
    login: { consent: 'implicit', form: 'two-step', numberMatching: true, noDevice: 'refuse', ...login },
  };
}

/** The same app with `login.autoPush`: the password POST sends the push (no choice page, no push POST). */
export const AUTO_PUSH_CLIENT_ID = 'bench-rp-auto';
export function autoPushClient(): Record<string, unknown> {
  return { ...benchClient({ autoPush: true }), client_id: AUTO_PUSH_CLIENT_ID, client_name: 'Bench RP (push sent with the password)' };
}

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as { port: number };
  await new Promise((resolve) => s.close(resolve));
  return port;
}

export interface World {
  schema: string;
  databaseUrl: string;
  redisPrefix: string;
  configDir: string;
  dataDir: string;
  cookieKeys: string;
  kek: string;
  children: BenchChild[];
  /** Starts our IdP in a child process; several share storage, keys and issuer. */
  startIdp(opts: { label: string; port?: number; issuer?: string; pushService?: { env(): Record<string, string> }; longPollMs?: number; env?: Record<string, string>; execArgv?: string[]; processEnv?: Record<string, string> }): Promise<BenchChild>;
  startBare(opts: { label: string; client: Record<string, unknown>; accountLookup?: boolean; allRedis?: boolean; login?: boolean }): Promise<BenchChild>;
  redis(): Redis;
  cleanup(): Promise<void>;
}

export async function createWorld(name: string, clients: Record<string, unknown>[] = [benchClient()]): Promise<World> {
  const schema = `bench_${name.replace(/\W/g, '_')}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const u = new URL(DATABASE_URL);
  u.searchParams.set('options', `-c search_path=${schema}`);
  const databaseUrl = u.toString();
  const redisPrefix = `bench:${name}:${randomBytes(3).toString('hex')}:`;
  const configDir = mkdtempSync(path.join(os.tmpdir(), 'idp-bench-config-'));
  mkdirSync(path.join(configDir, 'clients'));
  for (const c of clients) writeFileSync(path.join(configDir, 'clients', `${String(c.client_id)}.json`), JSON.stringify(c));
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'idp-bench-data-'));
  const cookieKeys = randomBytes(32).toString('base64url');
  const kek = `k1:${randomBytes(32).toString('base64')}`;
  const children: BenchChild[] = [];
  const redisClients: Redis[] = [];

  const world: World = {
    schema, databaseUrl, redisPrefix, configDir, dataDir, cookieKeys, kek, children,

    async startIdp(opts) {
      const port = opts.port ?? (await freePort());
      const issuer = opts.issuer ?? `http://127.0.0.1:${port}`;
      const child = await BenchChild.startIdp({
        mode: 'idp',
        ...(opts.processEnv ? { processEnv: opts.processEnv } : {}),
        env: {
          PORT: String(port), HOST: '127.0.0.1', ISSUER: issuer, DATA_DIR: dataDir, CONFIG_DIR: configDir,
          DATABASE_URL: databaseUrl, REDIS_URL: REDIS_URL, COOKIE_KEYS: cookieKeys, KEK: kek,
          DEMO: 'false', LOG_LEVEL: 'silent', BENCH_RP_SECRET: RP_SECRET,
          // The push-service double as an operator's push service: PUSH_CA and PUSH_SERVICES.
          ...opts.pushService?.env(), ...opts.env,
          // BENCH_IDP_ENV="NAME=value,NAME=value": settings for every IdP a benchmark starts (an A/B of one setting).
          ...Object.fromEntries((process.env.BENCH_IDP_ENV ?? '').split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
        },
        redisPrefix,
        ...(opts.longPollMs ? { longPollMs: opts.longPollMs } : {}),
      }, opts.label, opts.execArgv ?? childArgs());
      children.push(child);
      return child;
    },

    async startBare(opts) {
      const port = await freePort();
      const child = await BenchChild.startIdp({
        mode: 'bare',
        env: { PORT: String(port), ISSUER: `http://127.0.0.1:${port}`, DATABASE_URL: databaseUrl, REDIS_URL: REDIS_URL, DATA_DIR: dataDir },
        redisPrefix: `${redisPrefix}bare:`,
        bareClient: opts.client,
        bareAccountLookup: opts.accountLookup ?? false,
        bareAllRedis: opts.allRedis ?? false,
        bareLogin: opts.login ?? false,
      }, opts.label, childArgs());
      children.push(child);
      return child;
    },

    redis() {
      const r = new Redis(REDIS_URL, { keyPrefix: redisPrefix, maxRetriesPerRequest: 3 });
      redisClients.push(r);
      return r;
    },

    async cleanup() {
      await Promise.all(children.map((c) => c.stop().catch(() => undefined)));
      const r = new Redis(REDIS_URL);
      let cursor = '0';
      do {
        const [next, keys] = await r.scan(cursor, 'MATCH', `${redisPrefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await r.unlink(...keys);
      } while (cursor !== '0');
      r.disconnect();
      for (const c of redisClients) c.disconnect();
      const a = new pg.Client({ connectionString: DATABASE_URL });
      await a.connect();
      await a.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await a.end();
      rmSync(configDir, { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return world;
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function basicAuth(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** CPU seconds used by the Redis server and by all PostgreSQL server processes (for context only: shared with anything else using them). */
export async function serverCpu(redis: Redis): Promise<{ redis: number; postgres: number }> {
  const info = await redis.info('cpu');
  const get = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  let postgres = 0;
  const { readdirSync, readFileSync } = await import('node:fs');
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (!name.startsWith('postgres')) continue;
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      postgres += (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      // gone meanwhile
    }
  }
  return { redis: get('used_cpu_user') + get('used_cpu_sys'), postgres };
}
