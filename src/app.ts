import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Koa from 'koa';
import mount from 'koa-mount';
import { createAccountStore, type AccountStore } from './accounts/store.js';
import { createAuditLog } from './audit/log.js';
import { loadClients, validateClients, type ClientRegistration } from './config/clients.js';
import { loadAgents } from './config/agents.js';
import { createAgentApi } from './agent-api/routes.js';
import { createAgentTransactionStore } from './agent-api/transactions.js';
import { ConfigError, type Settings } from './config/settings.js';
import { demoRelyingParty } from './demo/relying-party.js';
import { ensureDemoUser } from './demo/seed.js';
import { createCibaDoor } from './ciba/door.js';
import { createCsrf } from './http/csrf.js';
import { clientIp, errorEdge, pinOrigin, providerFastPath, securityHeaders } from './http/edge.js';
import { hostileInput } from './http/hostile.js';
import { projectRoot } from './http/paths.js';
import { staticFiles } from './http/static.js';
import { pwaRoutes } from './pwa/routes.js';
import { createViews, type Views } from './http/views.js';
import { localeMiddleware } from './i18n/index.js';
import { openGeoIp } from './challenge/context.js';
import { createRedisChallengeStore } from './challenge/redis-store.js';
import type { ChallengeStore } from './challenge/types.js';
import { createChallengeWaiters } from './challenge/waiters.js';
import { createSecretBox } from './crypto/secretbox.js';
import { createDeviceApi } from './device-api/routes.js';
import { createEnrollmentCodes } from './devices/enrollment-codes.js';
import { createRecoveryCodes } from './devices/recovery-codes.js';
import { createDeviceRegistry, type DeviceRegistry } from './devices/registry.js';
import { createDeviceService, type DeviceService } from './devices/service.js';
import { accountConsoleClient, selfServiceRoutes } from './selfservice/routes.js';
import { createThrottle } from './defences/throttle-store.js';
import { createPushFatigueStore } from './defences/push-fatigue-store.js';
import { secondFactorRoutes } from './interaction/second-factor/routes.js';
import { enrollmentPolicy } from './config/device-policy.js';
import { loadVapidKeys } from './keys/vapid-keys.js';
import { createDispatcher, createNoticeDispatcher, type OnGone } from './push/dispatch.js';
import { createPushEndpointGuard, type PushResolver } from './push/endpoint-guard.js';
import { pushTrustStore } from './push/trust-store.js';
import { createPushTransport } from './push/transport.js';
import { createWebPushNotifier } from './push/webpush-sender.js';
import type { InteractionDeps } from './interaction/deps.js';
import { interactionRoutes } from './interaction/routes.js';
import { upstreamRoutes } from './interaction/upstream.js';
import { createUpstreamDeps } from './upstream/index.js';
import { createFederatedLinks } from './upstream/links.js';
import { createResolutionPolicy, createSignIn, createSignInStateStore, pushTargetsOf, type SignIn } from './signin/index.js';
import { createContinuationStore } from './signin/continuation.js';
import { createRadiusDoor, loadRadiusClients, type RadiusDoor } from './radius/index.js';
import { loadProcessSecrets } from './keys/secrets.js';
import { loadSigningKeys, requireCertificate } from './keys/signing-keys.js';
import { createLogger, type Logger } from './log.js';
import { createProvider, type Provider } from './oidc/provider.js';
import { authorizeByPost } from './oidc/post-authorize.js';
import { adapterFactory } from './oidc/adapters.js';
import { createEndAccountSessions, createIdpSessions, sessionsEndedAt, type EndAccountSessions } from './oidc/sessions.js';
import { startSweeper } from './oidc/sweep.js';
import type { Db } from './storage/db.js';
import { takePgliteLock } from './storage/lock.js';
import { openDatabase } from './storage/open.js';
import { openRedis, type Redis } from './storage/redis.js';
import { createAppRegistry, type AppRegistry } from './apps/registry.js';
import { samlInternalClient } from './saml/internal-client.js';
import { lazySamlSigningKey } from './saml/keys.js';
import { samlRoutes } from './saml/routes.js';
import { loadServiceProviders } from './saml/sp-config.js';
import { createSamlStore } from './saml/store.js';

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
  /** Every relying app, OIDC client or SAML service provider, with its login policy. */
  apps: AppRegistry;
  devices: DeviceRegistry;
  deviceService: DeviceService;
  challenges: ChallengeStore;
  /** The transport-neutral sign-in core the front doors drive (the OIDC pages today). */
  signin: SignIn;
  /** Ends an account's sessions, grants and tokens (the CLI's `user sign-out` does the same). */
  endAccountSessions: EndAccountSessions;
  /** The RADIUS front door (docs/radius.md): main.ts listens when RADIUS_PORT is set. */
  radius: RadiusDoor;
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
  /** How push-service names resolve (tests inject one: they never reach a real push service). Default dns.lookup. */
  pushResolver?: PushResolver;
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
  const pushCa = pushTrustStore(settings.pushCa);
  // PostgreSQL is there so that several processes can serve; with the in-process Redis stand-in
  // each would keep its own challenges, rate limits and lockouts, and an attacker would simply
  // spread guesses over them (README.md, Security: rate limits split across processes).
  if (settings.databaseUrl && !settings.redisUrl) {
    throw new ConfigError('environment', 'REDIS_URL', 'required when DATABASE_URL is set: challenges, rate limits and lockouts must be shared by every IdP process (the in-process stand-in serves the embedded, single-process setup only)');
  }
  if (settings.jwksFile) await loadSigningKeys(null, settings.issuer, settings.jwksFile);
  const clients = [
    ...loadClients(path.join(settings.configDir, 'clients'), settings.issuer, settings.env),
    ...(settings.demo ? loadClients(path.join(settings.configDir, 'demo'), settings.issuer, settings.env) : []),
    accountConsoleClient(settings.issuer),
  ];
  // SAML service providers (config/saml/, docs/saml.md), each signing in through an internal OIDC client.
  const serviceProviders = loadServiceProviders(path.join(settings.configDir, 'saml'));
  clients.push(...serviceProviders.map((sp) => samlInternalClient(settings.issuer, sp)));
  const apps = createAppRegistry(clients, serviceProviders);
  // Gateways of the agent API (docs/agent-api.md); an id may not be an OIDC client's too.
  const agents = loadAgents(path.join(settings.configDir, 'agents'), settings.env,
    new Map(clients.map((c) => [c.metadata.client_id as string, c.file])));
  // RADIUS clients (config/radius/*.json) are checked whenever RADIUS is on, before anything opens.
  const radiusClients = settings.radiusPort === null ? [] : loadRadiusClients(path.join(settings.configDir, 'radius'), settings.env);
  // The embedded database belongs to one process: hold its lock while running (the CLI checks it).
  const releaseLock = !opts.db && !settings.databaseUrl ? takePgliteLock(settings.dataDir) : () => {};
  const db = opts.db ?? (await openDatabase({ databaseUrl: settings.databaseUrl, dataDir: settings.dataDir }));
  const redis = openRedis(settings.redisUrl, opts.redisPrefix ?? settings.redisPrefix, (err) => logger.warn({ err: err.message }, 'redis connection error (retrying)'));
  if (!settings.redisUrl) logger.warn('REDIS_URL is not set: using the in-process Redis stand-in (one IdP process only; challenges and short-lived tokens are lost at restart)');
  if (!settings.databaseUrl) logger.info({ dir: path.join(settings.dataDir, 'pg') }, 'DATABASE_URL is not set: using embedded PGlite');

  const secretBox = createSecretBox(secrets.kek, secrets.kek[0]!.id);
  const accounts = createAccountStore(db);
  const audit = createAuditLog(db, logger);
  const views = createViews(undefined, { productName: settings.productName, productLogo: settings.productLogo });
  const now = opts.now ?? Date.now;
  const devices = createDeviceRegistry(db);
  // OpenID CIBA (src/ciba/): oidc-provider's features.ciba, driving the sign-in core like the pages do.
  const ciba = createCibaDoor({
    accounts, clients, redis, secretBox, logger, now,
    pollIntervalSeconds: settings.cibaPollInterval, requestTtlSeconds: settings.pushChallengeTtl,
  });
  const links = createFederatedLinks(db);
  // A start that fails from here on (a key the KEK cannot open, a client oidc-provider refuses)
  // closes what it opened, so the process can exit with the message.
  const { provider, vapid } = await (async () => {
    const jwks = await loadSigningKeys(db, settings.issuer, settings.jwksFile, secretBox);
    if (clients.some((c) => c.upstream?.profile === 'entra')) requireCertificate(jwks, settings.jwksFile ?? 'keystore');
    const provider = createProvider({
      issuer: settings.issuer, jwks, cookieKeys: secrets.cookieKeys, clients, accounts, db, redis, views,
      // oidc-provider runs inside our app (koa-mount) and reads our ctx, pinned by pinOrigin/clientIp.
      trustProxy: false,
      accountHasDevices: (accountId) => devices.hasEverHad(accountId),
      sessionsEndedAt: (accountId) => sessionsEndedAt(db, accountId), session: settings.session, now, links,
      ciba: ciba.oidc,
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

  // The push step (docs/architecture.md, sign-in steps 3-9): devices, challenges in Redis, waiters, Web Push.
  const codes = createEnrollmentCodes(db, { now });
  const challenges = createRedisChallengeStore(redis, { now });
  const waiters = createChallengeWaiters(redis, challenges);
  // SSRF: endpoints are checked at enrollment, at PUT push-subscription and at every send (transport).
  const pushEndpoints = createPushEndpointGuard({ services: settings.pushServices, ...(opts.pushResolver ? { resolve: opts.pushResolver } : {}) });
  const pushTransport = createPushTransport({ guard: pushEndpoints, ...(pushCa ? { ca: pushCa } : {}) });
  const notifier = createWebPushNotifier({ vapid: { ...vapid, subject: settings.vapidSubject }, transport: pushTransport, logger });
  const fatigue = createPushFatigueStore(redis, settings.pushFatigue);
  const dispatch = createDispatcher({ notifier, issuer: settings.issuer, audit, logger, now });
  // The push sender is told where to send; a subscription the push service calls gone is marked dead.
  const onGone: OnGone = (deviceId, endpoint) => devices.markPushDead(deviceId, endpoint);
  const geoip = await openGeoIp(settings.geoipDb);
  // A new password, a disabled account or a revoked device ends the account's sessions and grants.
  const endAccountSessions = createEndAccountSessions(db, adapterFactory(db, redis, Date.now), now);
  const endSessionsOnRevoke = async (accountId: string) => { await endAccountSessions(accountId); };
  const recovery = createRecoveryCodes(db, { now });
  const deviceService = createDeviceService({ devices, codes, recovery, issuer: settings.issuer, audit, unlock: settings.deviceUnlock, onRevoked: endSessionsOnRevoke });

  const throttle = createThrottle(redis, now);
  // What any resolution does (fatigue, mute, audit), whoever resolves: the device API or a withdrawal.
  const onChallengeResolved = createResolutionPolicy({ fatigue, audit, muteMs: settings.pushFatigue.muteMs, now, hooks: [ciba.onResolved] });
  const signin = createSignIn({
    accounts, audit, throttle, states: createSignInStateStore(redis), devices, challenges, waiters, dispatch,
    secretBox, geoip, fatigue, recovery, resolution: onChallengeResolved, logger, now,
    challengeTtlMs: settings.pushChallengeTtl * 1000,
    longPollMs: opts.longPollMs ?? 25_000,
    // MFA-only clients (docs/entra.md): their upstream's keys, used hints, federated links.
    upstream: createUpstreamDeps(clients, redis, links, now),
  });
  const radius = createRadiusDoor({
    clients: radiusClients, signin, continuations: createContinuationStore(redis), challengeTtlSeconds: settings.pushChallengeTtl, logger, now,
  });
  ciba.connect({ provider, signin });
  const deps: InteractionDeps = {
    provider, accounts, views, audit, signin, now,
    csrf: createCsrf(secrets.cookieKeys[0]!),
    clients: new Map(clients.map((c) => [c.metadata.client_id as string, c])),
  };
  const deviceApi = createDeviceApi({
    db, devices, codes, challenges, redis, secretBox, audit, now, throttle,
    issuer: settings.issuer,
    vapidPublicKey: vapid.publicKey,
    maxDevicesPerAccount: settings.maxDevicesPerAccount,
    notifyDevices: createNoticeDispatcher({
      targets: async (accountId) => pushTargetsOf(await devices.listPushTargets(accountId)).targets, onGone, notifier, issuer: settings.issuer, logger, now,
    }),
    policy: async () => enrollmentPolicy(clients, settings),
    allowPushEndpoint: (endpoint) => pushEndpoints.check(endpoint).ok,
    log: logger,
    onDeviceRevoked: endSessionsOnRevoke,
    onResolved: onChallengeResolved,
  });

  const app = new Koa();
  // The same keys as oidc-provider's cookies, or interactionDetails() cannot read its signed cookie (oidc-provider's `cookies.keys`).
  app.keys = secrets.cookieKeys;
  // Koa never reads X-Forwarded-*: the client IP is clientIp's, the origin is ISSUER (pinOrigin).
  app.proxy = false;
  app.silent = true;
  app.use(localeMiddleware()); // the pages' language (src/i18n/), also for the error page
  app.use(errorEdge({ views, log: logger }));
  app.use(pinOrigin(settings.issuer));
  app.use(clientIp(settings.trustProxy));
  app.use(securityHeaders({ hsts: settings.issuer.startsWith('https:') }));
  app.use(hostileInput());
  app.use(authorizeByPost()); // Entra POSTs its authorize request (docs/entra.md)
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
    interactionRoutes(deps, [secondFactorRoutes, upstreamRoutes]),
    deviceApi,
    selfServiceRoutes({ issuer: settings.issuer, views, csrf: deps.csrf, accounts, devices: deviceService, idpSessions: createIdpSessions(provider, db), lifetime: settings.session, now, providerNow: Date.now }),
  ];
  routers.push(...samlRoutes({
    issuer: settings.issuer, sps: serviceProviders, store: createSamlStore(redis), accounts, audit, views, now,
    key: lazySamlSigningKey(db, secretBox, settings.issuer),
    idpSessions: createIdpSessions(provider, db), sessionMaxAgeSeconds: settings.session.maxAgeSeconds,
  }));
  if (settings.demo) routers.push(demoRelyingParty({ issuer: settings.issuer, clientId: 'demo-app', basePath: '/demo', views, appName: 'Demo App' }));
  for (const r of routers) app.use(r.routes()).use(r.allowedMethods({ throw: true }));
  // The agent API for gateways (docs/agent-api.md): a front door over the same sign-in core.
  app.use(createAgentApi({
    signin, accounts, agents, log: logger, transactions: createAgentTransactionStore(redis),
    transactionTtlSeconds: settings.pushChallengeTtl + 30,
  }).routes());
  app.use(providerApp);

  const demoUser = settings.demo ? await ensureDemoUser(accounts, settings.dataDir) : null;

  return {
    app, provider, settings, db, redis, accounts, views, logger, clients, apps, demoUser, devices, deviceService, challenges, signin, endAccountSessions, radius,
    async close() {
      await radius.close();
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
