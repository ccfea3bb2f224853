import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import Koa from 'koa';
import mount from 'koa-mount';
import { holdHeapTrim } from './observability/heap-trim.js';
import { createAccountStore, type AccountStore } from './accounts/store.js';
import { createAuditLog } from './audit/log.js';
import { loadClients, validateClients, type ClientRegistration } from './config/clients.js';
import { loadAgents } from './config/agents.js';
import { createAgentApi } from './agent-api/routes.js';
import { createAgentTransactionStore } from './agent-api/transactions.js';
import { ConfigError, type Settings } from './config/settings.js';
import { requireFolder } from './config/json-folder.js';
import { demoRelyingParty } from './demo/relying-party.js';
import { ensureDemoUser } from './demo/seed.js';
import { createCibaDoor } from './ciba/door.js';
import { createCsrf } from './http/csrf.js';
import { clientIp, errorEdge, pinOrigin, providerFastPath, securityHeaders } from './http/edge.js';
import { hostileInput } from './http/hostile.js';
import { resumeOnce } from './oidc/resume-once.js';
import { createLongPollRoute } from './http/long-poll.js';
import { browserBinding } from './interaction/browser-binding.js';
import { interactionWithState } from './interaction/load.js';
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
import { createLastUseWriter } from './devices/last-use.js';
import { createDeviceService, type DeviceService } from './devices/service.js';
import { webauthnLibrary } from './devices/webauthn.js';
import { accountConsoleClient, selfServiceRoutes } from './selfservice/routes.js';
import { createThrottle } from './defences/throttle-store.js';
import { createPushFatigueStore } from './defences/push-fatigue-store.js';
import { secondFactorRoutes } from './interaction/second-factor/routes.js';
import { enrollmentPolicy } from './config/device-policy.js';
import { loadVapidKeys } from './keys/vapid-keys.js';
import { requireListedKeyIds } from './keys/keystore.js';
import { recordIssuer } from './keys/issuer-record.js';
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
import { createResolutionPolicy, createSignIn, withdrawEndedPushes, createSignInStateStore, pushTargetsOf, type SignIn } from './signin/index.js';
import { createContinuationStore } from './signin/continuation.js';
import { createRadiusDoor, createReplayGuard, loadRadiusClients, type RadiusDoor } from './radius/index.js';
import { loadProcessSecrets } from './keys/secrets.js';
import { loadSigningKeys, readStoredSigningKeys, requireCertificate } from './keys/signing-keys.js';
import { startSigningKeyRefresh } from './keys/signing-refresh.js';
import { appOfSignInPage } from './interaction/back-to-app.js';
import { followSigningKeyAnnouncements, signingKeysChannel } from './keys/signing-announce.js';
import { refuseUnsafeConfiguration, vapidContactWarning } from './config/production.js';
import { createDrain } from './observability/drain.js';
import { healthRoutes } from './observability/health.js';
import { databaseWritable, evictionPolicy, redisWritable } from './observability/readiness-checks.js';
import { instrumentAudit, instrumentChallenges, instrumentDb, instrumentTransport, watchRedis } from './observability/instrument.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { metricsRoute } from './observability/metrics-route.js';
import { requestId } from './observability/request-id.js';
import { createLogger, type Logger } from './log.js';
import { createAccountCache } from './oidc/account-cache.js';
import { createProvider, type Provider } from './oidc/provider.js';
import { auditSsoAuthorizations } from './oidc/sso-audit.js';
import { authorizeByPost, logoutByPost } from './oidc/post-authorize.js';
import { adapterFactory } from './oidc/adapters.js';
import { createEndAccountSessions, createIdpSessions, sessionsEndedAt, type EndAccountSessions } from './oidc/sessions.js';
import { startSweeper } from './oidc/sweep.js';
import type { Db } from './storage/db.js';
import { takePgliteLock } from './storage/lock.js';
import { openDatabase } from './storage/open.js';
import { describeLoose, privateDataFolder } from './storage/private-folder.js';
import { openRedis, openSubscriber, type Redis } from './storage/redis.js';
import { redisTlsOptions, tlsProblem } from './storage/redis-tls.js';
import { createAppRegistry, type AppRegistry } from './apps/registry.js';
import { samlInternalClient } from './saml/internal-client.js';
import { lazySamlSigningKey } from './saml/keys.js';
import { samlRoutes } from './saml/routes.js';
import { loadServiceProviders } from './saml/sp-config.js';
import { createSamlStore } from './saml/store.js';
import { useLinearQuery } from './http/query.js';

