import { errors, type CIBAEnabledConfiguration, type KoaContextWithOIDC, type Provider } from 'oidc-provider';
import type { AccountStore } from '../accounts/store.js';
import type { Resolution } from '../challenge/types.js';
import { DEFAULT_POLICY, type ClientRegistration } from '../config/clients.js';
import type { SecretBox } from '../crypto/secretbox.js';
import type { Logger } from '../log.js';
import type { ResolutionHook, SignIn } from '../signin/index.js';
import type { ResolvedChallenge } from '../signin/resolution.js';
import type { Redis } from '../storage/redis.js';
import { acrClaimOfParam, essentialAcrUnmet, type AcrClaimRequest } from '../oidc/session-policy.js';
import { PHONE_ONLY_ACR } from '../signin/amr.js';
import { checkBindingMessage } from './binding-message.js';
import { accountForLoginHint } from './login-hint.js';
import { notificationFetch } from './notify-fetch.js';
import { createPollPace, type PollPace } from './poll-pace.js';
import { CIBA_SIGNIN_PREFIX, createCibaRequests, lingeringRequests, signInIdOf, type CibaRequests } from './requests.js';

/*
 * The OpenID CIBA front door (docs/ciba.md): oidc-provider's features.ciba does the protocol
 * (client authentication, the request, the token endpoint); this translates it to the sign-in core
 * (src/signin/backchannel.ts) and back. The request names a user, the core pushes to their phone,
 * and the answer, taken by any IdP process, comes back through the one resolution policy to the hook
 * below, which settles the request with provider.backchannelResult (a Grant, or AccessDenied).
 */

export interface CibaDoorDeps {
  accounts: AccountStore;
  clients: readonly ClientRegistration[];
  redis: Redis;
  secretBox: SecretBox;
  logger: Logger;
  now: () => number;
  /** CIBA_POLL_INTERVAL, seconds. */
  pollIntervalSeconds: number;
  /** PUSH_CHALLENGE_TTL, seconds: no request outlives the push that answers it. */
  requestTtlSeconds: number;
}

