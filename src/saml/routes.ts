import Router from '@koa/router';
import type { Context } from 'koa';
import { noHead } from '../http/errors.js';
import { formBody } from '../http/body.js';
import type { IdpSession } from '../oidc/sessions.js';
import { ACCOUNT_CLIENT_ID } from '../selfservice/client-id.js';
import { issuerFor, pendingCookieOptions, PENDING_COOKIE, samlEntityId, spBasePath, type SamlDeps } from './deps.js';
import { SamlError } from './errors.js';
import { allowedOutcomes } from './authn-context.js';
import { finishRouters, postStatus } from './finish.js';
import { subjectFor } from './identity.js';
import { readIncoming, relayStateUsable } from './incoming.js';
import { certificatePem } from './keys.js';
import { buildLogoutResponse, buildMetadata, checkIssueInstant, chooseAcs, defaultAcs, encodeRedirect, readAuthnRequest, readLogoutRequest, requestRefusal, REQUEST_MAX_AGE_MS, samlInstant, versionStatus, type StatusCodes } from './messages.js';
import { postForm } from './page.js';
import type { ServiceProvider } from './sp-config.js';
import type { PendingSso } from './store.js';
import { signElement, signRedirect } from './xml.js';

export { samlEntityId, type SamlDeps } from './deps.js';

/**
 * A request's Destination must be this endpoint; a signed one must carry it (SAML bindings 3.4.5.2,
 * 3.5.5.2: red-team, a signed request without it was taken, so a signature made for another IdP
 * could be replayed here). An unsigned one may leave it out (Microsoft 365 does).
 */
function checkDestination(destination: string | null, endpoint: string, signed: boolean, what: 'SSO' | 'logout'): void {
  if (destination === null ? signed : destination !== endpoint) {
    throw new SamlError(400, 'wrong_destination', `The request's Destination is not this identity provider's ${what} endpoint${destination === null ? ' (a signed request must name it)' : ''}.`);
  }
}

/**
 * The SAML front door (docs/saml.md). It validates the AuthnRequest, keeps it for a while, and sends
 * the browser through the IdP's own OIDC authorization under the SP's internal client, so the
 * same pages, session policy, throttles and push run; back from it (finish.ts), it answers with the
 * SAMLResponse. No sign-in logic lives here.
 */
/** A POSTed SAML message of up to 32 KB (docs/saml.md), base64 and form-encoded (red-team: the 16 KB form limit refused 12 KB ones). */
const SAML_FORM_LIMIT = '64kb';

