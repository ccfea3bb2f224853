import Router from '@koa/router';
import type { Context } from 'koa';
import type { AccountStore } from '../accounts/store.js';
import type { AuditLog } from '../audit/types.js';
import { formBody } from '../http/body.js';
import type { Views } from '../http/views.js';
import type { IdpSessions } from '../oidc/sessions.js';
import { rpLogin } from '../rp/oidc-login.js';
import { SamlError } from './errors.js';
import { classRefFor, subjectFor } from './identity.js';
import { certificatePem, type SamlSigningKey } from './keys.js';
import {
  buildErrorResponse, buildLogoutResponse, buildMetadata, buildResponse, checkIssueInstant, chooseAcs, decodePost, decodeRedirect,
  defaultAcs, encodeRedirect, newId, readAuthnRequest, readLogoutRequest, REQUEST_MAX_AGE_MS,
} from './messages.js';
import { postForm } from './page.js';
import type { ServiceProvider } from './sp-config.js';
import type { PendingSso, SamlStore } from './store.js';
import { child, NS, parseXml, signElement, signRedirect, text, verifiedRoot, verifyRedirectSignature } from './xml.js';

export interface SamlDeps {
  issuer: string;
  sps: readonly ServiceProvider[];
  /** The signing key, loaded (or made, at the first use) once. */
  key: () => Promise<SamlSigningKey>;
  store: SamlStore;
  accounts: AccountStore;
  audit: AuditLog;
  idpSessions: IdpSessions;
  views: Views;
  /** How long an SSO session lives at most: a SessionIndex is remembered that long. */
  sessionMaxAgeSeconds: number;
  now: () => number;
}

/** The IdP's SAML entity ID (its metadata URL). */
export const samlEntityId = (issuer: string): string => `${issuer}/saml/metadata`;
/** Where a SAML SP's sign-in goes through the IdP's own OIDC authorization (src/saml/internal-client.ts). */
export const spBasePath = (spId: string): string => `/saml/sp/${spId}`;
const PENDING_COOKIE = 'saml_pending';
const MAX_RELAY_STATE = 1024;

/**
 * The SAML front door (docs/saml.md). It validates the AuthnRequest, keeps it for a while, and sends
 * the browser through the IdP's own OIDC authorization under the SP's internal client, so the
 * same pages, session policy, throttles and push run; back from it, it answers with the
 * SAMLResponse. No sign-in logic lives here.
 */