/** What createProvider takes from this door (all additive to its configuration). */
export interface CibaProviderParts {
  feature: CIBAEnabledConfiguration;
  ttl: (ctx: KoaContextWithOIDC | undefined) => number;
  adapter: typeof lingeringRequests;
  fetch: ReturnType<typeof notificationFetch>;
  /** provider.use: `slow_down` for polls sooner than the interval. */
  pace: (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void>;
}

export interface CibaDoor {
  oidc: CibaProviderParts;
  /** For the resolution policy's hooks (resolution.ts). */
  onResolved: ResolutionHook;
  /** Once the provider and the sign-in core exist (app.ts builds them after the provider's configuration). */
  connect(parts: { provider: Provider; signin: SignIn }): void;
}

const CIBA_GRANT = 'urn:openid:params:grant-type:ciba';

export function createCibaDoor(deps: CibaDoorDeps): CibaDoor {
  const byId = new Map(deps.clients.map((c) => [c.metadata.client_id as string, c]));
  const requests: CibaRequests = createCibaRequests(deps.redis, deps.secretBox);
  const pace: PollPace = createPollPace(deps.redis, deps.pollIntervalSeconds * 1000);
  const endpoints = new Map(deps.clients.flatMap((c) => {
    const url = c.metadata.backchannel_client_notification_endpoint;
    return typeof url === 'string' ? [[url, c.loopbackNotificationEndpoint ?? url] as const] : [];
  }));
  let late: { provider: Provider; signin: SignIn } | null = null;
  const connected = () => {
    if (!late) throw new Error('the CIBA door is not connected yet');
    return late;
  };
  const appOf = (clientId: string, name: string | undefined) => ({
    clientId, name: name ?? clientId, policy: byId.get(clientId)?.login ?? DEFAULT_POLICY,
  });
  /** The request's life: what the app asked for (requested_expiry), within a push's life. */
  const ttl = (ctx: KoaContextWithOIDC | undefined) => {
    const asked = Number(ctx?.oidc?.params?.requested_expiry);
    return Number.isSafeInteger(asked) && asked > 0 ? Math.min(asked, deps.requestTtlSeconds) : deps.requestTtlSeconds;
  };

  const feature: CIBAEnabledConfiguration = {
    enabled: true,
    deliveryModes: ['poll', 'ping'],
    processLoginHint: async (_ctx, hint) => (await accountForLoginHint(deps.accounts, hint)) ?? undefined,
    processLoginHintToken: () => {
      throw new errors.InvalidRequest('login_hint_token is not supported: use login_hint or id_token_hint');
    },
    validateBindingMessage: (_ctx, message) => {
      const check = checkBindingMessage(message);
      if (!check.ok) throw new errors.InvalidBindingMessage(check.description);
    },
    // Free-form context for the authorization server; nothing here reads it. This hook (run on every
    // request) also refuses a requested_expiry that is not decimal digits and an essential acr (OIDC Core 5.5.1.1)
    // that no phone answer can reach: neither the app's mfa value (a phone that verified its user)
    // nor the phone-only one. One that only some answers reach is judged when the phone answers.
    validateRequestContext: (ctx) => {
      // OpenID CIBA 7.1: a positive integer. oidc-provider reads it with `+`, which also takes
      // "0x10", "1e3" and " 16 " (red-team); only plain decimal digits are one here.
      const expiry = ctx.oidc.params?.requested_expiry;
      if (expiry !== undefined && !(typeof expiry === 'string' && /^0*[1-9][0-9]{0,8}$/.test(expiry))) {
        throw new errors.InvalidRequest('invalid requested_expiry parameter value: a positive number of seconds in decimal digits');
      }
      const asked = acrClaimOfParam(ctx.oidc.params?.claims);
      const reachable = [appOf(ctx.oidc.client?.clientId ?? '', undefined).policy.acr.mfa, PHONE_ONLY_ACR];
      if (reachable.every((acr) => essentialAcrUnmet(asked, acr))) {
        throw new errors.InvalidRequest(`no backchannel sign-in reaches the essential acr asked for (it gives ${reachable.join(' or ')})`);
      }
    },
    // The last hook that sees the account before the request is saved: no user code (clients
    // register backchannel_user_code_parameter false), and an account that cannot be asked on a
    // phone is as unknown as a name that matches none (OpenID CIBA 13: unknown_user_id).
    verifyUserCode: async (_ctx, account, userCode) => {
      if (userCode !== undefined) throw new errors.InvalidRequest('user_code is not supported');
      const check = await connected().signin.backchannel.check(account.accountId);
      if (check.kind !== 'ok') throw new errors.UnknownUserId('could not identify end-user');
    },
    triggerAuthenticationDevice: async (ctx, request, account, client) => {
      const { signin } = connected();
      const authReqId = request.jti;
      const lifeSeconds = request.expiration;
      const signInId = signInIdOf(authReqId);
      const check = checkBindingMessage(request.params?.binding_message);
      await requests.remember(signInId, { authReqId, ip: ctx.ip }, lifeSeconds);
      const started = await signin.backchannel.start(
        { id: signInId, requester: { ip: ctx.ip, userAgent: '', app: appOf(client.clientId, client.clientName) }, ttlSeconds: lifeSeconds },
        { accountId: account.accountId, bindingMessage: check.ok ? check.value : null },
      );
      if (started.kind === 'sent') {
        // OpenID CIBA 7.3: how long to wait between polls (enforced by `pace` below).
        ctx.body = { ...(ctx.body as Record<string, unknown>), interval: deps.pollIntervalSeconds };
        return;
      }
      // Nothing was sent: the request is dropped, and the app is told now rather than left polling.
      await requests.forget(signInId);
      await request.destroy();
      if (started.kind === 'unknown-user') throw new errors.UnknownUserId('could not identify end-user');
      throw new errors.AccessDenied(started.notice === 'needs_binding_message'
        ? 'too many unanswered requests for this user: a binding_message is required'
        : 'no request can be sent to this user now');
    },
  };

  /**
   * Settles a CIBA sign-in whose push was answered: a Grant, or AccessDenied. Run by the resolution
   * hook in the process that took the phone's answer, and again at each poll that would answer
   * authorization_pending (pace, below): a process that died or failed between storing the answer
   * and settling left the app polling until expiry while the phone said "approved" (red-team:
   * 4 kills in 12 between 5 and 60 ms after the answer). Running twice is safe: the sign-in's state
   * is taken once (finish.ts), and a settled request is left alone.
   */
  const settleSignIn = async (signInId: string, fromPoll?: { authReqId: string }) => {
    const { provider, signin } = connected();
    const state = await signin.state(signInId);
    if (!state) return;
    const ref = (await requests.find(signInId)) ?? (fromPoll ? { authReqId: fromPoll.authReqId, ip: '' } : null);
    if (!ref) return;
    const request = await provider.BackchannelAuthenticationRequest.find(ref.authReqId, { ignoreExpiration: true });
    if (!request || request.isExpired || request.grantId || request.error || !request.clientId || !request.accountId) return;
    const client = await provider.Client.find(request.clientId);
    let outcome: Awaited<ReturnType<typeof signin.backchannel.settle>>;
    try {
      outcome = await signin.backchannel.settle({
        id: signInId, state, ttlSeconds: Math.max(1, request.expiration),
        requester: { ip: ref.ip, userAgent: '', app: appOf(request.clientId, client?.clientName) },
      });
    } catch (err) {
      // Failed before the sign-in was taken: the next poll tries again. Failed after (its audit
      // record, say): nothing can finish it now, so the app gets a final answer, not pending to expiry.
      if (await signin.state(signInId)) throw err;
      // Unless another settling (the hook's, a poll's) took the sign-in and answered meanwhile.
      const now = await provider.BackchannelAuthenticationRequest.find(ref.authReqId, { ignoreExpiration: true });
      if (!now || now.grantId || now.error) return;
      deps.logger.error({ err, clientId: request.clientId }, 'CIBA approval could not be finished: the request is answered access_denied');
      await requests.forget(signInId);
      await provider.backchannelResult(now, new errors.AccessDenied('the approval could not be recorded; start again'));
      return;
    }
    if (outcome.kind === 'pending') return;
    await requests.forget(signInId);
    if (outcome.kind === 'expired') return; // the request's own expiry answers expired_token
    try {
      if (outcome.kind === 'denied') {
        await provider.backchannelResult(request, new errors.AccessDenied(outcome.reason === 'denied' ? 'the user denied the request' : 'the request was not approved'));
        return;
      }
      const { login } = outcome;
      // An essential acr this answer did not reach (a bare approval where the app asked for mfa): a failed sign-in, not tokens with a lesser acr.
      // Judged on the claims parameter as sent too: oidc-provider put acr_values in place of its acr (session-policy.ts acrClaimOfParam).
      const processed = (request.claims as { id_token?: { acr?: AcrClaimRequest } } | undefined)?.id_token?.acr;
      if (essentialAcrUnmet(processed, login.acr) || essentialAcrUnmet(acrClaimOfParam(request.params?.claims), login.acr)) {
        await provider.backchannelResult(request, new errors.AccessDenied(`the phone's answer reached ${login.acr}, not the essential acr asked for`));
        return;
      }
      const grant = new provider.Grant({ clientId: request.clientId, accountId: request.accountId });
      if (request.scope) grant.addOIDCScope(request.scope);
      const claims = request.claims ?? {};
      const named = [...Object.keys(claims.id_token ?? {}), ...Object.keys(claims.userinfo ?? {})];
      if (named.length) grant.addOIDCClaims(named);
      await grant.save();
      await provider.backchannelResult(request, grant, { acr: login.acr, amr: login.amr, authTime: Math.floor(deps.now() / 1000) });
    } catch (err) {
      // oidc-provider saves the result before it pings: a failed notification leaves it for a poll.
      // A result that was never saved (the grant could not be stored) must not leave the client
      // polling authorization_pending until expiry: it gets a final answer instead.
      const after = await provider.BackchannelAuthenticationRequest.find(ref.authReqId, { ignoreExpiration: true }).catch(() => undefined);
      if (after?.grantId || after?.error) {
        deps.logger.warn({ err, clientId: request.clientId }, 'CIBA result saved, client notification failed');
        return;
      }
      deps.logger.error({ err, clientId: request.clientId }, 'CIBA result could not be saved: the request is answered access_denied');
      if (after) {
        await provider.backchannelResult(after, new errors.AccessDenied('the approval could not be recorded; start again'))
          .catch((e: unknown) => deps.logger.error({ err: e, clientId: request.clientId }, 'CIBA error result could not be saved either'));
      }
    }
  };

  const settle = async (challenge: ResolvedChallenge, _resolution: Resolution) => {
    if (challenge.signInId?.startsWith(CIBA_SIGNIN_PREFIX)) await settleSignIn(challenge.signInId);
  };

  return {
    oidc: {
      feature,
      ttl,
      adapter: lingeringRequests,
      fetch: notificationFetch(endpoints),
      async pace(ctx, next) {
        await next();
        if (ctx.oidc?.route !== 'token' || ctx.status !== 400) return;
        const body = ctx.body as { error?: unknown } | undefined;
        const id = ctx.oidc.params?.auth_req_id;
        if (body?.error !== 'authorization_pending' || ctx.oidc.params?.grant_type !== CIBA_GRANT || typeof id !== 'string') return;
        // An answered push that no process settled (settleSignIn): settled now, for the next poll.
        await settleSignIn(signInIdOf(id), { authReqId: id })
          .catch((err: unknown) => deps.logger.error({ err, clientId: ctx.oidc.client?.clientId }, 'CIBA: settling an answered request at its poll failed'));
        const { served, intervalMs } = await pace.poll(id, deps.now(), deps.requestTtlSeconds * 1000);
        if (!served) ctx.body = { error: 'slow_down', error_description: `poll no more often than every ${Math.ceil(intervalMs / 1000)} seconds` };
      },
    },
    onResolved: settle,
    connect(parts) {
      late = parts;
    },
  };
}