export function samlRoutes(deps: SamlDeps): Router[] {
  const router = new Router({ prefix: '/saml' });
  const entityId = samlEntityId(deps.issuer);
  const ssoUrl = `${deps.issuer}/saml/sso`;
  const sloUrl = `${deps.issuer}/saml/slo`;
  const byEntity = new Map(deps.sps.map((sp) => [sp.entityId, sp]));

  router.get('/metadata', async (ctx) => {
    ctx.type = 'application/samlmetadata+xml';
    ctx.body = buildMetadata({ entityId, ssoUrl, sloUrl, certificate: (await deps.key()).certificate });
  });
  // The same, as one SP sees us (its Issuer, whether its requests must be signed, its NameID format).
  router.get('/metadata/:sp', async (ctx) => {
    const sp = deps.sps.find((s) => s.id === ctx.params.sp);
    if (!sp) throw new SamlError(404, 'unknown_sp', 'No service provider is registered under this name.');
    ctx.type = 'application/samlmetadata+xml';
    ctx.body = buildMetadata({ entityId: issuerFor(sp, deps.issuer), ssoUrl, sloUrl, certificate: (await deps.key()).certificate, sp });
  });
  // Microsoft 365 never reads metadata: the admin uploads this certificate (docs/saml.md).
  router.get('/certificate', async (ctx) => {
    const key = await deps.key();
    ctx.type = 'text/plain';
    ctx.body = ctx.query.format === 'base64' ? `${key.certificate}\n` : certificatePem(key);
  });

  /** Keeps the pending sign-in and sends the browser to the SP's internal OIDC sign-in. */
  const begin = async (ctx: Context, sp: ServiceProvider, pending: PendingSso) => {
    const prior = pending.forceAuthn ? await deps.idpSessions.current(ctx) : null;
    const id = await deps.store.savePending({ ...pending, ...(pending.forceAuthn ? { priorLoginTs: prior?.loginTs ?? null, requestedAt: Date.now() } : {}) }, REQUEST_MAX_AGE_MS / 1000);
    ctx.cookies.set(PENDING_COOKIE, id, { ...pendingCookieOptions(deps.issuer, sp.id), maxAge: REQUEST_MAX_AGE_MS });
    ctx.status = 303;
    const hints = [pending.forceAuthn ? 'force=1' : pending.isPassive ? 'passive=1' : null, pending.allowed && !pending.allowed.password ? 'mfa=1' : null].filter(Boolean);
    ctx.redirect(`${spBasePath(sp.id)}/login${hints.length ? `?${hints.join('&')}` : ''}`);
  };

  const sso = async (ctx: Context) => {
    const { el, sp, relayState, signed } = readIncoming(ctx, 'AuthnRequest', byEntity);
    const req = readAuthnRequest(el);
    checkDestination(req.destination, ssoUrl, signed, 'SSO');
    checkIssueInstant(req.issueInstant, deps.now());
    const acsUrl = chooseAcs(req, sp);
    // An AuthnRequest is answered once (atomic in Redis): a replayed one is refused.
    if (!(await deps.store.firstUse(sp.id, req.id, REQUEST_MAX_AGE_MS / 1000 + 600))) {
      throw new SamlError(400, 'replayed', 'This sign-in request was already used. Start the sign-in again at the application.');
    }
    const to = { acsUrl, requestId: req.id, relayState };
    // Another Version (SAML core 4.1): VersionMismatch at the registered ACS, nothing else of it read.
    if (req.versionMismatch) return postStatus(deps, ctx, sp, to, versionStatus(req.versionMismatch));
    // What cannot be given is said to the SP at its ACS, at once (SAML core 3.2.2.2, 3.4.1.1).
    const refusal = requestRefusal(req, sp);
    if (refusal) return postStatus(deps, ctx, sp, to, refusal);
    // A sign-in forced to happen again cannot be passive (SAML core 3.4.1: IsPassive must not take the screen).
    if (req.isPassive && req.forceAuthn) return postStatus(deps, ctx, sp, to, 'NoPassive');
    const allowed = allowedOutcomes(sp, req.requestedAuthnContext);
    // Nothing a sign-in here can say is what the SP asked for (SAML core 3.3.2.2.1): said at once.
    if (!allowed.password && !allowed.mfa) return postStatus(deps, ctx, sp, to, 'NoAuthnContext');
    await begin(ctx, sp, {
      spId: sp.id, requestId: req.id, acsUrl, relayState, forceAuthn: req.forceAuthn, isPassive: req.isPassive, allowed,
      ...(req.subjectNameId !== null ? { subjectNameId: req.subjectNameId } : {}),
    });
  };
  router.get('/sso', noHead('GET, POST'), sso);
  router.post('/sso', formBody(SAML_FORM_LIMIT), sso);

  // IdP-initiated SSO, for SPs registered with idpInitiated: /saml/start/<id>?RelayState=...
  router.get('/start/:sp', noHead('GET'), async (ctx) => {
    const sp = deps.sps.find((s) => s.id === ctx.params.sp);
    if (!sp || !sp.idpInitiated) throw new SamlError(404, 'unknown_sp', 'No service provider here takes sign-ins started at the identity provider.');
    const relay = ctx.query.RelayState;
    if (relay !== undefined && !relayStateUsable(relay)) throw new SamlError(400, 'malformed', 'RelayState is not usable (at most 1024 bytes).');
    await begin(ctx, sp, { spId: sp.id, requestId: null, acsUrl: defaultAcs(sp), relayState: relay ?? null, forceAuthn: false, isPassive: false });
  });

  /** The signed LogoutResponse, to the SP's SLO endpoint by its binding. */
  const answerLogout = async (ctx: Context, sp: ServiceProvider, slo: NonNullable<ServiceProvider['slo']>, inResponseTo: string, relayState: string | null, answer: { partial: boolean } | { status: StatusCodes }) => {
    const xml = buildLogoutResponse({ issuer: issuerFor(sp, deps.issuer), destination: slo.url, inResponseTo, now: deps.now(), ...answer });
    if (slo.binding === 'HTTP-Redirect') {
      const q = signRedirect({ name: 'SAMLResponse', value: encodeRedirect(xml), relayState }, (await deps.key()).privateKey);
      ctx.redirect(`${slo.url}${slo.url.includes('?') ? '&' : '?'}${q}`);
      return;
    }
    postForm(ctx, slo.url, { SAMLResponse: Buffer.from(signElement(xml, 'LogoutResponse', await deps.key())).toString('base64'), RelayState: relayState });
  };

  const GUESSABLE_NAMEID = new Set(['username', 'email', 'upn', 'displayName']);
  const slo = async (ctx: Context) => {
    const { el, sp, relayState, signed } = readIncoming(ctx, 'LogoutRequest', byEntity);
    const req = readLogoutRequest(el);
    // Another Version with no SLO endpoint to answer at: refused here, as before.
    if (req.versionMismatch && !sp.slo) throw new SamlError(400, 'malformed', 'Only SAML 2.0 is spoken here.');
    checkDestination(req.destination, sloUrl, signed, 'logout');
    checkIssueInstant(req.issueInstant, deps.now());
    // SAML core 3.7.1: a LogoutRequest past its NotOnOrAfter is not acted on (red-team: one from 2001 was).
    if (req.notOnOrAfter !== null && !(samlInstant(req.notOnOrAfter) > deps.now())) throw new SamlError(400, 'expired', 'This logout request has expired (NotOnOrAfter).');
    if (!(await deps.store.firstUse(sp.id, req.id, REQUEST_MAX_AGE_MS / 1000 + 600))) throw new SamlError(400, 'replayed', 'This logout request was already used.');
    // Another Version (SAML core 4.1): VersionMismatch at the SP's SLO endpoint, and nothing ended.
    if (req.versionMismatch) return answerLogout(ctx, sp, sp.slo!, req.id, relayState, { status: versionStatus(req.versionMismatch) });
    // The IdP session the SP's SessionIndex names (when it is the SP's and the same subject), else this browser's.
    // Other apps the ended session signed in to are not told (no front-channel propagation): the answer
    // then says PartialLogout (SAML core 3.7.3.2).
    let ended = false;
    let others = false;
    const otherParticipants = (session: IdpSession | null) => !!session?.clients.some((c) => c !== `saml.${sp.id}` && c !== ACCOUNT_CLIENT_ID);
    for (const index of req.sessionIndexes) {
      const issued = await deps.store.findSession(index);
      if (!issued || issued.spId !== sp.id || issued.nameId !== req.nameId) continue;
      await deps.store.deleteSession(index);
      if (issued.sessionUid) {
        others ||= otherParticipants(await deps.idpSessions.find(issued.sessionUid));
        await deps.idpSessions.end(ctx, issued.sessionUid);
        ended = true;
      }
    }
    // Without a SessionIndex of ours, this browser's session ends only when the request names its
    // account as this SP knows it, and only when this SP was given an assertion in this session, its
    // request signed or not (red-team: an unsigned LogoutRequest naming nobody, or naming a username
    // or an e-mail address anyone can guess through an SP the user never used, sent through a
    // cross-site link, signed the user out of the IdP; so did a signed one from an SP the user never
    // used, which knows the NameID other SPs are given).
    if (!ended) {
      const found = await deps.idpSessions.current(ctx);
      const current = found && await deps.store.issuedTo(found.uid, sp.id) ? found : null;
      const account = current ? await deps.accounts.findById(current.accountId) : null;
      // An unsigned request naming a NameID anyone can guess (a username, an e-mail address) needs
      // one of our SessionIndexes: a cross-site link could name it (red-team, samlify round).
      const guessable = !signed && GUESSABLE_NAMEID.has(sp.nameIdSource);
      if (current && account && !guessable && req.nameId !== null && subjectFor(sp, account).nameId === req.nameId) {
        others ||= otherParticipants(current);
        await deps.idpSessions.end(ctx, current.uid);
      }
    }
    await deps.audit.record({ type: 'saml.logout', clientId: `saml.${sp.id}`, ip: ctx.ip, detail: { sp: sp.entityId } });
    if (!sp.slo) {
      ctx.type = 'html';
      ctx.body = deps.views.render('logged-out', { title: 'Signed out', clientName: sp.name, notice: null });
      return;
    }
    await answerLogout(ctx, sp, sp.slo, req.id, relayState, { partial: others });
  };
  router.get('/slo', noHead('GET, POST'), slo);
  router.post('/slo', formBody(SAML_FORM_LIMIT), slo);

  return [router, ...finishRouters(deps)];
}
