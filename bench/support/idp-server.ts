/**
 * A benchmark child process: our IdP (createIdp) or a bare oidc-provider on the same storage,
 * listening on 127.0.0.1. Started by bench/support/child.ts with `fork(..., { execArgv: ['--import',
 * 'tsx'] })`; configured by the BENCH_CHILD environment variable (JSON, see ChildConfig); answers
 * commands over IPC (its CPU time and memory, seeding users, minting refresh tokens, timing argon2).
 * Never run it by hand.
 */
import { experiments } from './experiments.js'; // first: it may patch what src/ imports
import { webcrypto } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Redis as IORedis } from 'ioredis';
import compose from 'koa-compose';
import Provider, { type Configuration } from 'oidc-provider';
import pg from 'pg';
import { checkPassword } from '../../src/accounts/passwords.js';
import { createAccountStore, type AccountStore } from '../../src/accounts/store.js';
import { createIdp, type Idp } from '../../src/app.js';
import { loadSettings } from '../../src/config/settings.js';
import { createEnrollmentCodes, formatCode } from '../../src/devices/enrollment-codes.js';
import { createLogger } from '../../src/log.js';
import { adapterFactory, RedisAdapter } from '../../src/oidc/adapters.js';
import type { Db } from '../../src/storage/db.js';
import { openDatabase } from '../../src/storage/open.js';
import { openRedis, type Redis } from '../../src/storage/redis.js';
import { bareLogin } from './bare-login.js';
import providerStorage from 'oidc-provider/lib/helpers/als.js';

export interface ChildConfig {
  mode: 'idp' | 'bare';
  /** The environment our settings are read from (PORT, ISSUER, DATABASE_URL, REDIS_URL, ...). */
  env: Record<string, string>;
  redisPrefix: string;
  longPollMs?: number;
  /** bare mode: the client (oidc-provider metadata) and whether findAccount reads the accounts table. */
  bareClient?: Record<string, unknown>;
  bareAccountLookup?: boolean;
  /** bare mode: every model in Redis (the setup oidc-provider's own Redis example shows), none in SQL. */
  bareAllRedis?: boolean;
  /** bare mode: serve the least password login (bench/support/bare-login.ts) at /interaction/:uid. */
  bareLogin?: boolean;
  /** Extra environment of the child process itself (e.g. BENCH_EXPERIMENTS), set by the parent at fork. */
  processEnv?: Record<string, string>;
}

export type ChildCommand =
  | { cmd: 'usage' }
  | { cmd: 'gc' }
  | { cmd: 'seed'; prefix: string; count: number; passwordHash: string; codes: boolean }
  | { cmd: 'mint-refresh'; clientId: string; accountId: string | null; count: number; scope: string }
  | { cmd: 'argon2'; hash: string; password: string; durationMs: number }
  | { cmd: 'lag-reset' }
  | { cmd: 'heap-spaces' }
  | { cmd: 'heap-stats' }
  | { cmd: 'gc-compact' }
  | { cmd: 'heap-snapshot'; dir: string }
  | { cmd: 'stop' };

export interface ChildUsage {
  pid: number;
  /** process.cpuUsage(): every thread of the process (event loop, libuv pool, GC), microseconds. */
  cpu: NodeJS.CpuUsage;
  memory: NodeJS.MemoryUsage;
  /** Event-loop delay since the last lag-reset, milliseconds. */
  loopDelay: { p50: number; p99: number; max: number };
  /** Statements sent to PostgreSQL and commands sent to Redis by this process so far. */
  counts: { sql: number; redis: number; redisByCommand: Record<string, number>; sqlByStatement: Record<string, number> };
}

const config = JSON.parse(process.env.BENCH_CHILD ?? '{}') as ChildConfig;
const send = (msg: unknown): void => {
  process.send?.(msg);
};

const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();

// Counting only (one increment per call): how many round trips each sign-in costs.
const counts: ChildUsage['counts'] = { sql: 0, redis: 0, redisByCommand: {}, sqlByStatement: {} };
const detailed = process.env.BENCH_COUNT_DETAIL === '1';
const pgQuery = pg.Client.prototype.query as (...args: unknown[]) => unknown;
(pg.Client.prototype as unknown as { query: unknown }).query = function (this: unknown, ...args: unknown[]) {
  counts.sql++;
  if (detailed) {
    const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string })?.text ?? '?';
    const key = text.replace(/\s+/g, ' ').slice(0, 70);
    counts.sqlByStatement[key] = (counts.sqlByStatement[key] ?? 0) + 1;
  }
  return pgQuery.apply(this, args);
};
const sendCommand = IORedis.prototype.sendCommand;
IORedis.prototype.sendCommand = function (this: IORedis, command, stream) {
  counts.redis++;
  if (detailed) {
    // Which key a command touches (ids blanked), so that scripts (evalsha) can be told apart.
    const args = (command as unknown as { args: unknown[] }).args;
    const key = String((command.name === 'evalsha' || command.name === 'eval' ? args[2] : args[0]) ?? '').replace(/[A-Za-z0-9_-]{12,}/g, '*').replace(/\d{3,}/g, '#');
    const name = `${command.name} ${key}`;
    counts.redisByCommand[name] = (counts.redisByCommand[name] ?? 0) + 1;
  }
  return sendCommand.call(this, command, stream);
};

