import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { AuditEvent, AuditLog } from '../audit/types.js';

/**
 * The audit row of a single sign-on: an app given a code (or tokens) on the strength of the
 * browser's existing session, with no sign-in page shown. Red-team (operator round): once a
 * browser had a session, every further app it entered left no record naming that app, so after a
 * stolen session the trail did not say which apps the thief went into.
 *
 * Only authorizations answered at /auth itself: one answered at its resume (/auth/:uid) finished
 * an interaction, whose sign-in or consent already wrote its row (signin.success, consent.granted).
 * The ordinary sign-in therefore writes nothing more here.
 */
export function ssoAuditEvent(ctx: KoaContextWithOIDC): AuditEvent | null {
  const { route, session, client, params } = ctx.oidc;
  if (route !== 'authorization' || !session?.accountId || !client) return null;
  return {
    type: 'signin.sso',
    accountId: session.accountId,
    clientId: client.clientId,
    ip: ctx.ip,
    // What the session proved and when (the app's own acr name: provider.ts), as the ID token says it.
    detail: {
      amr: session.amr ?? [],
      acr: ctx.oidc.acr ?? null,
      authTime: session.authTime() ?? null,
      ...(params?.prompt === 'none' ? { silent: true } : {}),
    },
  };
}

/**
 * Writes that row before the answer leaves: the event marks the request (oidc-provider emits
 * authorization.success as it builds the redirect), and the row is written once the response is
 * ready, so an app holding the code can already find it in the trail.
 */
export function auditSsoAuthorizations(provider: Provider, audit: AuditLog): void {
  const pending = new WeakMap<object, AuditEvent>();
  provider.on('authorization.success', (ctx: KoaContextWithOIDC) => {
    const event = ssoAuditEvent(ctx);
    if (event) pending.set(ctx, event);
  });
  provider.use(async (ctx, next) => {
    await next();
    const event = pending.get(ctx);
    if (event) await audit.record(event);
  });
}