export function samlRoutes(deps: SamlDeps): Router[] {
  const router = new Router({ prefix: '/saml' });
  const entityId = samlEntityId(deps.issuer);
  const ssoUrl = `${deps.issuer}/saml/sso`;
  const sloUrl = `${deps.issuer}/saml/slo`;
  const byEntity = new Map(deps.sps.map((sp) => [sp.entityId, sp]));
  const secure = deps.issuer.startsWith('https:');
  const cookieOpts = (spId: string) => ({ httpOnly: true, sameSite: 'lax' as const, signed: true, path: spBasePath(spId), secure, overwrite: true });
  const issuerFor = (sp: ServiceProvider) => sp.issuer ?? entityId;

  router.get('/metadata', async (ctx) => {
    ctx.type = 'application/samlmetadata+xml';
    ctx.body = buildMetadata({ entityId, ssoUrl, sloUrl, certificate: (await deps.key()).certificate });
  });
  // Microsoft 365 never reads metadata: the admin uploads this certificate (docs/saml.md).
  router.get('/certificate', async (ctx) => {
    const key = await deps.key();
    ctx.type = 'text/plain';
    ctx.body = ctx.query.format === 'base64' ? `${key.certificate}\n` : certificatePem(key);
  });

  /** The message of a Redirect- or POST-binding request, and the element to read (verified where signed). */
  const incoming = (ctx: Context, param: 'SAMLRequest', expect: 'AuthnRequest' | 'LogoutRequest'): { el: Element; sp: ServiceProvider; relayState: string | null } => {
    const post = ctx.method === 'POST';
    const src = (post ? ctx.request.body : ctx.query) as Record<string, unknown>;
    const value = src[param];
    const relay = src.RelayState;
    if (typeof value !== 'string' || value === '') throw new SamlError(400, 'malformed', `The request carries no ${param}.`);
    if (relay !== undefined && (typeof relay !== 'string' || relay.length > MAX_RELAY_STATE)) throw new SamlError(400, 'malformed', 'RelayState is not usable (at most 1024 characters).');
    const xml = post ? decodePost(value) : decodeRedirect(value);
    const doc = parseXml(xml);
    const root = doc.documentElement!;
    if (root.namespaceURI !== NS.protocol || root.localName !== expect) throw new SamlError(400, 'malformed', `Expected a samlp:${expect}.`);
    // The Issuer names whose certificate to verify with; after verifying, only signed content is read.
    const sp = byEntity.get(text(child(root, NS.assertion, 'Issuer')) ?? '');
    if (!sp) throw new SamlError(403, 'unknown_sp', 'This service provider is not registered with this identity provider.');
    let el: Element = root;
    if (post) {
      const signed = child(root, NS.dsig, 'Signature') !== null;
      if (sp.requestsSigned && !signed) throw new SamlError(403, 'signature_required', 'This service provider signs its requests, and this one is not signed.');
      if (signed) {
        if (!sp.certificates.length) throw new SamlError(403, 'signature_invalid', 'The request is signed but no certificate is registered for this service provider.');
        el = verifiedRoot(xml, doc, sp.certificates);
      }
    } else {
      const signed = typeof ctx.query.Signature === 'string';
      if (sp.requestsSigned && !signed) throw new SamlError(403, 'signature_required', 'This service provider signs its requests, and this one is not signed.');
      if (signed && !(sp.certificates.length && verifyRedirectSignature(ctx.querystring, param, sp.certificates))) {
        throw new SamlError(403, 'signature_invalid', 'The signature of the request does not verify with the service provider\'s certificate.');
      }
    }
    if (text(child(el, NS.assertion, 'Issuer')) !== sp.entityId) throw new SamlError(403, 'unknown_sp', 'The signed request names another issuer.');
    return { el, sp, relayState: typeof relay === 'string' ? relay : null };
  };

  /** Keeps the pending sign-in and sends the browser to the SP's internal OIDC sign-in. */
  const begin = async (ctx: Context, sp: ServiceProvider, pending: PendingSso) => {
    const id = await deps.store.savePending(pending, REQUEST_MAX_AGE_MS / 1000);
    ctx.cookies.set(PENDING_COOKIE, id, { ...cookieOpts(sp.id), maxAge: REQUEST_MAX_AGE_MS });
    ctx.status = 303;
    ctx.redirect(`${spBasePath(sp.id)}/login${pending.forceAuthn ? '?force=1' : pending.isPassive ? '?passive=1' : ''}`);
  };

  const sso = async (ctx: Context) => {
    const { el, sp, relayState } = incoming(ctx, 'SAMLRequest', 'AuthnRequest');
    const req = readAuthnRequest(el);
    if (req.destination !== null && req.destination !== ssoUrl) throw new SamlError(400, 'wrong_destination', 'The request\'s Destination is not this identity provider\'s SSO endpoint.');
    checkIssueInstant(req.issueInstant, deps.now());
    const acsUrl = chooseAcs(req, sp);
    // An AuthnRequest is answered once (atomic in Redis): a replayed one is refused.
    if (!(await deps.store.firstUse(sp.id, req.id, REQUEST_MAX_AGE_MS / 1000 + 600))) {
      throw new SamlError(400, 'replayed', 'This sign-in request was already used. Start the sign-in again at the application.');
    }
    await begin(ctx, sp, { spId: sp.id, requestId: req.id, acsUrl, relayState, forceAuthn: req.forceAuthn, isPassive: req.isPassive });
  };
  router.get('/sso', sso);
  router.post('/sso', formBody(), sso);

  // IdP-initiated SSO, for SPs registered with idpInitiated: /saml/start/<id>?RelayState=...
  router.get('/start/:sp', async (ctx) => {
    const sp = deps.sps.find((s) => s.id === ctx.params.sp);
    if (!sp || !sp.idpInitiated) throw new SamlError(404, 'unknown_sp', 'No service provider here takes sign-ins started at the identity provider.');
    const relay = ctx.query.RelayState;
    if (relay !== undefined && (typeof relay !== 'string' || relay.length > MAX_RELAY_STATE)) throw new SamlError(400, 'malformed', 'RelayState is not usable (at most 1024 characters).');
    await begin(ctx, sp, { spId: sp.id, requestId: null, acsUrl: defaultAcs(sp), relayState: relay ?? null, forceAuthn: false, isPassive: false });
  });

  const slo = async (ctx: Context) => {
    const { el, sp, relayState } = incoming(ctx, 'SAMLRequest', 'LogoutRequest');
    const req = readLogoutRequest(el);
    if (req.destination !== null && req.destination !== sloUrl) throw new SamlError(400, 'wrong_destination', 'The request\'s Destination is not this identity provider\'s logout endpoint.');
    checkIssueInstant(req.issueInstant, deps.now());
    if (!(await deps.store.firstUse(sp.id, req.id, REQUEST_MAX_AGE_MS / 1000 + 600))) throw new SamlError(400, 'replayed', 'This logout request was already used.');
    // The IdP session the SP's SessionIndex names (when it is the SP's and the same subject), else this browser's.
    let ended = false;
    for (const index of req.sessionIndexes) {
      const issued = await deps.store.findSession(index);
      if (!issued || issued.spId !== sp.id || issued.nameId !== req.nameId) continue;
      await deps.store.deleteSession(index);
      if (issued.sessionUid) { await deps.idpSessions.end(ctx, issued.sessionUid); ended = true; }
    }
    if (!ended) {
      const current = await deps.idpSessions.current(ctx);
      if (current) await deps.idpSessions.end(ctx, current.uid);
    }
    await deps.audit.record({ type: 'saml.logout', clientId: `saml.${sp.id}`, ip: ctx.ip, detail: { sp: sp.entityId } });
    if (!sp.slo) {
      ctx.type = 'html';
      ctx.body = deps.views.render('logged-out', { title: 'Signed out', clientName: sp.name, notice: null });
      return;
    }
    const xml = buildLogoutResponse({ issuer: issuerFor(sp), destination: sp.slo.url, inResponseTo: req.id, now: deps.now() });
    if (sp.slo.binding === 'HTTP-Redirect') {
      const q = signRedirect({ name: 'SAMLResponse', value: encodeRedirect(xml), relayState }, (await deps.key()).privateKey);
      ctx.redirect(`${sp.slo.url}${sp.slo.url.includes('?') ? '&' : '?'}${q}`);
      return;
    }
    postForm(ctx, sp.slo.url, { SAMLResponse: Buffer.from(signElement(xml, 'LogoutResponse', await deps.key())).toString('base64'), RelayState: relayState });
  };
  router.get('/slo', slo);
  router.post('/slo', formBody(), slo);

  /** The pending sign-in this browser started for this SP (taken: it is finished once). */
  const takePending = async (ctx: Context, sp: ServiceProvider): Promise<PendingSso | null> => {
    const id = ctx.cookies.get(PENDING_COOKIE, { signed: true });
    ctx.cookies.set(PENDING_COOKIE, null, cookieOpts(sp.id));
    const pending = id ? await deps.store.takePending(id) : null;
    return pending?.spId === sp.id ? pending : null;
  };
  const failPage = (ctx: Context, description: string) => {
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = deps.views.render('error', { title: 'Sign-in failed', error: 'login_failed', description });
  };

  const perSp = deps.sps.map((sp) => {
    const r = new Router({ prefix: spBasePath(sp.id) });
    rpLogin(r, {
      issuer: deps.issuer, clientId: `saml.${sp.id}`, basePath: spBasePath(sp.id), scope: 'openid',
      authParams: (ctx): Record<string, string> => (ctx.query.force ? { prompt: 'login' } : ctx.query.passive ? { prompt: 'none' } : {}),
      async onError(ctx, message) {
        const pending = await takePending(ctx, sp);
        // A sign-in that ended without a login (the user gave up, IsPassive without a session): the
        // SP hears it as a SAML status (NoPassive or AuthnFailed, SAML core 3.2.2.2), not a page of ours.
        if (pending) {
          const status = `urn:oasis:names:tc:SAML:2.0:status:${pending.isPassive ? 'NoPassive' : 'AuthnFailed'}`;
          const xml = buildErrorResponse({ issuer: issuerFor(sp), acsUrl: pending.acsUrl, inResponseTo: pending.requestId, status, now: deps.now() });
          ctx.status = 200;
          return postForm(ctx, pending.acsUrl, { SAMLResponse: Buffer.from(signElement(xml, 'Response', await deps.key())).toString('base64'), RelayState: pending.relayState });
        }
        failPage(ctx, message);
      },
      async onSignedIn(ctx, tokens) {
        const pending = await takePending(ctx, sp);
        if (!pending) return failPage(ctx, 'This sign-in was not started here, was already finished, or took too long. Start it again at the application.');
        const claims = tokens.claims()!;
        const account = await deps.accounts.findById(claims.sub);
        if (!account || account.disabled) return failPage(ctx, 'This account cannot sign in.');
        const amr = Array.isArray(claims.amr) ? claims.amr.filter((m): m is string => typeof m === 'string') : [];
        const { nameId, attributes } = subjectFor(sp, account);
        if (!nameId) return failPage(ctx, `Your account has no value for what ${sp.name} identifies users by. Ask an administrator.`);
        const now = deps.now();
        const sessionIndex = newId();
        const session = await deps.idpSessions.current(ctx);
        await deps.store.saveSession(sessionIndex, { spId: sp.id, nameId, sessionUid: session?.uid ?? null }, deps.sessionMaxAgeSeconds);
        let xml = buildResponse({
          issuer: issuerFor(sp), sp, acsUrl: pending.acsUrl, inResponseTo: pending.requestId, nameId, attributes,
          classRef: classRefFor(sp, amr), authnInstant: typeof claims.auth_time === 'number' ? claims.auth_time * 1000 : now, sessionIndex, now,
        });
        if (sp.wantAssertionsSigned || !sp.wantResponseSigned) xml = signElement(xml, 'Assertion', await deps.key());
        if (sp.wantResponseSigned) xml = signElement(xml, 'Response', await deps.key());
        await deps.audit.record({ type: 'saml.assertion', accountId: account.id, clientId: `saml.${sp.id}`, ip: ctx.ip, detail: { sp: sp.entityId, amr, idpInitiated: pending.requestId === null } });
        postForm(ctx, pending.acsUrl, { SAMLResponse: Buffer.from(xml).toString('base64'), RelayState: pending.relayState });
      },
    });
    return r;
  });
  return [router, ...perSp];
}
