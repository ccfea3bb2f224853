import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Koa from 'koa';
import mount from 'koa-mount';
import { createAccountStore, type AccountStore } from './accounts/store.js';
import { createAuditLog } from './audit/log.js';
import { loadClients, validateClients, type ClientRegistration } from './config/clients.js';
import { ConfigError, type Settings } from './config/settings.js';
import { demoRelyingParty } from './demo/relying-party.js';
import { ensureDemoUser } from './demo/seed.js';
import { createCsrf } from './http/csrf.js';
import { errorHandler, pinHost, providerFastPath, securityHeaders } from './http/edge.js';
import { projectRoot } from './http/paths.js';
import { staticFiles } from './http/static.js';
import { pwaRoutes } from './pwa/routes.js';
import { createViews, type Views } from './http/views.js';
import { openGeoIp } from './challenge/context.js';
import { createRedisChallengeStore } from './challenge/redis-store.js';
import type { ChallengeStore } from './challenge/types.js';
import { createChallengeWaiters } from './challenge/waiters.js';
import { createSecretBox } from './crypto/secretbox.js';
import { createDeviceApi } from './devices/device-api.js';
import { createEnrollmentCodes } from './devices/enrollment-codes.js';
import { createDeviceRegistry, type DeviceRegistry } from './devices/registry.js';
import { createDeviceService, type DeviceService } from './devices/service.js';
import { accountConsoleClient, selfServiceRoutes } from './selfservice/routes.js';
import { createThrottle } from './defences/throttle-store.js';
import { createPushFatigueStore } from './defences/push-fatigue-store.js';
import { secondFactorRoutes } from './interaction/second-factor/routes.js';
import { loadVapidKeys } from './keys/vapid-keys.js';
import { createDispatcher } from './push/dispatch.js';
import { createPushTransport } from './push/transport.js';
import { createWebPushNotifier } from './push/webpush-sender.js';
import type { InteractionDeps } from './interaction/deps.js';
import { interactionRoutes } from './interaction/routes.js';
import { createSignInStateStore } from './interaction/state.js';
import { loadProcessSecrets } from './keys/secrets.js';
import { loadSigningKeys } from './keys/signing-keys.js';
import { createLogger, type Logger } from './log.js';
import { createProvider, type Provider } from './oidc/provider.js';
import { startSweeper } from './oidc/sweep.js';
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
  devices: DeviceRegistry;
  deviceService: DeviceService;
  challenges: ChallengeStore;
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
  /** Extra CA certificates (PEM) trusted for push services (tests: the local push-service double's). */
  pushCa?: string;
  /** The clock (tests move it). */
  now?: () => number;
  /** How long a waiting page's status request is held open. Default 25 s. */
  longPollMs?: number;
}

/** How often expired rows of oidc_payloads are deleted (src/oidc/sweep.ts). */
const PAYLOAD_SWEEP_MS = 10 * 60_000;

