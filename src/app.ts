import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Koa from 'koa';
import mount from 'koa-mount';
import { createAccountStore, type AccountStore } from './accounts/store.js';
import { createAuditLog } from './audit/log.js';
import { loadClients, type ClientRegistration } from './config/clients.js';
import type { Settings } from './config/settings.js';
import { demoRelyingParty } from './demo/relying-party.js';
import { ensureDemoUser } from './demo/seed.js';
import { createCsrf } from './http/csrf.js';
import { errorHandler, pinHost, securityHeaders } from './http/edge.js';
import { projectRoot } from './http/paths.js';
import { staticFiles } from './http/static.js';
import { createViews, type Views } from './http/views.js';
import type { InteractionDeps } from './interaction/deps.js';
import { interactionRoutes } from './interaction/routes.js';
import { createSignInStateStore } from './interaction/state.js';
import { loadProcessSecrets } from './keys/secrets.js';
import { loadSigningKeys } from './keys/signing-keys.js';
import { createLogger, type Logger } from './log.js';
import { createProvider, type Provider } from './oidc/provider.js';
import type { Db } from './storage/db.js';
import { takePgliteLock } from './storage/lock.js';
import { openDatabase } from './storage/open.js';
import { openRedis, type Redis } from './storage/redis.js';

export interface Idp {
  app: Koa;
  provider: Provider;
  settings: Settings;
  db: Db;
  redis: Redis;
  accounts: AccountStore;
  views: Views;
  logger: Logger;
  clients: ClientRegistration[];
  /** Set when DEMO is on: the demo user's credentials, to print at start. */
  demoUser: { username: string; password: string } | null;
  close(): Promise<void>;
}

export interface IdpOptions {
  logger?: Logger;
  /** Namespace for every Redis key (tests give each IdP its own). */
  redisPrefix?: string;
  /** An already open database (tests share one); the IdP then does not close it. */
  db?: Db;
}

/** Builds the whole IdP from settings: storage, keys, clients, oidc-provider and our routes. */
export async function createIdp(settings: Settings, opts: IdpOptions = {}): Promise<Idp> {
  const logger = opts.logger ?? createLogger(settings.logLevel);
  mkdirSync(settings.dataDir, { recursive: true });
  // The embedded database belongs to one process: hold its lock while running (the CLI checks it).
  const releaseLock = !opts.db && !settings.databaseUrl ? takePgliteLock(settings.dataDir) : () => {};
  const db = opts.db ?? (await openDatabase({ databaseUrl: settings.databaseUrl, dataDir: settings.dataDir }));
  const redis = openRedis(settings.redisUrl, opts.redisPrefix ?? 'idp:');
  if (!settings.redisUrl) logger.warn('REDIS_URL is not set: using the in-process Redis stand-in (one IdP process only; challenges and short-lived tokens are lost at restart)');
  if (!settings.databaseUrl) logger.info({ dir: path.join(settings.dataDir, 'pg') }, 'DATABASE_URL is not set: using embedded PGlite');

  const secrets = loadProcessSecrets(settings);
  const jwks = await loadSigningKeys(db, settings.issuer);
  const clients = [
    ...loadClients(path.join(settings.configDir, 'clients'), settings.issuer, settings.env),
    ...(settings.demo ? loadClients(path.join(settings.configDir, 'demo'), settings.issuer, settings.env) : []),
  ];
  const accounts = createAccountStore(db);
  const audit = createAuditLog(db, logger);
  const views = createViews();
  const provider = createProvider({
    issuer: settings.issuer, jwks, cookieKeys: secrets.cookieKeys, clients, accounts, db, redis, views, trustProxy: settings.trustProxy,
  });
  provider.on('server_error', (_ctx, err) => logger.error({ err }, 'oidc-provider server_error'));

  const deps: InteractionDeps = {
    provider, accounts, views, audit,
    csrf: createCsrf(secrets.cookieKeys[0]!),
    signins: createSignInStateStore(redis),
    clients: new Map(clients.map((c) => [c.metadata.client_id as string, c])),
    secondFactor: {
      countActiveDevices: async (accountId) =>
        Number((await db.query<{ n: string }>("SELECT count(*) AS n FROM devices WHERE account_id = $1 AND status = 'active'", [accountId]))[0]?.n ?? 0),
    },
  };

  const app = new Koa();
  // The same keys as oidc-provider's cookies, or interactionDetails() cannot read its cookie (STACK.md).
  app.keys = secrets.cookieKeys;
  app.proxy = settings.trustProxy;
  app.silent = true;
  app.use(errorHandler(views, logger));
  app.use(pinHost(settings.issuer));
  app.use(securityHeaders({ hsts: settings.issuer.startsWith('https:') }));
  app.use(async (ctx, next) => {
    if (ctx.path === '/healthz') { ctx.body = { status: 'ok' }; return; }
    if (ctx.path === '/readyz') {
      await db.query('SELECT 1');
      await redis.ping();
      ctx.body = { status: 'ready' };
      return;
    }
    await next();
  });
  app.use(staticFiles('/static', path.join(projectRoot(), 'views', 'static')));
  const routers = [interactionRoutes(deps)];
  if (settings.demo) routers.push(demoRelyingParty({ issuer: settings.issuer, clientId: 'demo-app', basePath: '/demo', views, appName: 'Demo App' }));
  for (const r of routers) app.use(r.routes()).use(r.allowedMethods({ throw: true }));
  app.use(mount(provider as unknown as Koa));

  const demoUser = settings.demo ? await ensureDemoUser(accounts, settings.dataDir) : null;

  return {
    app, provider, settings, db, redis, accounts, views, logger, clients, demoUser,
    async close() {
      redis.disconnect();
      if (!opts.db) await db.close();
      releaseLock();
    },
  };
}
