import Router from '@koa/router';
import type { Context } from 'koa';
import { rpLogin } from '../rp/oidc-login.js';
import { issuerFor, pendingCookieOptions, PENDING_COOKIE, spBasePath, type SamlDeps } from './deps.js';
import { answeredClass } from './authn-context.js';
import { subjectFor } from './identity.js';
import { buildErrorResponse, buildResponse, newId, type StatusCodes } from './messages.js';
import { postForm } from './page.js';
import type { ServiceProvider } from './sp-config.js';
import type { PendingSso } from './store.js';
import { signElement } from './xml.js';
import { t } from '../i18n/index.js';
import { firstFactorEnded } from '../signin/finish.js';

/**
 * The end of a SAML sign-in: per SP, the internal OIDC client's login and callback (src/rp/oidc-login.ts,
 * as /account signs in). Back from the IdP's own authorization with the login (account, amr), it
 * takes the pending request once and posts the signed SAMLResponse to the SP.
 */
export type SamlStatus = 'NoPassive' | 'AuthnFailed' | 'NoAuthnContext' | 'UnsupportedBinding' | 'InvalidNameIDPolicy';

/**
 * The SP hears a sign-in that did not happen as a signed SAML status, at its ACS: one of ours under
 * the top-level Responder, or a status of its own (VersionMismatch is a top-level code).
 */
export async function postStatus(deps: SamlDeps, ctx: Context, sp: ServiceProvider, to: Pick<PendingSso, 'acsUrl' | 'requestId' | 'relayState'>, code: SamlStatus | StatusCodes): Promise<void> {
  const status: StatusCodes = typeof code === 'string' ? { top: 'Responder', second: code } : code;
  const xml = buildErrorResponse({ issuer: issuerFor(sp, deps.issuer), acsUrl: to.acsUrl, inResponseTo: to.requestId, status, now: deps.now() });
  ctx.status = 200;
  postForm(ctx, to.acsUrl, { SAMLResponse: Buffer.from(signElement(xml, 'Response', await deps.key())).toString('base64'), RelayState: to.relayState });
}

