import { createAccountCache, type AccountCache } from './account-cache.js';
import Provider, { errors, interactionPolicy, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { DEFAULT_POLICY, type ClientRegistration, type LoginPolicy } from '../config/clients.js';
import type { AccountStore } from '../accounts/store.js';
import type { CibaProviderParts } from '../ciba/door.js';
import { PHONE_ONLY_ACR } from '../signin/amr.js';
import type { Views } from '../http/views.js';
import type { SigningJwks } from '../keys/signing-keys.js';
import type { Db } from '../storage/db.js';
import type { Redis } from '../storage/redis.js';
import { adapterFactory } from './adapters.js';
import { useAtomicReplayDetection } from './replay-detection.js';
import { withRefreshGrantPrefetch } from './refresh-prefetch.js';
import { withGrantBesideSession } from './grant-beside-session.js';
import { newGrantId, ssoGrantIds } from './sso-grant-claim.js';
import { codeSignIn, withCodeGrantPrefetch } from './code-prefetch.js';
import { withInteractionHandoff } from './interaction-handoff.js';
import { renamedInFormPost, renamedInLocation } from './authorization-error-code.js';
import { canonicalUrl, notificationFetch } from '../ciba/notify-fetch.js';
import { firstFactorEnded } from '../signin/finish.js';
import { EXTERNAL_SIGNING, providerSigningKeys } from './fast-signing.js';
import { accountClaims } from './claims.js';
import type { FederatedLinks } from '../upstream/links.js';
import { ENTRA_ACRS } from './upstream-acr.js';
import { browserBinding } from '../interaction/browser-binding.js';
import { appLinkOf, appOfSignInPage, type AppLink } from '../interaction/back-to-app.js';
import { t } from '../i18n/index.js';
import { voidHeldResults } from './held-results.js';
import { markUnmatchedPush, pushMatchOf } from './unmatched-push.js';
import { acceptUpstreamHints, exemptFromHintCheck, upstreamLoginCheck, upstreamPairwiseIdentifier } from './upstream-client.js';
import { acrClaimOfParam, acrForApp, essentialAcrUnmet, requestedAcrs, sessionEndedBeforeItsSecond, sessionEndedSince, sessionSatisfies, sessionTooOld, sessionTtlSeconds, type AcrClaimRequest, type SessionLifetime } from './session-policy.js';
import { errorPage, providerOutageAnswer } from '../http/edge.js';
import { AppError, isStorageOutage, technical } from '../http/errors.js';
import providerStorage from 'oidc-provider/lib/helpers/als.js';
import { carryProviderContext, type ProviderStorage } from '../observability/request-context.js';

/** oidc-provider's routes a browser is sent to: their errors are a page; every other route's are JSON. */
const BROWSER_ROUTES = new Set(['authorization', 'resume', 'end_session', 'end_session_confirm', 'end_session_success', 'code_verification', 'device_resume']);

export interface ProviderDeps {
  issuer: string;
  jwks: SigningJwks;
  cookieKeys: string[];
  clients: ClientRegistration[];
  accounts: AccountStore;
  db: Db;
  redis: Redis;
  views: Views;
  trustProxy: boolean;
  /** Whether the account has any device row, active or revoked (it then never signs in with the password alone). */
  accountHasDevices: (accountId: string) => Promise<boolean>;
  /** When the account's sessions were last ended (ms), or null. */
  sessionsEndedAt: (accountId: string) => Promise<number | null>;
  /** SESSION_MAX_AGE and SESSION_IDLE_TIMEOUT. */
  session: SessionLifetime;
  /** The clock (tests move it). */
  now?: () => number;
  /** OpenID CIBA (src/ciba/door.ts): features.ciba and what it adds; absent, CIBA is off. */
  ciba?: CibaProviderParts;
  /** Federated-identity links (MFA-only clients, docs/entra.md). */
  links?: FederatedLinks;
  /** findAccount's per-process cache (app.ts shares it with the sign-in pages); absent, one of its own. */
  accountCache?: AccountCache;
}

const DAY = 24 * 3600;
/** OpenID Connect Unmet Authentication Requirements 1.0 (oidc-provider has it; its types do not). */
const { UnmetAuthenticationRequirements } = errors as unknown as { UnmetAuthenticationRequirements: new (description: string) => Error };
const ACCOUNT_CACHE_MS = 5000;

/** The oidc-provider instance: what it offers, where it stores, and which of our pages it shows. */
export function createProvider(deps: ProviderDeps): Provider {
  // Provider.ctx rides in the process's one AsyncLocalStorage (src/observability/request-context.ts).
  carryProviderContext(providerStorage as unknown as ProviderStorage);
  const byId = new Map(deps.clients.map((c) => [c.metadata.client_id as string, c]));
  const anyVerifiedPush = deps.clients.some((c) => c.login.verifiedPush === true);
  const acrValues = [...new Set([
    ...deps.clients.flatMap((c) => [c.login.acr.mfa, c.login.acr.password]),
    ...(deps.ciba ? [PHONE_ONLY_ACR] : []),
    // Entra's method-kind acr values, which an Entra client's answer carries (upstream-acr.ts).
    ...(deps.clients.some((c) => c.upstream?.profile === 'entra') ? ENTRA_ACRS.filter((a) => a.includes('possession')) : []),
  ])];
  // oidc-provider dates its artefacts by the system clock; the adapters must agree with it.
  // A refresh grant reads its refresh token and its grant in one statement (refresh-prefetch.ts);
  // a code exchange its grant and its session (code-prefetch.ts).
  // Keyed as oidc-provider fetches them (red-team: "http://10.0.0.5:8080", no path, missed the map).
  const jwksUris = new Map(deps.clients.flatMap((c) => (typeof c.metadata.jwks_uri === 'string' ? [[canonicalUrl(c.metadata.jwks_uri), canonicalUrl(c.metadata.jwks_uri)] as const] : [])));
  const current = () => Provider.ctx;
  // Requests whose save of the browser's session found it ended (adapters.ts): they must not set
  // the session cookie back to its id (below).
  const endedSaves = new WeakSet<object>();
  const onEndedSave = () => { const ctx = current(); if (ctx) endedSaves.add(ctx); };
  // An interaction read with something else the request needed is not read again (interaction-handoff.ts).
  // A grant saved in a request is written with that request's session save (grant-beside-session.ts).
  const grantWrites = withGrantBesideSession(adapterFactory(deps.db, deps.redis, Date.now, onEndedSave), deps.db, current, Date.now);
  const adapter = withInteractionHandoff(withCodeGrantPrefetch(withRefreshGrantPrefetch(grantWrites.adapters, deps.db, current), deps.db, current),
    () => (current() as { req?: object } | undefined)?.req);
  const claimSsoGrant = ssoGrantIds(deps.redis);
  /**
   * A first-party app's new grant. On a single sign-on load (no interaction result: not a sign-in's
   * resume, which its claim already makes one at a time) the loads of this session and app running
   * beside it make the same grant (sso-grant-claim.ts): the session names one grant per app.
   */
  const newFirstPartyGrant = async (ctx: KoaContextWithOIDC, clientId: string, accountId: string, staleGrantId: string | undefined) => {
    const { Grant } = ctx.oidc.provider;
    const sessionUid = ctx.oidc.session?.uid;
    if (ctx.oidc.result || !sessionUid) return new Grant({ clientId, accountId });
    const proposed = newGrantId();
    const jti = await claimSsoGrant({ sessionUid, accountId, clientId, ...(staleGrantId ? { staleGrantId } : {}) }, proposed);
    const first = jti === proposed ? undefined : await Grant.find(jti);
    if (first?.accountId === accountId && first.clientId === clientId) return first;
    return new Grant({ jti, clientId, accountId } as ConstructorParameters<typeof Grant>[0]);
  };
  const noLinks: FederatedLinks = { find: async () => null, link: async () => false, unlink: async () => false, listByAccount: async () => [] };
  const links = deps.links ?? noLinks;
  const secure = deps.issuer.startsWith('https:');
  const binding = browserBinding(deps.issuer);
  const cookie = { httpOnly: true, sameSite: 'lax' as const, signed: true, secure };

  // Every token request looks the account up (a disabled account must stop refreshing). A 5-second
  // cache per process saves that SQL round trip on busy token endpoints (bench/token-endpoint.ts);
  // a disable takes effect everywhere within 5 s.
  const accountCache = deps.accountCache ?? createAccountCache((id) => deps.accounts.findById(id), ACCOUNT_CACHE_MS);
  const findAccountCached = (sub: string) => accountCache.find(sub);

  // Asks whether the account has had a device only where the answer matters (a password-only app, a token without mfa).
  const refreshStillSatisfies = async (amr: string[] | undefined, policy: LoginPolicy, accountId: string) =>
    amr?.includes('mfa') || sessionSatisfies({
      amr, policy, requestedAcrs: [],
      accountHasDevices: policy.noDevice === 'password-only' ? await deps.accountHasDevices(accountId) : true,
    });

  // A code's exchange reads the end fresh: with the code (code-prefetch.ts), or by itself for a code
  // not bound to a session (offline_access); a code a fresh sign-in made is compared to the
  // millisecond by its first factor (a sign-in just after an end keeps its code), one from SSO by
  // its session's whole-second sign-in time, as the login check does. A refresh token takes the
  // cached account's (at most ACCOUNT_CACHE_MS old: the end deleted every refresh token that
  // existed at it, so this is a second line) and counts a sign-in in the end's second as after it.
  const signInEnded = async (ctx: object, sub: string, token: { kind: string; authTime?: unknown }, account: { sessionsEndedAt?: Date | null }) => {
    if (typeof token.authTime !== 'number') return false;
    if (token.kind !== 'AuthorizationCode') return sessionEndedBeforeItsSecond(token.authTime, account.sessionsEndedAt?.getTime() ?? null);
    const known = codeSignIn(ctx, sub);
    const ended = known?.sessionsEndedAt !== undefined ? known.sessionsEndedAt : await deps.sessionsEndedAt(sub);
    return known?.firstFactorAt !== undefined ? firstFactorEnded(known.firstFactorAt, ended === null ? null : new Date(ended)) : sessionEndedSince(token.authTime, ended);
  };

  const nowSeconds = () => Math.floor((deps.now ?? Date.now)() / 1000);

  // An ID token the authorization endpoint hands out itself (response_type id_token, `code
  // id_token`, Entra's answer) has no exchange to check the end of sessions at: the account is read
  // once more as the token is made, after everything else the resume did (red-team: a disable or a
  // sign-out landing after the resume's check, held-results.ts, still sent Entra an ID token).
  const refuseEndedBeforeSigning = async (ctx: KoaContextWithOIDC, sub: string) => {
    const fresh = await deps.accounts.findById(sub);
    if (fresh) accountCache.remember(fresh);
    if (!fresh || fresh.disabled) throw new errors.AccessDenied('the account is disabled');
    const firstFactorAt = (ctx.oidc.result?.login as { firstFactorAt?: unknown } | undefined)?.firstFactorAt;
    const ended = typeof firstFactorAt === 'number'
      ? firstFactorEnded(firstFactorAt, fresh.sessionsEndedAt ?? null)
      : sessionEndedSince(ctx.oidc.session?.loginTs, fresh.sessionsEndedAt?.getTime() ?? null);
    if (ended) throw new errors.LoginRequired('the account\'s sessions were ended after this sign-in');
  };

  // oidc-provider's login prompt asks for a sign-in only when there is no session (or max_age,
  // an id_token_hint, an essential acr asks). Ours also asks when the session no longer counts
  // for this app, on every authorization, SSO included.
  const policy = interactionPolicy.base();
  const login = policy.get('login')!;
  const { Check } = interactionPolicy;
  login.checks.add(new Check('account_unavailable', 'the signed-in account can no longer sign in', 'login_required',
    // findAccount answers nothing for a disabled or deleted account: a new sign-in (which refuses it),
    // where oidc-provider would go on to the consent checks without a grant and answer 500.
    (ctx) => Boolean(ctx.oidc.session?.accountId && !ctx.oidc.account)), 2);
  login.checks.add(new Check('session_expired', 'the sign-in session is older than SESSION_MAX_AGE', 'login_required',
    (ctx) => Boolean(ctx.oidc.session?.accountId && sessionTooOld(ctx.oidc.session.loginTs, nowSeconds(), deps.session))));
  login.checks.add(new Check('session_ended', 'the account\'s sessions were ended after this sign-in', 'login_required', async (ctx) => {
    const { session } = ctx.oidc;
    // A sign-in just finished for this request was checked at its finish, and again at its resume when held (held-results.ts).
    if (!session?.accountId || ctx.oidc.result?.login) return false;
    return sessionEndedSince(session.loginTs, await deps.sessionsEndedAt(session.accountId));
  }));
  login.checks.add(new Check('factors_insufficient', 'the session does not hold the factors this app requires', 'login_required', async (ctx) => {
    const { session, client, account } = ctx.oidc;
    if (!session?.accountId || !account || !client) return false;
    // MFA-only clients: upstream_first_factor (below) holds their sign-ins to their own rule.
    if (byId.get(client.clientId)?.upstream) return false;
    // A sign-in just finished for this very request was held to the app's policy by the sign-in
    // itself; an acr it could not reach is answered with the acr it got (acr_values are voluntary).
    const fresh = Boolean(ctx.oidc.result?.login);
    const claims = (ctx.oidc as unknown as { claims?: { id_token?: { acr?: AcrClaimRequest } } }).claims;
    const ok = sessionSatisfies({
      amr: session.amr,
      policy: byId.get(client.clientId)?.login ?? DEFAULT_POLICY,
      // Not asked of a session with both factors: sessionSatisfies does not read it then (one SQL statement per sign-in).
      accountHasDevices: session.amr?.includes('mfa') ? true : await deps.accountHasDevices(session.accountId),
      requestedAcrs: fresh ? [] : requestedAcrs(ctx.oidc.params?.acr_values, claims?.id_token?.acr),
    });
    if (ok) {
      // An app that wants number matching does not take, by single sign-on, a session whose push
      // matched no number; one that wants Verified Push, a session whose number was picked among
      // choices (red-team: a 1-in-3 pick at a lax app opened the Verified Push app by prompt=none).
      const policy = byId.get(client.clientId)?.login ?? DEFAULT_POLICY;
      if (fresh || !(policy.numberMatching || policy.verifiedPush) || !session.amr?.includes('swk')) return false;
      const match = await pushMatchOf(deps.redis, session.accountId, session.loginTs);
      return match === 'none' || (match === 'picked' && policy.verifiedPush === true);
    }
    if (fresh) throw new errors.AccessDenied('this sign-in does not meet the sign-in policy of this app');
    return true;
  }));
  // OIDC Core 5.5.1.1: an essential acr a sign-in just finished could not reach is a failed sign-in,
  // answered to the app (red-team: oidc-provider's essential_acr check asked for a sign-in again, and
  // the browser went round the login page for ever; an account without a phone can never reach mfa).
  // An SSO session that does not reach it is asked to sign in again by that check, as before.
  login.checks.add(new Check('essential_acr_unmet', 'the sign-in could not reach the essential acr asked for', 'login_required', (ctx) => {
    const { session, client } = ctx.oidc;
    if (!ctx.oidc.result?.login || !session?.accountId || !client || byId.get(client.clientId)?.upstream) return false;
    const claims = (ctx.oidc as unknown as { claims?: { id_token?: { acr?: AcrClaimRequest } } }).claims;
    const acr = ctx.oidc.acr as string | undefined;
    if (!essentialAcrUnmet(claims?.id_token?.acr, acr) && !essentialAcrUnmet(acrClaimOfParam(ctx.oidc.params?.claims), acr)) return false;
    throw new UnmetAuthenticationRequirements(`the sign-in reached ${String(acr)}, not the essential acr asked for`);
  }));
  login.checks.add(upstreamLoginCheck(byId, links));
  exemptFromHintCheck(login as never, byId);

  const configuration: Configuration = {
    clients: deps.clients.map((c) => c.metadata) as unknown as Configuration['clients'],
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      id_token_signed_response_alg: 'RS256',
    },
    adapter: (deps.ciba ? deps.ciba.adapter(adapter) : adapter) as unknown as Configuration['adapter'],
    // oidc-provider fetches a private_key_jwt app's jwks_uri (and CIBA's pings) through a guard
    // that refuses special-use addresses; an app the operator registered on this host or network by
    // its address (http://127.0.0.1/..., http://10.0.0.5/...) is reached (red-team: every assertion
    // of such an app was invalid_client, the keys never fetched; jest runs without the guard, so
    // only a spawned process showed it).
    fetch: notificationFetch(jwksUris, (deps.ciba?.fetch ?? fetch) as typeof fetch) as unknown as NonNullable<Configuration['fetch']>,
    // Signed in place with node:crypto, not through WebCrypto (fast-signing.ts).
    jwks: providerSigningKeys(deps.jwks) as Configuration['jwks'],
    // Behind https the SSO cookie (Path=/) is __Host- prefixed: a sibling host (wiki.corp.example next
    // to idp.corp.example) cannot plant its own signed session with Domain=corp.example, which would
    // sign the user in as someone else (red-team). The path-bound interaction cookies cannot be
    // __Host- (it needs Path=/): __Secure-, never set by a plain-http page.
    cookies: {
      keys: deps.cookieKeys, long: cookie, short: cookie,
      ...(secure ? { names: { session: '__Host-session', interaction: '__Secure-interaction', resume: '__Secure-interaction_resume' } } : {}),
    },
    findAccount: async (ctx, sub, token) => {
      // A CIBA grant reads the account fresh, as it reads its end of sessions (below): a disable
      // that did not also end the sessions still stops its tokens at once (red-team: 5 s of cache).
      const ciba = token?.kind === 'BackchannelAuthenticationRequest';
      const account = ciba ? await deps.accounts.findById(sub) : await findAccountCached(sub);
      if (ciba && account) accountCache.remember(account);
      if (!account || account.disabled) return undefined;
      const all = accountClaims(account);
      const registration = byId.get(ctx.oidc.client?.clientId ?? '');
      // A refresh token carries the factors of the sign-in that made it, and must still meet the
      // app's policy with them, as a session must at each authorization: a password-only token
      // stops once the account has a phone (red-team: one taken before the first phone went on
      // refreshing for its 14 days). oidc-provider answers invalid_grant.
      // (Not a CIBA grant's: a bare phone approval has no `mfa`, and its own door decided it, ciba/door.ts.)
      const fromCiba = String((token as { gty?: unknown } | undefined)?.gty ?? '').split(' ').includes('ciba');
      // An MFA-only client's (a broker's, Entra's) refresh token is void: each of its authorizations
      // stands for one upstream sign-in and needs a fresh hint (red-team: a broker's refresh token
      // went on minting acr mfa ID tokens for 14 days, after `federation unlink` too). None is issued
      // since (issueRefreshToken below); this refuses one issued before.
      if (token?.kind === 'RefreshToken' && registration?.upstream) return undefined;
      if (token?.kind === 'RefreshToken' && registration && !fromCiba
        && !(await refreshStillSatisfies((token as { amr?: string[] }).amr, registration.login ?? DEFAULT_POLICY, sub))) return undefined;
      // A code or a refresh token from a sign-in the account's sessions were ended after is void
      // (red-team: a sign-in resumed while set-password ran saved its grant after the end's delete,
      // and its code gave tokens and a refresh token for 14 days).
      if ((token?.kind === 'AuthorizationCode' || token?.kind === 'RefreshToken') && await signInEnded(ctx, sub, token, account)) return undefined;
      // A CIBA request made before the end (in its second too) gives no tokens, whenever it was approved,
      // read fresh, as a code's exchange reads it (red-team: an end landing after the finish's check,
      // before the door saved its grant, left a grant and a 14-day refresh token that outlived it).
      if (ciba && sessionEndedSince(typeof token.iat === 'number' ? token.iat : undefined, account.sessionsEndedAt?.getTime() ?? null)) return undefined;
      return {
        accountId: sub,
        // OIDC Core 5.4: the claims of the profile and email scopes go to userinfo; the ID token
        // carries them only for an app that chose so (id_token_profile_claims: Auth.js and
        // express-openid-connect read the ID token alone), when no access token is issued
        // (response_type id_token), or when the claims parameter names them.
        claims: async (use, _scope, requested) => {
          if (use === 'id_token' && token === undefined) await refuseEndedBeforeSigning(ctx, sub);
          if (use !== 'id_token' || registration?.idTokenProfileClaims || ctx.oidc.params?.response_type === 'id_token') return all;
          const named = Object.keys(requested ?? {});
          return Object.fromEntries(Object.entries(all).filter(([k]) => k === 'sub' || named.includes(k))) as typeof all;
        },
      };
    },
    // Per-app choice above (findAccount) instead of oidc-provider's one global switch.
    conformIdTokenClaims: false,
    subjectTypes: ['public', 'pairwise'],
    // Only MFA-only Entra clients are pairwise (src/config/clients.ts): the hint's sub goes back.
    pairwiseIdentifier: upstreamPairwiseIdentifier(byId, links),
    // acr, amr and auth_time travel in every ID token; profile claims per scope (no updated_at: no
    // profile change is recorded, and discovery lists only claims that are given: red-team).
    claims: {
      openid: ['sub', 'acr', 'amr', 'auth_time'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
    },
    acrValues,
    // OIDC Core 3.1.2.1 and 3.1.3.2, RFC 6749 4.1.3: redirect_uri is required at /auth, and at /token
    // when the request had it; oidc-provider's default filled it in for an app with one (red-team).
    allowOmittingSingleRegisteredRedirectUri: false,
    responseTypes: ['code', 'id_token', 'none'],
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    features: {
      devInteractions: { enabled: false },
      externalSigningSupport: EXTERNAL_SIGNING,
      ...(deps.ciba ? { ciba: deps.ciba.feature } : {}),
      // A client may introspect or revoke only the tokens issued to it. Another client's token reads
      // as inactive at introspection; its revocation is refused, and an app that authenticates is told
      // so (RFC 7009 2.1: 400 invalid_request, nothing revoked; red-team: it was answered 200); a
      // public client, which proves nothing, gets the 200 that tells it nothing.
      introspection: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => {
          if (token.clientId === client.clientId) return true;
          if (client.clientAuthMethod === 'none') return false;
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
        },
      },
      claimsParameter: { enabled: true },
      userinfo: { enabled: true },
      // No resource servers are registered here, so a `resource` (RFC 8707) could only ever be
      // refused, and oidc-provider refuses it at the token endpoint after it has spent the code or
      // the rotated refresh token (the client's next refresh then revokes the grant). Off, the
      // parameter is ignored as any unknown one (RFC 6749 3.1) and tokens are for userinfo.
      resourceIndicators: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.type = 'html';
          ctx.body = deps.views.render('logout', { title: 'Sign out', form, clientName: ctx.oidc.client?.clientName ?? null });
        },
        postLogoutSuccessSource: async (ctx) => {
          // Also where "No, stay signed in" lands (and a link to this page from anywhere): it says
          // "signed out" only when this browser holds no signed-in session (red-team: a user who
          // declined was told they had signed out, on a shared computer too).
          const sid = ctx.cookies.get(ctx.oidc.provider.cookieName('session'), { signed: true });
          const session = sid ? await ctx.oidc.provider.Session.find(sid) : undefined;
          ctx.type = 'html';
          ctx.body = deps.views.render('logged-out', { title: 'Signed out', clientName: ctx.oidc.client?.clientName ?? null, stillSignedIn: Boolean(session?.accountId) });
        },
      },
    },
    interactions: { policy, url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    // A relying app allowed the refresh_token grant gets refresh tokens, with or without offline_access;
    // an MFA-only client never does (findAccount above).
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token') && !byId.get(client.clientId)?.upstream,
    loadExistingGrant: async (ctx: KoaContextWithOIDC) => {
      const { client, session } = ctx.oidc;
      if (!client || !session?.accountId) return undefined;
      const implicit = byId.get(client.clientId)?.login.consent === 'implicit';
      const grantId = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
      const found = grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined;
      // A grant destroyed meanwhile (its refresh token revoked, its code replayed) leaves a
      // first-party app a new one below (red-team: its silent renew got consent_required).
      if (!implicit) return found;
      // First-party apps (consent "implicit" in their file) get what they ask for without a consent
      // page: a scope or claim their grant lacks is added to it (red-team: a further scope by single
      // sign-on showed the consent page, and under prompt=none answered consent_required).
      const grant = found ?? await newFirstPartyGrant(ctx, client.clientId, session.accountId, grantId);
      if (grantCovers(grant, ctx.oidc.requestParamScopes, ctx.oidc.requestParamClaims) && found) return found;
      grant.addOIDCScope([...(ctx.oidc.requestParamScopes ?? [])].join(' '));
      const claims = ctx.oidc.requestParamClaims;
      if (claims?.size) grant.addOIDCClaims([...claims]);
      await grant.save();
      return grant;
    },
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
      // Called as an interaction starts, before it is saved: the browser that starts a sign-in is the
      // one it goes on in (interaction/browser-binding.ts).
      Interaction: (ctx, interaction) => { binding.bind(ctx, interaction as unknown as { params: Record<string, unknown> }); return 3600; },
      // Saved again at every authorization, so the idle limit slides; never past SESSION_MAX_AGE.
      Session: (_ctx, session) => sessionTtlSeconds(session.loginTs, nowSeconds(), deps.session),
      Grant: 14 * DAY,
      RefreshToken: 14 * DAY,
      ClientCredentials: 600,
      ...(deps.ciba ? { BackchannelAuthenticationRequest: deps.ciba.ttl as NonNullable<NonNullable<Configuration['ttl']>['BackchannelAuthenticationRequest']> } : {}),
    },
    renderError: async (ctx, out, err) => {
      if (isStorageOutage(err)) { providerOutageAnswer(deps.views)(ctx, err); return; } // Redis or PostgreSQL out of reach: 503
      // A caller that asks for JSON (and not HTML) gets the error as the edge's own refusals answer it,
      // and so does any caller of an endpoint no browser is sent to: the token endpoint, userinfo,
      // introspection, revocation, PAR, CIBA answer JSON (RFC 6749 5.2; red-team: `Accept: text/html`
      // got our error page there, with an empty error code).
      const browserFacing = BROWSER_ROUTES.has((ctx as Partial<KoaContextWithOIDC>).oidc?.route ?? '');
      if (!browserFacing || ctx.accepts('html', 'json') === 'json') { ctx.type = 'json'; ctx.body = { error: out.error, error_description: out.error_description ?? '' }; return; }
      ctx.type = 'html';
      // oidc-provider's description is for the app's developers: a page in another language leads with its own words.
      // "Back to <app>": the request's app, else (the resume URL revisited after its sign-in) the one this browser last signed in to.
      const client = (ctx as Partial<KoaContextWithOIDC>).oidc?.client;
      if (client) ctx.state.app = appLinkOf(client, () => t('account.title'));
      else await appOfSignInPage(ctx, { provider });
      ctx.body = deps.views.render('error', errorPage(technical(new AppError(out.error, ctx.status >= 400 ? ctx.status : 400, out.error_description ?? out.error)), ctx.state.app as AppLink | undefined));
    },
  };

  const provider = new Provider(deps.issuer, configuration);
  // A client assertion's or DPoP proof's jti is taken once, atomically, for whole seconds (replay-detection.ts).
  useAtomicReplayDetection(provider, deps.redis);
  keepSessionIdUnlessSignIn(provider);
  provider.proxy = deps.trustProxy;
  // Each app is told a session's strength in its own acr names, whichever app's sign-in made it
  // (acrForApp): the code, the ID token and the essential-acr checks all read ctx.oidc.acr.
  Object.defineProperty((provider as unknown as { OIDCContext: { prototype: object } }).OIDCContext.prototype, 'acr', {
    configurable: true,
    get(this: { session?: { acr?: string; amr?: string[] }; client?: { clientId: string } }) {
      const registration = byId.get(this.client?.clientId ?? '');
      return acrForApp(this.session?.acr, this.session?.amr, registration?.upstream ? undefined : registration?.login);
    },
  });
  // A grant no session save took is written as the request leaves oidc-provider, before its answer
  // is sent (grant-beside-session.ts). Registered first: it is outside every middleware below.
  provider.use(async (ctx, next) => {
    try {
      await next();
    } finally {
      await grantWrites.flush(ctx);
    }
  });
  // Discovery says what works (red-team): no user code is taken at /backchannel (ciba/door.ts), and
  // oidc-provider advertises backchannel_user_code_parameter_supported true whenever CIBA is on.
  // Token responses carry Pragma: no-cache beside Cache-Control: no-store (RFC 6749 5.1, 5.2).
  provider.use(async (ctx, next) => {
    await next();
    // A request that loaded the session before it was ended (a sign-out, or the same browser signing
    // in again, which gives the session a new id) saved it in vain; its Set-Cookie would hand the
    // browser the ended id back over the newer one (red-team: a second tab's silent renew signed the
    // user out right after they signed in again).
    if (endedSaves.has(ctx)) dropCookie(ctx, provider.cookieName('session'));
    const body = ctx.body as Record<string, unknown> | undefined;
    if (ctx.oidc?.route === 'discovery' && body && 'backchannel_user_code_parameter_supported' in body) body.backchannel_user_code_parameter_supported = false;
    if (ctx.oidc?.route === 'token') ctx.set('Pragma', 'no-cache');
    // RFC 7009 2.2: an empty 200. Koa typed '' as text/plain, which oidc-client-ts refuses (its
    // signoutRedirect with revokeTokensOnSignout then never reached end_session: red-team).
    if (ctx.oidc?.route === 'revocation' && ctx.status === 200 && ctx.body === '') { ctx.body = null; ctx.status = 200; }
    if (ctx.oidc?.route === 'authorization' || ctx.oidc?.route === 'resume') renameUnauthorizedResponseType(ctx);
    // RFC 6749 5.2 and OpenID CIBA 13: a grant this client may not use is unauthorized_client
    // (red-team: oidc-provider says invalid_request at /token and /backchannel).
    // The same for a response type pushed to PAR (RFC 9126 2.3 answers with /auth's codes).
    if (ctx.oidc?.route === 'pushed_authorization_request' && ctx.status === 400 && body?.error === 'invalid_request' && body.error_description === 'requested response_type is not allowed for this client') body.error = 'unauthorized_client';
    if ((ctx.oidc?.route === 'token' || ctx.oidc?.route === 'backchannel_authentication') && ctx.status === 400 && body?.error === 'invalid_request'
      && typeof body.error_description === 'string' && /^(requested grant type|urn:openid:params:grant-type:ciba) is not allowed for this client$/.test(body.error_description)) {
      body.error = 'unauthorized_client';
    }
  });
  if (deps.ciba) provider.use(deps.ciba.pace as unknown as Parameters<Provider['use']>[0]);
  acceptUpstreamHints(provider, byId);
  // The resume reads the account once and fresh: its end of sessions for this check, and the same
  // row serves oidc-provider's findAccount a moment later (the cache), where it was a second read.
  voidHeldResults(provider, async (accountId) => {
    const account = await deps.accounts.findById(accountId);
    if (account) accountCache.remember(account);
    return account?.sessionsEndedAt ? account.sessionsEndedAt.getTime() : null;
  }, async (accountId, loginTs, match) => {
    // A picked number matters only to an app that wants Verified Push: with none registered, no mark (no round trip).
    if (match === 'picked' && !anyVerifiedPush) return;
    await markUnmatchedPush(deps.redis, accountId, loginTs, deps.session.maxAgeSeconds, match);
  },
  // A resume goes on only in the browser that started the sign-in (a planted resume cookie finds nothing).
  (it) => { const ctx = Provider.ctx; return ctx?.oidc?.route !== 'resume' || binding.startedHere(ctx, it.params); });
  provider.on('server_error', providerOutageAnswer(deps.views)); // Redis or PostgreSQL out of reach: 503, not 500
  return provider;
}

