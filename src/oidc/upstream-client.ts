import { decodeJwt } from 'jose';
import Provider, { errors, interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import type { ClientRegistration } from '../config/clients.js';
import type { FederatedLinks } from '../upstream/links.js';

/**
 * oidc-provider's side of MFA-only clients (docs/entra.md): their `id_token_hint` is the
 * upstream's, not one of ours; every authorization needs a fresh sign-in through that hint; and
 * an Entra client's `sub` is the hint's own `sub`.
 */
export interface UpstreamClients {
  has(clientId: string): boolean;
}

/** The upstream identity a hint names: Entra's tenant issuer + oid, a broker's iss + sub. Not verified here. */
function hintIdentity(registration: ClientRegistration, token: unknown): { issuer: string; subject: string; sub: string } | null {
  if (typeof token !== 'string' || !registration.upstream) return null;
  let payload;
  try {
    payload = decodeJwt(token);
  } catch {
    return null;
  }
  const subject = registration.upstream.profile === 'entra' ? payload.oid : payload.sub;
  if (typeof payload.iss !== 'string' || typeof subject !== 'string' || typeof payload.sub !== 'string') return null;
  return { issuer: payload.iss, subject, sub: payload.sub };
}

/**
 * The `sub` an Entra client gets: the `sub` of the hint this authorization came with (the
 * interaction verified it, used it once and found the account through its link), provided the
 * hint's identity is linked to this very account. oidc-provider stores the request's parameters
 * with the interaction and restores them server-side at resume, so the hint is the one verified.
 * Anything else gets a value no hint carries (the login check below refuses it before a token).
 */
export function upstreamPairwiseIdentifier(byId: Map<string, ClientRegistration>, links: FederatedLinks) {
  return async (ctx: KoaContextWithOIDC, accountId: string, client: { clientId: string }): Promise<string> => {
    const registration = byId.get(client.clientId);
    const identity = registration ? hintIdentity(registration, ctx.oidc?.params?.id_token_hint) : null;
    if (identity) {
      const link = await links.find(identity.issuer, identity.subject);
      if (link?.accountId === accountId) return identity.sub;
    }
    return `unlinked:${accountId}`;
  };
}

/** Where an MFA-only client's `id_token_hint` is the upstream's: its authorization request. */
const UPSTREAM_HINT_ROUTES = new Set(['authorization', 'resume', 'pushed_authorization_request']);

/**
 * oidc-provider validates an `id_token_hint` as an ID token it issued. For an MFA-only client's
 * authorization request the hint is the upstream's: it passes through untouched here (its claims
 * decoded, for the login prompt's comparison) and is verified in full, and used once, by the
 * sign-in (src/signin/upstream.ts). Anywhere else (logout, CIBA) it is what oidc-provider checks it
 * to be, an ID token of ours (red-team: an unsigned hint naming such a client passed at logout).
 */
export function acceptUpstreamHints(provider: Provider, byId: Map<string, ClientRegistration>): void {
  const IdToken = provider.IdToken as unknown as { validate(jwt: string, client: { clientId: string }): Promise<unknown> };
  const validate = IdToken.validate.bind(IdToken);
  IdToken.validate = async (jwt, client) => {
    const route = (Provider as unknown as { ctx?: KoaContextWithOIDC }).ctx?.oidc?.route;
    if (!byId.get(client.clientId)?.upstream || !route || !UPSTREAM_HINT_ROUTES.has(route)) return validate(jwt, client);
    let payload: Record<string, unknown> = {};
    try { payload = decodeJwt(jwt); } catch { /* the sign-in refuses it */ }
    return { header: {}, payload };
  };
}

/**
 * The login prompt's check for MFA-only clients: a sign-in through the hint every time (no single
 * sign-on: each hint stands for one upstream sign-in), and a finished sign-in must be the hint's
 * (its upstream identity linked to the account signed in, the first factor the upstream's).
 */
export function upstreamLoginCheck(byId: Map<string, ClientRegistration>, links: FederatedLinks) {
  return new interactionPolicy.Check('upstream_first_factor', 'this app signs in through its upstream identity provider every time', 'login_required', async (ctx) => {
    const { client, session, result } = ctx.oidc;
    const registration = client ? byId.get(client.clientId) : undefined;
    if (!registration?.upstream) return false;
    if (!result?.login) return true;
    const identity = hintIdentity(registration, ctx.oidc.params?.id_token_hint);
    const link = identity ? await links.find(identity.issuer, identity.subject) : null;
    if (!link || link.accountId !== session?.accountId || session.amr?.includes('pwd')) {
      throw new errors.AccessDenied('this sign-in is not the one the upstream identity provider asked for');
    }
    return false;
  });
}

/**
 * oidc-provider's own `id_token_hint` check compares the hint's `sub` with the session's: for an
 * MFA-only client the hint's `sub` is the upstream's (a broker's never equals ours), so the check
 * would ask for a sign-in forever. upstream_first_factor (above) decides for those clients instead.
 */
export function exemptFromHintCheck(login: { checks: { get(reason: string): { check: (ctx: KoaContextWithOIDC) => unknown } | undefined } }, byId: Map<string, ClientRegistration>): void {
  const builtin = login.checks.get('id_token_hint');
  if (!builtin) return;
  const original = builtin.check;
  builtin.check = (ctx) => (byId.get(ctx.oidc.client?.clientId ?? '')?.upstream ? false : original(ctx));
}