export function finishRouters(deps: SamlDeps): Router[] {
  /** The pending sign-in this browser started for this SP (taken: it is finished once). */
  const takePending = async (ctx: Context, sp: ServiceProvider): Promise<PendingSso | null> => {
    const id = ctx.cookies.get(PENDING_COOKIE, { signed: true });
    ctx.cookies.set(PENDING_COOKIE, null, pendingCookieOptions(deps.issuer, sp.id));
    const pending = id ? await deps.store.takePending(id) : null;
    return pending?.spId === sp.id ? pending : null;
  };
  const failPage = (ctx: Context, description: string) => {
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = deps.views.render('error', { title: t('error.signInFailedTitle'), error: 'login_failed', description });
  };

  const failToSp = (ctx: Context, sp: ServiceProvider, pending: PendingSso, code: SamlStatus) => postStatus(deps, ctx, sp, pending, code);

  return deps.sps.map((sp) => {
    const r = new Router({ prefix: spBasePath(sp.id) });
    rpLogin(r, {
      issuer: deps.issuer, clientId: `saml.${sp.id}`, basePath: spBasePath(sp.id), scope: 'openid',
      // Hints for the login from the pending request (routes.ts begin); finishing checks the request itself.
      authParams: (ctx): Record<string, string> => ({
        ...(ctx.query.force ? { prompt: 'login' } : ctx.query.passive ? { prompt: 'none' } : {}),
        ...(ctx.query.mfa ? { acr_values: sp.policy.acr.mfa } : {}),
      }),
      // The very SSO session the code was issued in, not another of the same account (red-team).
      checkCode: async (ctx, code) => (await deps.idpSessions.issuedHere(ctx, code) ? null : t('error.samlOtherBrowser')),
      // A page for this browser: the sign-in it may have started itself stays pending, and the SP hears nothing.
      onRefused: failPage,
      async onError(ctx, message) {
        const pending = await takePending(ctx, sp);
        // A sign-in that ended without a login (the user gave up, IsPassive without a session): the
        // SP hears it as a SAML status (NoPassive or AuthnFailed, SAML core 3.2.2.2), not a page of ours.
        if (pending) return failToSp(ctx, sp, pending, pending.isPassive ? 'NoPassive' : 'AuthnFailed');
        failPage(ctx, message);
      },
      now: deps.now,
      async onSignedIn(ctx, tokens, _config, began) {
        const pending = await takePending(ctx, sp);
        if (!pending) return failPage(ctx, t('error.samlNotPending'));
        const claims = tokens.claims()!;
        // ForceAuthn (SAML core 3.4.1): a sign-in made after the request, whatever the browser did
        // to the login URL's ?force=1 (red-team: dropped, and the old SSO session answered).
        // Newer than the session the request found, and not older than the request itself (red-team: a
        // request sent without the SSO cookie found no session, then the old session answered).
        const prior = pending.priorLoginTs;
        const fresh = typeof claims.auth_time === 'number' && prior !== undefined && (prior === null || claims.auth_time > prior)
          && typeof pending.requestedAt === 'number' && claims.auth_time >= Math.floor(pending.requestedAt / 1000);
        if (pending.forceAuthn && !fresh) {
          return failToSp(ctx, sp, pending, 'AuthnFailed');
        }
        // The browser finishing must hold the IdP session the code came from (as /account checks):
        // red-team: an attacker started a SAML sign-in, had the victim's browser (signed in, no page
        // shown) get the code, and finished it in their own browser with the victim's assertion.
        const session = await deps.idpSessions.current(ctx);
        if (!session || session.accountId !== claims.sub) return failPage(ctx, t('error.samlOtherBrowser'));
        const amr = Array.isArray(claims.amr) ? claims.amr.filter((m): m is string => typeof m === 'string') : [];
        // RequestedAuthnContext (authn-context.ts): what the SP accepts, or NoAuthnContext, never a weaker Success.
        const classRef = answeredClass(sp, amr, pending.allowed ?? { password: true, mfa: true });
        if (!classRef) return failToSp(ctx, sp, pending, 'NoAuthnContext');
        const account = await deps.accounts.findById(claims.sub);
        // The SP hears these too, as SAML statuses at its ACS (SAML core 3.4.1.1; red-team: the user got
        // our page, the request was used up, and the SP waited for an answer that never came).
        // An end of the account's sessions after the code's exchange checked it (red-team: a sign-out
        // or a disable landing there still gave the SP an assertion).
        if (!account || account.disabled || firstFactorEnded(began, account.sessionsEndedAt ?? null)) return failToSp(ctx, sp, pending, 'AuthnFailed');
        const { nameId, attributes } = subjectFor(sp, account);
        if (!nameId) return failToSp(ctx, sp, pending, 'InvalidNameIDPolicy');
        // SAML core 3.4.1.4: a request naming its principal gets an assertion about that one, or a
        // failure (red-team: one naming Bob, answered in Alice's browser, said Alice).
        if (pending.subjectNameId !== undefined && pending.subjectNameId !== nameId) return failToSp(ctx, sp, pending, 'AuthnFailed');
        const now = deps.now();
        const sessionIndex = newId();
        await deps.store.saveSession(sessionIndex, { spId: sp.id, nameId, sessionUid: session.uid }, deps.sessionMaxAgeSeconds);
        let xml = buildResponse({
          issuer: issuerFor(sp, deps.issuer), sp, acsUrl: pending.acsUrl, inResponseTo: pending.requestId, nameId, attributes,
          classRef, authnInstant: typeof claims.auth_time === 'number' ? claims.auth_time * 1000 : now, sessionIndex, now,
        });
        if (sp.wantAssertionsSigned || !sp.wantResponseSigned) xml = signElement(xml, 'Assertion', await deps.key());
        if (sp.wantResponseSigned) xml = signElement(xml, 'Response', await deps.key());
        await deps.audit.record({ type: 'saml.assertion', accountId: account.id, clientId: `saml.${sp.id}`, ip: ctx.ip, detail: { sp: sp.entityId, amr, idpInitiated: pending.requestId === null } });
        postForm(ctx, pending.acsUrl, { SAMLResponse: Buffer.from(xml).toString('base64'), RelayState: pending.relayState });
      },
    });
    return r;
  });
}