/** A response type the client is not registered for, answered as unauthorized_client (authorization-error-code.ts). */
function renameUnauthorizedResponseType(ctx: { status: number; body: unknown; response: { get(field: string): string }; set(field: string, value: string): void }): void {
  if (ctx.status >= 300 && ctx.status < 400) {
    const renamed = renamedInLocation(ctx.response.get('location'));
    if (renamed) ctx.set('Location', renamed);
  } else if (typeof ctx.body === 'string') {
    const renamed = renamedInFormPost(ctx.body);
    if (renamed) ctx.body = renamed;
  }
}

/** Removes the Set-Cookie of `name` (and its signature) from the response. */
function dropCookie(ctx: { response: { get(field: string): string | string[] }; set(field: string, value: string[]): void; remove(field: string): void }, name: string): void {
  const raw = ctx.response.get('set-cookie');
  const all = Array.isArray(raw) ? raw : raw ? [raw] : [];
  const kept = all.filter((c) => !c.startsWith(`${name}=`) && !c.startsWith(`${name}.sig=`));
  if (kept.length === all.length) return;
  if (kept.length) ctx.set('Set-Cookie', kept); else ctx.remove('Set-Cookie');
}

export type { Provider };

/**
 * oidc-provider gives a loaded session a new id at every resume (a consent too, not only a sign-in)
 * and when the user answers "No" on the sign-out page for an app; the old id's row is then ended.
 * Red-team (sessions): a copy of the cookie did either, so only the copy held the live id; the
 * owner's cookie named an ended row, their sign-out at the app found no session and ended nothing,
 * and the copy stayed signed in. A consent resume in flight did the same to a sign-out made
 * meanwhile. The id now changes only when a sign-in's result is applied (against session fixation,
 * what the change is for): every cookie of a session names one row, and a sign-out ends it.
 */
function keepSessionIdUnlessSignIn(provider: Provider): void {
  const proto = (provider.Session as unknown as { prototype: { resetIdentifier(this: unknown): void } }).prototype;
  const rotate = proto.resetIdentifier;
  proto.resetIdentifier = function (this: unknown) {
    if (Provider.ctx?.oidc?.result?.login) rotate.call(this);
  };
}


/** Pure: whether a grant already holds every scope and claim a request asks for (nothing to add, nothing to save). */
export function grantCovers(grant: { getOIDCScope(): string; getOIDCClaims(): string[] }, scopes: Iterable<string> | undefined, claims: Iterable<string> | undefined): boolean {
  const held = new Set(grant.getOIDCScope().split(' '));
  const heldClaims = new Set(grant.getOIDCClaims());
  return [...(scopes ?? [])].every((s) => held.has(s)) && [...(claims ?? [])].every((c) => heldClaims.has(c));
}