export interface Idp {
  app: Koa;
  /**
   * The HTTP server's request handler (main.ts, the tests, the benchmarks): the waiting page's
   * long-poll held before Koa (src/http/long-poll.ts), everything else Koa's `app.callback()`.
   */
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
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
  demoUser: { username: string; password: string | null } | null;
  /** Prometheus metrics (src/observability/metrics.ts); main.ts may serve them on METRICS_PORT. */
  metrics: Metrics;
  /** Shutdown, step one: /readyz turns 503 and held long-polls are answered 503 + Retry-After (src/observability/drain.ts). */
  drain(): number;
  /** Re-reads the stored signing keys and follows their rotation schedule now (it also runs every minute). */
  refreshSigningKeys(): Promise<void>;
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
  /** Metrics to record into (default: a fresh registry per IdP). */
  metrics?: Metrics;
  /** How often the stored signing keys are re-read (rotation). Default 60 s. */
  signingKeyRefreshMs?: number;
  /** The clock the signing-key schedule is read by (tests move it alone). Default `now`. */
  signingKeyClock?: () => number;
}

/** How often expired rows of oidc_payloads are deleted (src/oidc/sweep.ts). */
const PAYLOAD_SWEEP_MS = 10 * 60_000;

/** Builds the whole IdP from settings: storage, keys, clients, oidc-provider and our routes. */
export async function createIdp(settings: Settings, opts: IdpOptions = {}): Promise<Idp> {
  const logger = opts.logger ?? createLogger(settings.logLevel);
  // Before anything is generated or opened: several instances, production (src/config/production.ts).
  refuseUnsafeConfiguration(settings);
  const vapidWarning = vapidContactWarning(settings);
  if (vapidWarning) logger.warn({ setting: 'VAPID_SUBJECT' }, vapidWarning);
  const metrics = opts.metrics ?? createMetrics();
  // Private to the IdP's account (red-team operator round); one left open by an earlier version is fixed, loudly.
  const loose = privateDataFolder(settings.dataDir);
  if (loose.length) logger.warn(describeLoose(loose), 'the data folder was open to other local users (it holds password hashes, tokens and secrets): group and other permissions removed (those counted in unfixed are not the IdP\'s to change: fix them); check who could read it');
  // Configuration first: a bad file stops the start before anything is opened.
  const secrets = loadProcessSecrets(settings);
  const pushCa = pushTrustStore(settings.pushCa);
  const redisTls = redisTlsOptions(settings);
  // PostgreSQL is there so that several processes can serve; with the in-process Redis stand-in
  // each would keep its own challenges, rate limits and lockouts, and an attacker would simply
  // spread guesses over them (README.md, Security: rate limits split across processes).
  if (settings.databaseUrl && !settings.redisUrl) {
    throw new ConfigError('environment', 'REDIS_URL', 'required when DATABASE_URL is set: challenges, rate limits and lockouts must be shared by every IdP process (the in-process stand-in serves the embedded, single-process setup only)');
  }
  if (settings.jwksFile) await loadSigningKeys(null, settings.issuer, settings.jwksFile);
  requireFolder(settings.configDir, 'CONFIG_DIR');
  const clientIds = new Map<string, string>();
  const clients = [
    ...loadClients(path.join(settings.configDir, 'clients'), settings.issuer, settings.env, clientIds),
    ...(settings.demo ? loadClients(path.join(settings.configDir, 'demo'), settings.issuer, settings.env, clientIds) : []),
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
  const db = instrumentDb(opts.db ?? (await openDatabase({ databaseUrl: settings.databaseUrl, dataDir: settings.dataDir })), metrics);
  // The listener keeps a failover (Sentinel ~3 s, Cluster ~8 s) from printing unhandled errors; watchRedis counts them.
  const redis = openRedis(settings.redisUrl, opts.redisPrefix ?? settings.redisPrefix, () => {}, redisTls ? { tls: redisTls } : {});
  if (settings.redisUrl) {
    void tlsProblem(settings.redisUrl, redisTls).then((problem) => {
      if (problem) logger.warn({ problem }, 'Redis refused the TLS handshake: is its CA in REDIS_CA (or Node\'s trust store), its name or IP in its certificate, and REDIS_CLIENT_CERT set if it asks for one? (docs/production.md)');
    });
    void evictionPolicy(redis).then((policy) => {
      if (policy !== null && policy !== 'noeviction') {
        logger.warn({ policy }, 'Redis maxmemory-policy is not noeviction: under memory pressure Redis may evict sign-in lockouts and other defence counters; set maxmemory-policy noeviction (docs/production.md)');
      }
    });
  }
  watchRedis(redis, metrics, (err) => logger.warn({ err: { message: err.message } }, 'redis error'));
  if (!settings.redisUrl) logger.warn('REDIS_URL is not set: using the in-process Redis stand-in (one IdP process only; challenges and short-lived tokens are lost at restart)');
  if (!settings.databaseUrl) logger.info({ dir: path.join(settings.dataDir, 'pg') }, 'DATABASE_URL is not set: using embedded PGlite');

  const secretBox = createSecretBox(secrets.kek, secrets.kek[0]!.id);
  const accounts = createAccountStore(db);
  // oidc-provider's findAccount cache, shared with the sign-in pages (oidc/account-cache.ts).
  const accountCache = createAccountCache((id) => accounts.findById(id));
  const audit = instrumentAudit(createAuditLog(db, logger), metrics);
  const views = createViews(undefined, { productName: settings.productName, productLogo: settings.productLogo });
  const now = opts.now ?? Date.now;
  const devices = createDeviceRegistry(db);
  const lastUse = createLastUseWriter(db, { onError: (err) => logger.warn({ err }, 'writing devices\' last use failed') });
  // OpenID CIBA (src/ciba/): oidc-provider's features.ciba, driving the sign-in core like the pages do.
  const ciba = createCibaDoor({
    accounts, clients, redis, secretBox, logger, now,
    pollIntervalSeconds: settings.cibaPollInterval, requestTtlSeconds: settings.pushChallengeTtl,
  });
  const links = createFederatedLinks(db);
  // A start that fails from here on (a key the KEK cannot open, a client oidc-provider refuses)
  // closes what it opened, so the process can exit with the message.
  const { provider, vapid, jwks } = await (async () => {
    const jwks = await loadSigningKeys(db, settings.issuer, settings.jwksFile, secretBox, (opts.signingKeyClock ?? now)());
    if (clients.some((c) => c.upstream?.profile === 'entra')) requireCertificate(jwks, settings.jwksFile ?? 'keystore');
    const provider = createProvider({
      issuer: settings.issuer, jwks, cookieKeys: secrets.cookieKeys, clients, accounts, db, redis, views, accountCache,
      // oidc-provider runs inside our app (koa-mount) and reads our ctx, pinned by pinOrigin/clientIp.
      trustProxy: false,
      accountHasDevices: (accountId) => devices.hasEverHad(accountId),
      sessionsEndedAt: (accountId) => sessionsEndedAt(db, accountId), session: settings.session, now, links,
      ciba: ciba.oidc,
    });
    // oidc-provider checks a client only when it is first used; check every one now, with its rules.
    await validateClients(provider, clients);
    const vapid = await loadVapidKeys(db, secretBox);
    await requireListedKeyIds(db, secrets.kek.map((k) => k.id));
    // After the stored keys (a wrong KEK is named by them): the issuer this database served under.
    const issuerWarning = await recordIssuer(db, secretBox, settings.issuer);
    if (issuerWarning) logger.warn({ issuer: settings.issuer }, issuerWarning);
    return { provider, jwks, vapid };
  })().catch(async (err: unknown) => {
    redis.disconnect();
    if (!opts.db) await db.close();
    releaseLock();
    throw err;
  });
  provider.on('server_error', (_ctx, err) => logger.error({ err }, 'oidc-provider server_error'));
  auditSsoAuthorizations(provider, audit); // an app entered by single sign-on is audited too (src/oidc/sso-audit.ts)
  // Signing-key rotation (src/keys/signing-rotation.ts): every process follows the stored schedule.
  const signingKeys = settings.jwksFile ? null : startSigningKeyRefresh({
    provider, current: jwks, now: opts.signingKeyClock ?? now, intervalMs: opts.signingKeyRefreshMs ?? 60_000,
    load: () => readStoredSigningKeys(db, settings.issuer, secretBox),
    onError: (err) => logger.warn({ err }, 'reading the stored signing keys failed'),
    onChange: (plan) => logger.info({ kids: plan.keys.map((k) => k.kid) }, 'signing keys changed (rotation)'),
  });
  const sweeper = startSweeper(db, { intervalMs: PAYLOAD_SWEEP_MS, auditRetentionDays: settings.auditRetentionDays, onError: (err) => logger.warn({ err }, 'sweeping expired oidc_payloads or old audit records failed') });

  // The push step (docs/architecture.md, sign-in steps 3-9): devices, challenges in Redis, waiters, Web Push.
  const codes = createEnrollmentCodes(db, { now });
  const storedChallenges = createRedisChallengeStore(redis, { now });
  const challenges = instrumentChallenges(storedChallenges, metrics, now);
  // One connection listens for the process (src/storage/redis.ts openSubscriber): challenge resolutions and announced key rotations.
  const subscriber = openSubscriber(redis);
  const waiters = createChallengeWaiters(redis, storedChallenges, { subscriber });
  const unfollowKeys = signingKeys ? followSigningKeyAnnouncements(subscriber, signingKeysChannel(redis), signingKeys.refresh) : async () => {};
  // SSRF: endpoints are checked at enrollment, at PUT push-subscription and at every send (transport).
  const pushEndpoints = createPushEndpointGuard({ services: settings.pushServices, ...(opts.pushResolver ? { resolve: opts.pushResolver } : {}) });
  const pushTransport = instrumentTransport(createPushTransport({ guard: pushEndpoints, ...(pushCa ? { ca: pushCa } : {}) }), metrics);
  const notifier = createWebPushNotifier({ vapid: { ...vapid, subject: settings.vapidSubject }, transport: pushTransport, logger });
  const fatigue = createPushFatigueStore(redis, settings.pushFatigue);
  const dispatch = createDispatcher({ notifier, issuer: settings.issuer, audit, logger, now });
  // The push sender is told where to send; a subscription the push service calls gone is marked dead.
  const onGone: OnGone = (deviceId, endpoint) => devices.markPushDead(deviceId, endpoint);
  const geoip = await openGeoIp(settings.geoipDb).catch((err: unknown) => {
    throw new ConfigError('environment', 'GEOIP_DB', `${settings.geoipDb}: ${(err as Error).message}`);
  });
  // A new password, a disabled account or a revoked device ends the account's sessions and grants.
  // The pushes of the sign-ins it ends are withdrawn as a "Send again" withdraws one (the resolution policy is defined below).
  const endAccountSessions = createEndAccountSessions(db, adapterFactory(db, redis, Date.now), now,
    (accountId, endedAt) => withdrawEndedPushes({ challenges, resolution: onChallengeResolved, now }, accountId, endedAt));
  const endSessionsOnRevoke = async (accountId: string, _deviceId?: string, keepDevice?: string) => {
    const ended = await endAccountSessions(accountId, keepDevice ? { keepDevice } : {});
    for (const deviceId of ended.pendingDevices) await audit.record({ type: 'device.revoked', accountId, detail: { deviceId, by: 'sessions_ended' } });
  };
  const recovery = createRecoveryCodes(db, { now });
  const deviceService = createDeviceService({ devices, db, now, issuer: settings.issuer, audit, unlock: settings.deviceUnlock, onRevoked: endSessionsOnRevoke });
  // Under the WebAuthn unlock every enrollment and approval needs the library: loaded now, in the
  // background, so that the first of them does not wait for its import (about 0.3 s).
  if (settings.deviceUnlock === 'webauthn') webauthnLibrary().catch(() => {});

  const throttle = createThrottle(redis, now);
  // What any resolution does (fatigue, mute, audit), whoever resolves: the device API or a withdrawal.
  const onChallengeResolved = createResolutionPolicy({ fatigue, audit, muteMs: settings.pushFatigue.muteMs, now, hooks: [ciba.onResolved] });
  const signin = createSignIn({
    accounts, audit, throttle, states: createSignInStateStore(redis), devices, challenges, waiters, dispatch,
    secretBox, geoip, fatigue, recovery, resolution: onChallengeResolved, logger, now,
    rememberAccount: (account) => accountCache.remember(account),
    challengeTtlMs: settings.pushChallengeTtl * 1000,
    longPollMs: opts.longPollMs ?? 25_000,
    // MFA-only clients (docs/entra.md): their upstream's keys, used hints, federated links.
    upstream: createUpstreamDeps(clients, redis, links, now),
  });
  const radius = createRadiusDoor({
    clients: radiusClients, signin, continuations: createContinuationStore(redis), replays: createReplayGuard(redis), challengeTtlSeconds: settings.pushChallengeTtl, logger, now,
  });
  ciba.connect({ provider, signin });
  const deps: InteractionDeps = {
    provider, accounts, views, audit, signin, now, apps,
    csrf: createCsrf(secrets.cookieKeys),
    clients: new Map(clients.map((c) => [c.metadata.client_id as string, c])),
  };
  const deviceApi = createDeviceApi({
    db, devices, lastUse, codes, challenges, redis, secretBox, audit, now, throttle,
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
    pushPausedUntil: async (accountId, at) => (await fatigue.state(accountId, at)).mutedUntil,
  });

  const app = new Koa();
  useLinearQuery(app); // Koa's ctx.query parser is quadratic in repeated names (src/http/query.ts)
  // The same keys as oidc-provider's cookies, or interactionDetails() cannot read its signed cookie (oidc-provider's `cookies.keys`).
  app.keys = secrets.cookieKeys;
  // Koa never reads X-Forwarded-*: the client IP is clientIp's, the origin is ISSUER (pinOrigin).
  app.proxy = false;
  app.silent = true;
  const drain = createDrain();
  app.use(requestId(logger));
  app.use(drain.middleware);
  app.use(localeMiddleware()); // the pages' language (src/i18n/), also for the error page
  // A sign-in's error page leads back to its app, also where no handler named it (src/interaction/back-to-app.ts).
  app.use(errorEdge({ views, log: logger, appFor: (ctx) => appOfSignInPage(ctx, { provider }) }));
  app.use(pinOrigin(settings.issuer));
  app.use(clientIp(settings.trustProxy));
  app.use(securityHeaders({ hsts: settings.issuer.startsWith('https:') }));
  app.use(hostileInput());
  app.use(authorizeByPost()); // Entra POSTs its authorize request (docs/entra.md)
  app.use(logoutByPost()); // RP-Initiated Logout 1.0 section 2: GET and POST
  const providerApp = mount(provider as unknown as Koa);
  app.use(resumeOnce(redis, (accountId) => sessionsEndedAt(db, accountId), (ctx) => ctx.cookies.get(provider.cookieName('resume'), { signed: true }))); // one finished sign-in, one code, however often its browser loads the resume at once
  app.use(providerFastPath(providerApp));
  app.use(healthRoutes({
    checks: [{ name: 'database', check: () => databaseWritable(db) }, { name: 'redis', check: () => redisWritable(redis) }],
    draining: () => drain.draining,
  }));
  app.use(metricsRoute(metrics, settings.metricsToken));
  app.use(staticFiles('/static', path.join(projectRoot(), 'views', 'static')));
  app.use(pwaRoutes());
  const routers = [
    interactionRoutes(deps, [secondFactorRoutes, upstreamRoutes]),
    deviceApi,
    selfServiceRoutes({ issuer: settings.issuer, views, csrf: deps.csrf, accounts, devices: deviceService, idpSessions: createIdpSessions(provider, db), lifetime: settings.session, firstDevice: settings.firstDevice, now, providerNow: Date.now }),
  ];
  routers.push(...samlRoutes({
    issuer: settings.issuer, sps: serviceProviders, store: createSamlStore(redis), accounts, audit, views, now,
    key: lazySamlSigningKey(db, secretBox, settings.issuer),
    idpSessions: createIdpSessions(provider, db), sessionMaxAgeSeconds: settings.session.maxAgeSeconds,
  }));
  if (settings.demo) routers.push(demoRelyingParty({ issuer: settings.issuer, clientId: 'demo-app', basePath: '/demo', views, appName: 'Demo App' }));
  // A method a path does not take: its 405 and Allow, which the error edge answers as every refusal.
  for (const r of routers) app.use(r.routes()).use(r.allowedMethods());
  // The agent API for gateways (docs/agent-api.md): a front door over the same sign-in core.
  app.use(createAgentApi({
    signin, accounts, agents, log: logger, transactions: createAgentTransactionStore(redis),
    transactionTtlSeconds: settings.pushChallengeTtl + 30,
  }).routes());
  app.use(providerApp);

  // The waiting page's long-poll, held before Koa once it is checked (issue 15 item 4).
  const binding = browserBinding(settings.issuer);
  const longPoll = createLongPollRoute({
    interaction: (req, res, uid) => interactionWithState({ provider, signin }, req, res, uid),
    startedHere: (req, params) => binding.startedHereRaw(req.headers.cookie, params),
    signin,
    hold: (id, ms, listener, readAt) => waiters.hold(id, ms, listener, readAt),
    draining: () => drain.draining,
    retryAfter: drain.retryAfter,
    hsts: settings.issuer.startsWith('https:'),
    logger,
    now,
  });

  const demoUser = settings.demo ? await ensureDemoUser({ accounts, db, box: secretBox, dataDir: settings.dataDir }) : null;
  // The C heap's free pages back to the system while this IdP runs (src/observability/heap-trim.ts).
  const releaseTrim = holdHeapTrim(settings.memoryTrimInterval * 1000);

  return {
    app, provider, settings, db, redis, accounts, views, logger, clients, apps, demoUser, devices, deviceService, challenges, signin, endAccountSessions, radius,
    metrics,
    callback: () => longPoll.handler(app.callback()),
    // Koa's first: from then on new polls are Koa's, which answers them 503 at once.
    drain: () => drain.drain() + longPoll.drain(),
    refreshSigningKeys: async () => { await signingKeys?.refresh(); },
    async close() {
      releaseTrim();
      signingKeys?.stop();
      await radius.close();
      await sweeper.stop();
      await waiters.close();
      await unfollowKeys();
      subscriber.disconnect();
      await notifier.close();
      await pushTransport.close();
      await lastUse.close();
      await audit.close();
      redis.disconnect();
      if (!opts.db) await db.close();
      releaseLock();
    },
  };
}