interface Running {
  server: Server;
  db: Db;
  redis: Redis;
  accounts: AccountStore;
  provider: Provider;
  idp: Idp | null;
  close(): Promise<void>;
}

async function startIdp(): Promise<Running> {
  const settings = loadSettings(config.env);
  const idp = await createIdp(settings, {
    logger: createLogger('silent'),
    redisPrefix: config.redisPrefix,
    ...(config.longPollMs ? { longPollMs: config.longPollMs } : {}),
  });
  // Experiment account-cache=ms: findById answered from memory for that long (what the refresh grant's findAccount would save).
  const cacheMs = Number(experiments.get('account-cache') ?? 0);
  if (cacheMs > 0) {
    const findById = idp.accounts.findById.bind(idp.accounts);
    const cache = new Map<string, { at: number; value: Awaited<ReturnType<typeof findById>> }>();
    idp.accounts.findById = async (id: string) => {
      const hit = cache.get(id);
      if (hit && Date.now() - hit.at < cacheMs) return hit.value;
      const value = await findById(id);
      cache.set(id, { at: Date.now(), value });
      return value;
    };
  }
  // Experiment provider-fast-path: requests for oidc-provider's own endpoints skip our page and
  // API middleware (security headers for our pages, health, static files, our routers) and go
  // from the error handler and the host pinning straight to the mounted provider.
  if (experiments.has('provider-fast-path')) {
    const all = [...idp.app.middleware];
    const ours = compose(all);
    const providerOnly = compose([all[0]!, all[1]!, all.at(-1)!]);
    const PROVIDER = /^\/(token|auth|me|jwks|\.well-known|session|request|reg|backchannel)(\/|$)/;
    idp.app.middleware.length = 0;
    idp.app.middleware.push((ctx, next) => (PROVIDER.test(ctx.path) ? providerOnly(ctx, next) : ours(ctx, next)));
  }
  // Experiment two-stores: oidc-provider's own AsyncLocalStorage back (its methods, not ours).
  if (experiments.has('two-stores')) {
    delete (providerStorage as unknown as Record<string, unknown>).run;
    delete (providerStorage as unknown as Record<string, unknown>).getStore;
  }
  // Experiment provider-direct: oidc-provider's own callback, without our Koa app in front (token endpoint only).
  const server = createServer(experiments.has('provider-direct') ? idp.provider.callback() : idp.callback());
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 121_000;
  server.requestTimeout = 0;
  await new Promise<void>((resolve) => server.listen(settings.port, '127.0.0.1', resolve));
  // RADIUS_PORT set (bench/radius-throughput.ts): the RADIUS door too, as `npm start` serves it.
  if (settings.radiusPort !== null) await idp.radius.listen(settings.radiusPort, '127.0.0.1');
  return {
    server, db: idp.db, redis: idp.redis, accounts: idp.accounts, provider: idp.provider, idp,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await idp.close();
    },
  };
}

/** oidc-provider as its README shows it, with our adapters (SQL for durable models, Redis for the rest) and one ES256 key. */
async function startBare(): Promise<Running> {
  const settings = loadSettings(config.env);
  const db = await openDatabase({ databaseUrl: settings.databaseUrl, dataDir: null });
  const redis = openRedis(settings.redisUrl, config.redisPrefix);
  const accounts = createAccountStore(db);
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const { key_ops: _ops, ext: _ext, ...jwk } = await webcrypto.subtle.exportKey('jwk', keys.privateKey);
  const configuration: Configuration = {
    clients: [config.bareClient as never],
    adapter: (config.bareAllRedis ? (model: string) => new RedisAdapter(redis, model, Date.now) : adapterFactory(db, redis, Date.now)) as unknown as Configuration['adapter'],
    jwks: { keys: [{ ...jwk, kid: 'bench-es256', use: 'sig', alg: 'ES256' }] } as Configuration['jwks'],
    cookies: { keys: ['bench-bare-cookie-key-0123456789abcdef'] },
    features: { devInteractions: { enabled: false } },
    // The lifetimes ours configures (src/oidc/provider.ts), so both store the same artefacts for as long.
    ttl: { AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, Interaction: 3600, Session: 14 * 24 * 3600, Grant: 14 * 24 * 3600, RefreshToken: 14 * 24 * 3600 },
    ...(config.bareAccountLookup
      ? {
        findAccount: async (_ctx, sub) => {
          const account = await accounts.findById(sub);
          return account && !account.disabled ? { accountId: sub, claims: async () => ({ sub }) } : undefined;
        },
      }
      : {}),
  };
  const provider = new Provider(settings.issuer, configuration);
  const server = createServer(config.bareLogin ? bareLogin(provider, accounts) : provider.callback());
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((resolve) => server.listen(settings.port, '127.0.0.1', resolve));
  return {
    server, db, redis, accounts, provider, idp: null,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      redis.disconnect();
      await db.close();
    },
  };
}