/** Builds the whole IdP from settings: storage, keys, clients, oidc-provider and our routes. */
export async function createIdp(settings: Settings, opts: IdpOptions = {}): Promise<Idp> {
  const logger = opts.logger ?? createLogger(settings.logLevel);
  mkdirSync(settings.dataDir, { recursive: true });
  // Configuration first: a bad file stops the start before anything is opened.
  const secrets = loadProcessSecrets(settings);
  // PostgreSQL is there so that several processes can serve; with the in-process Redis stand-in
  // each would keep its own challenges, rate limits and lockouts, and an attacker would simply
  // spread guesses over them (audit item 8).
  if (settings.databaseUrl && !settings.redisUrl) {
    throw new ConfigError('environment', 'REDIS_URL', 'required when DATABASE_URL is set: challenges, rate limits and lockouts must be shared by every IdP process (the in-process stand-in serves the embedded, single-process setup only)');
  }
  if (settings.jwksFile) await loadSigningKeys(null, settings.issuer, settings.jwksFile);
  const clients = [
    ...loadClients(path.join(settings.configDir, 'clients'), settings.issuer, settings.env),
    ...(settings.demo ? loadClients(path.join(settings.configDir, 'demo'), settings.issuer, settings.env) : []),
    accountConsoleClient(settings.issuer),
  ];
  // The embedded database belongs to one process: hold its lock while running (the CLI checks it).
  const releaseLock = !opts.db && !settings.databaseUrl ? takePgliteLock(settings.dataDir) : () => {};
  const db = opts.db ?? (await openDatabase({ databaseUrl: settings.databaseUrl, dataDir: settings.dataDir }));
  const redis = openRedis(settings.redisUrl, opts.redisPrefix ?? settings.redisPrefix);
  if (!settings.redisUrl) logger.warn('REDIS_URL is not set: using the in-process Redis stand-in (one IdP process only; challenges and short-lived tokens are lost at restart)');
  if (!settings.databaseUrl) logger.info({ dir: path.join(settings.dataDir, 'pg') }, 'DATABASE_URL is not set: using embedded PGlite');

  const secretBox = createSecretBox(secrets.kek, secrets.kek[0]!.id);
  const accounts = createAccountStore(db);
  const audit = createAuditLog(db, logger);
  const views = createViews();
  // A start that fails from here on (a key the KEK cannot open, a client oidc-provider refuses)
  // closes what it opened, so the process can exit with the message.
  const { provider, vapid } = await (async () => {
    const jwks = await loadSigningKeys(db, settings.issuer, settings.jwksFile, secretBox);
    const provider = createProvider({
      issuer: settings.issuer, jwks, cookieKeys: secrets.cookieKeys, clients, accounts, db, redis, views, trustProxy: settings.trustProxy,
    });
    // oidc-provider checks a client only when it is first used; check every one now, with its rules.
    await validateClients(provider, clients);
    return { provider, vapid: await loadVapidKeys(db, secretBox) };
  })().catch(async (err: unknown) => {
    redis.disconnect();
    if (!opts.db) await db.close();
    releaseLock();
    throw err;
  });
  provider.on('server_error', (_ctx, err) => logger.error({ err }, 'oidc-provider server_error'));
  const sweeper = startSweeper(db, { intervalMs: PAYLOAD_SWEEP_MS, onError: (err) => logger.warn({ err }, 'sweeping expired oidc_payloads failed') });

  // The push step (DESIGN steps 3-9): devices, challenges in Redis, waiters, Web Push.
  const now = opts.now ?? Date.now;
  const devices = createDeviceRegistry(db);
  const codes = createEnrollmentCodes(db, { now });
  const challenges = createRedisChallengeStore(redis);
  const waiters = createChallengeWaiters(redis, challenges);
  const pushTransport = createPushTransport(opts.pushCa === undefined ? {} : { ca: opts.pushCa });
  const notifier = createWebPushNotifier({ vapid: { ...vapid, subject: settings.vapidSubject }, transport: pushTransport, logger });
  const fatigue = createPushFatigueStore(redis, settings.pushFatigue);
  const dispatch = createDispatcher({ devices, notifier, issuer: settings.issuer, audit, logger, now });
  const geoip = await openGeoIp(settings.geoipDb);
  const deviceService = createDeviceService({ devices, codes, issuer: settings.issuer, audit, unlock: settings.deviceUnlock });

  const deps: InteractionDeps = {
    provider, accounts, views, audit,
    csrf: createCsrf(secrets.cookieKeys[0]!),
    signins: createSignInStateStore(redis),
    throttle: createThrottle(redis, now),
    clients: new Map(clients.map((c) => [c.metadata.client_id as string, c])),
    secondFactor: {
      devices, challenges, waiters, dispatch, secretBox, geoip, redis, now, fatigue,
      challengeTtlMs: settings.pushChallengeTtl * 1000,
      longPollMs: opts.longPollMs ?? 25_000,
    },
  };
  const deviceApi = createDeviceApi({
    db, devices, codes, challenges, redis, secretBox, audit, now,
    issuer: settings.issuer,
    vapidPublicKey: vapid.publicKey,
    policy: async () => ({ numberMatching: true, unlock: settings.deviceUnlock, pollIntervalSeconds: settings.pollIntervalSeconds }),
    log: logger,
    // An approval is the user's own sign-in (it stops counting as fatigue); a report mutes pushes.
    onResolved: async (challenge, resolution) => {
      if (resolution.status === 'approved') await fatigue.forgive(challenge.accountId, challenge.id);
      if (resolution.reason === 'reported' && settings.pushFatigue.muteMs > 0) {
        const until = await fatigue.mute(challenge.accountId, now());
        await audit.record({ type: 'push.muted', accountId: challenge.accountId, clientId: challenge.clientId, detail: { until: new Date(until).toISOString(), challengeId: challenge.id } });
      }
    },
  });

  const app = new Koa();
  // The same keys as oidc-provider's cookies, or interactionDetails() cannot read its cookie (STACK.md).
  app.keys = secrets.cookieKeys;
  app.proxy = settings.trustProxy;
  app.silent = true;
  app.use(errorHandler(views, logger));
  app.use(pinHost(settings.issuer));
  app.use(securityHeaders({ hsts: settings.issuer.startsWith('https:') }));
  const providerApp = mount(provider as unknown as Koa);
  app.use(providerFastPath(providerApp));
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
  app.use(pwaRoutes());
  const routers = [
    interactionRoutes(deps, [secondFactorRoutes]),
    deviceApi,
    selfServiceRoutes({ issuer: settings.issuer, views, csrf: deps.csrf, accounts, devices: deviceService, now }),
  ];
  if (settings.demo) routers.push(demoRelyingParty({ issuer: settings.issuer, clientId: 'demo-app', basePath: '/demo', views, appName: 'Demo App' }));
  for (const r of routers) app.use(r.routes()).use(r.allowedMethods({ throw: true }));
  app.use(providerApp);

  const demoUser = settings.demo ? await ensureDemoUser(accounts, settings.dataDir) : null;

  return {
    app, provider, settings, db, redis, accounts, views, logger, clients, demoUser, devices, deviceService, challenges,
    async close() {
      await sweeper.stop();
      await waiters.close();
      await notifier.close();
      await pushTransport.close();
      redis.disconnect();
      if (!opts.db) await db.close();
      releaseLock();
    },
  };
}
