import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createIdpServer } from '../../src/http/server.js';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createIdp, type Idp, type IdpOptions } from '../../src/app.js';
import { loadSettings, type Settings } from '../../src/config/settings.js';
import { createLogger } from '../../src/log.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL, uniquePrefix } from './env.js';
import { seedPglite } from './pglite-template.js';

export interface TestIdp {
  url: string;
  idp: Idp;
  server: Server;
  settings: Settings;
  /** Stops the server and the IdP (keeps the data folder and schema unless `cleanup`). */
  stop(): Promise<void>;
  /** Stops and removes what the IdP created (data folder, PostgreSQL schema). */
  close(): Promise<void>;
}

export interface TestIdpOptions {
  storage?: 'pglite' | 'postgres';
  /** Default: the real Redis with PostgreSQL (the IdP refuses the stand-in beside it), else the stand-in. */
  redis?: 'real' | 'standin';
  /** Reuse a data folder / schema / Redis prefix (restart tests). */
  dataDir?: string;
  schema?: string;
  redisPrefix?: string;
  port?: number;
  env?: Record<string, string>;
  /** Passed through to createIdp (push agent, clock, long-poll time). */
  idp?: Partial<IdpOptions>;
  /** Client files to register (written under a temporary config/clients/); the demo app is always there. */
  clients?: Record<string, unknown>[];
  /** Gateway files of the agent API (written under a temporary config/agents/). */
  agents?: Record<string, unknown>[];
}

/** A confidential client with the consent page, for tests. Its secret is set by startTestIdp. */
export const TEST_RP_SECRET = 'test-rp-secret-0123456789abcdef0123456789';
export const testRp = (extra: Record<string, unknown> = {}) => ({
  client_id: 'test-rp',
  client_name: 'Test RP',
  client_secret_env: 'TEST_RP_SECRET',
  redirect_uris: ['http://127.0.0.1:1/cb'],
  post_logout_redirect_uris: ['http://127.0.0.1:1/bye'],
  grant_types: ['authorization_code', 'refresh_token'],
  ...extra,
});

/** Listens on 127.0.0.1:port; rejects (instead of an unhandled 'error' event) when it is taken. */
export function listenOn(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** The kernel's range of ephemeral ports: the source ports of outgoing connections come from it. */
function ephemeralLow(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 0;
  } catch {
    return 0;
  }
}

/**
 * A port free now, for a server that will listen on it later (a child process, an IdP restarted on
 * its old port). Taken below the ephemeral range when there is room: a port the kernel handed out
 * by listen(0) can meanwhile become the source port of any outgoing connection (PostgreSQL, Redis,
 * another worker's), and the later listen then fails with EADDRINUSE (seen in a CI run).
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow();
  const from = Math.max(10_000, low - 12_000);
  for (let i = 0; low - from >= 1_000 && i < 50; i++) {
    const probe = createServer();
    const port = from + Math.floor(Math.random() * (low - from));
    const ok = await listenOn(probe, port).then(() => true, () => false);
    if (ok) {
      await new Promise((resolve) => probe.close(resolve));
      return port;
    }
  }
  const s = createServer();
  const port = await listenOn(s, 0);
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** A PostgreSQL URL whose search_path is a schema of its own (created now). */
export async function freshSchemaUrl(schema = `t_${Date.now()}_${Math.random().toString(36).slice(2, 8)}`): Promise<{ url: string; schema: string; drop(): Promise<void> }> {
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await admin.end();
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    schema,
    async drop() {
      const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    },
  };
}

/** Starts a whole IdP on 127.0.0.1 with the demo app and user, on the storage asked for. */
export async function startTestIdp(opts: TestIdpOptions = {}): Promise<TestIdp> {
  const port = opts.port ?? (await freePort());
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'idp-test-'));
  const configDir = mkdtempSync(path.join(os.tmpdir(), 'idp-config-'));
  mkdirSync(path.join(configDir, 'clients'));
  cpSync(path.resolve('config/demo'), path.join(configDir, 'demo'), { recursive: true });
  for (const c of opts.clients ?? []) writeFileSync(path.join(configDir, 'clients', `${String(c.client_id)}.json`), JSON.stringify(c));
  if (opts.agents) mkdirSync(path.join(configDir, 'agents'));
  for (const a of opts.agents ?? []) writeFileSync(path.join(configDir, 'agents', `${String(a.id)}.json`), JSON.stringify(a));
  const pgSchema = opts.storage === 'postgres' ? await freshSchemaUrl(opts.schema) : null;
  // The embedded default keeps its database in DATA_DIR/pg; a new one starts from the initialised copy.
  if (!pgSchema && !opts.env?.DATABASE_URL && !existsSync(path.join(dataDir, 'pg'))) await seedPglite(path.join(dataDir, 'pg'));
  const settings = loadSettings({
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER: `http://127.0.0.1:${port}`,
    DATA_DIR: dataDir,
    CONFIG_DIR: configDir,
    TEST_RP_SECRET,
    DEMO: 'true',
    ...(pgSchema ? { DATABASE_URL: pgSchema.url } : {}),
    ...((opts.redis ?? (opts.storage === 'postgres' ? 'real' : 'standin')) === 'real' ? { REDIS_URL: TEST_REDIS_URL } : {}),
    ...opts.env,
  });
  const logger = createLogger('silent');
  const redisPrefix = opts.redisPrefix ?? uniquePrefix('idp');
  const idp = await createIdp(settings, { logger, redisPrefix, ...opts.idp });
  // As src/main.ts serves it.
  const server = createIdpServer(idp.callback());
  await listenOn(server, port).catch(async (err: unknown) => {
    await idp.close();
    throw err;
  });
  const stop = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await idp.close();
  };
  return {
    url: settings.issuer, idp, server, settings, stop,
    async close() {
      await stop();
      rmSync(configDir, { recursive: true, force: true });
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
      if (pgSchema && !opts.schema) await pgSchema.drop();
    },
  };
}