async function seed(r: Running, c: Extract<ChildCommand, { cmd: 'seed' }>) {
  const codes = createEnrollmentCodes(r.db);
  const out: { username: string; accountId: string; code: string | null }[] = [];
  // A few at a time: the pool has 10 connections, and the IdP may be serving meanwhile.
  const batch = 8;
  for (let i = 0; i < c.count; i += batch) {
    const part = await Promise.all(Array.from({ length: Math.min(batch, c.count - i) }, async (_, k) => {
      const username = `${c.prefix}${i + k}`;
      const account = await r.accounts.create({ username, displayName: username, passwordHash: c.passwordHash });
      const code = c.codes ? formatCode((await codes.issue(account.id, 'bench')).code) : null;
      return { username, accountId: account.id, code };
    }));
    out.push(...part);
  }
  return out;
}

async function mintRefresh(r: Running, c: Extract<ChildCommand, { cmd: 'mint-refresh' }>) {
  const { provider } = r;
  const client = await provider.Client.find(c.clientId);
  if (!client) throw new Error(`no client ${c.clientId}`);
  const tokens: string[] = [];
  for (let i = 0; i < c.count; i++) {
    const accountId = c.accountId ?? `bare-user-${i}`;
    const grant = new provider.Grant({ clientId: c.clientId, accountId });
    grant.addOIDCScope(c.scope);
    const grantId = await grant.save();
    // What an authorization-code sign-in with offline_access leaves behind (expiresWithSession false).
    const rt = new provider.RefreshToken({
      client, accountId, grantId, scope: c.scope, gty: 'authorization_code', expiresWithSession: false,
      authTime: Math.floor(Date.now() / 1000), amr: ['pwd', 'otp', 'swk', 'mfa'], acr: 'urn:pushotp:acr:mfa',
    } as never);
    tokens.push(await rt.save());
  }
  return tokens;
}

/** Sequential verifications of one hash: one at a time, so wall time is one core's worth. */
async function argon2(c: Extract<ChildCommand, { cmd: 'argon2' }>) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const times: number[] = [];
  let n = 0;
  while (performance.now() - t0 < c.durationMs) {
    const s = performance.now();
    if (!(await checkPassword(c.hash, c.password))) throw new Error('argon2: the password does not verify');
    times.push(performance.now() - s);
    n++;
  }
  const cpu = process.cpuUsage(cpu0);
  return { n, wallMs: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000, times };
}

function usage(): ChildUsage {
  return {
    pid: process.pid,
    cpu: process.cpuUsage(),
    memory: process.memoryUsage(),
    loopDelay: { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
    counts: structuredClone(counts),
  };
}

async function main() {
  const running = config.mode === 'bare' ? await startBare() : await startIdp();
  const port = (running.server.address() as AddressInfo).port;
  process.on('message', (raw: { id: number } & ChildCommand) => {
    const reply = (result: unknown) => send({ id: raw.id, result });
    const fail = (err: unknown) => send({ id: raw.id, error: err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err) });
    const run = async (): Promise<unknown> => {
      switch (raw.cmd) {
        case 'usage': return usage();
        case 'gc': (globalThis as { gc?: () => void }).gc?.(); return usage();
        case 'lag-reset': loop.reset(); return null;
        case 'heap-spaces': return (await import('node:v8')).getHeapSpaceStatistics();
        case 'heap-stats': return (await import('node:v8')).getHeapStatistics();
        // What V8's memory reducer does to an idle process: a full GC that compacts every fragmented page and gives back what it frees.
        case 'gc-compact': (globalThis as { gc?: (o: object) => void }).gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' }); await new Promise((r) => setTimeout(r, 500)); return usage();
        case 'heap-snapshot': return (await import('node:v8')).writeHeapSnapshot(`${raw.dir}/idp-${process.pid}-${Date.now()}.heapsnapshot`);
        case 'seed': return seed(running, raw);
        case 'mint-refresh': return mintRefresh(running, raw);
        case 'argon2': return argon2(raw);
        case 'stop':
          await running.close();
          setImmediate(() => process.exit(0));
          return null;
      }
    };
    run().then(reply, fail);
  });
  send({ ready: true, url: `http://127.0.0.1:${port}`, pid: process.pid, experiments: [...experiments] });
}

main().catch((err: unknown) => {
  console.error('bench child failed to start:', err);
  process.exit(1);
});
