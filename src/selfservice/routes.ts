import { randomBytes } from 'node:crypto';
import Router from '@koa/router';
import { z } from 'zod';
import type { Context } from 'koa';
import { DEFAULT_ACR, type ClientRegistration } from '../config/clients.js';
import type { DeviceRequest, DeviceService } from '../devices/service.js';
import { hadAuthenticator } from '../devices/registry.js';
import type { AccountRecord, AccountStore } from '../accounts/store.js';
import { formBody } from '../http/body.js';
import type { Csrf } from '../http/csrf.js';
import { HttpError } from '../http/errors.js';
import { csrfForm, parseForm } from '../http/form.js';
import type { Views } from '../http/views.js';
import { t } from '../i18n/index.js';
import type { IdpSessions } from '../oidc/sessions.js';
import { mayChangeDevices, sessionSatisfies, type SessionLifetime } from '../oidc/session-policy.js';
import { firstFactorEnded } from '../signin/finish.js';
import { rpLogin } from '../rp/oidc-login.js';
import { inPageLanguage } from './device-errors.js';
import { deviceView, enrollStatus, utcText } from './device-view.js';
import { ACCOUNT_CLIENT_ID } from './client-id.js';

/** The new name is checked by the device service (deviceNameSchema); here: one text field (its message in the request's language). */
const renameForm = z.object({ name: z.string({ error: () => t('account.error.noName') }).trim() });
/** The enrollment page's poll: the newest device the account had when the code was shown, if any. */
const statusQuery = z.object({ after: z.string().max(40).refine((v) => v === '' || !Number.isNaN(Date.parse(v)), 'after: not a time').optional() });

/**
 * Whether a phone could open this issuer: not over plain HTTP (a PWA needs HTTPS), and not at a
 * name only this computer knows. Pure.
 */
export function phoneReachable(issuer: string): { https: boolean; localOnly: boolean } {
  const url = new URL(issuer);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const localOnly = host === 'localhost' || host.endsWith('.localhost') || /^127\./.test(host) || host === '::1';
  return { https: url.protocol === 'https:', localOnly };
}

const SESSION_COOKIE = 'account_session';
/** Who issued an enrollment code at /account: the account and the SSO session it was signed in with. */
const selfIssuer = (accountId: string, idpSession: string) => `self:${accountId}:${idpSession}`;

/**
 * The self-service page is a relying app of this IdP like any other (as Keycloak's account console
 * is): signing in to it takes the same factors, so a stolen password alone cannot enroll a new
 * phone for a user who already has one.
 */
export function accountConsoleClient(issuer: string): ClientRegistration {
  return {
    file: '(built in)',
    metadata: {
      client_id: ACCOUNT_CLIENT_ID, client_name: 'Your account', token_endpoint_auth_method: 'none',
      redirect_uris: [`${issuer}/account/callback`], grant_types: ['authorization_code'], response_types: ['code'],
    },
    login: { form: 'two-step', numberMatching: true, noDevice: 'password-only', consent: 'implicit', acr: { ...DEFAULT_ACR } },
  };
}

/**
 * This page's own session: a signed cookie that names the IdP's SSO session it came from (it ends
 * when that ends: sign-out, a new password, a revoked device), what the sign-in proved (amr,
 * auth_time from the ID token) and its own age and last use.
 */
interface AccountSession { accountId: string; sid: string; idp: string; amr: string[]; /** When the user signed in (s). */ authTime: number; createdAt: number; seenAt: number }

export interface SelfServiceDeps {
  issuer: string;
  views: Views;
  csrf: Csrf;
  accounts: AccountStore;
  devices: DeviceService;
  idpSessions: IdpSessions;
  /** SESSION_MAX_AGE and SESSION_IDLE_TIMEOUT apply to this page's session too. */
  lifetime: SessionLifetime;
  /** FIRST_DEVICE: 'admin', an account's first authenticator only with an administrator's enrollment code. */
  firstDevice?: 'self' | 'admin';
  /** Our clock (tests move it). */
  now: () => number;
  /** oidc-provider's clock (the system's): the ID token's auth_time is on it. */
  providerNow: () => number;
}

export function selfServiceRoutes(deps: SelfServiceDeps): Router {
  const { now } = deps;
  const router = new Router({ prefix: '/account' });
  const secure = deps.issuer.startsWith('https:');
  const cookieOpts = { httpOnly: true, sameSite: 'lax' as const, signed: true, path: '/account', secure, overwrite: true };
  const policy = accountConsoleClient(deps.issuer).login;
  /** Who asks, for the audit rows of what is done here: this page's app and the client's IP (ctx.ip: the edge's, TRUST_PROXY aware). */
  const asker = (ctx: Context): DeviceRequest => ({ by: 'account', ip: ctx.ip, clientId: ACCOUNT_CLIENT_ID });

  const setSession = (ctx: Context, s: AccountSession) =>
    ctx.cookies.set(SESSION_COOKIE, Buffer.from(JSON.stringify(s)).toString('base64url'), { ...cookieOpts, maxAge: deps.lifetime.idleSeconds * 1000 });
  /** The cookie as signed by us, whatever its age. */
  const readCookie = (ctx: Context): AccountSession | null => {
    const raw = ctx.cookies.get(SESSION_COOKIE, { signed: true });
    if (!raw) return null;
    try {
      const s = JSON.parse(Buffer.from(raw, 'base64url').toString()) as AccountSession;
      return typeof s.idp === 'string' && Array.isArray(s.amr) && typeof s.createdAt === 'number' ? s : null;
    } catch {
      return null;
    }
  };
  /**
   * A live session: within its idle and absolute limits (NIST SP 800-63B 7.2), its SSO session
   * still there for the same account, and its factors still enough for this page (a password-only
   * session stops counting once the account has a device, as SSO does). Each use slides the idle limit.
   */
  const session = async (ctx: Context): Promise<{ s: AccountSession; account: AccountRecord; hasDevices: boolean } | null> => {
    const s = readCookie(ctx);
    const at = now();
    if (!s || at - s.seenAt >= deps.lifetime.idleSeconds * 1000 || at - s.createdAt >= deps.lifetime.maxAgeSeconds * 1000) return null;
    const idp = await deps.idpSessions.find(s.idp);
    if (!idp || idp.accountId !== s.accountId) return null;
    const account = await deps.accounts.findById(s.accountId);
    if (!account) return null;
    // An end of the account's sessions since this page's sign-in came back (to the millisecond): its
    // SSO session may have been saved back by a request in flight and still count, as a sign-in in
    // the end's very second does (red-team: /account went on renaming phones for the session's life).
    if (firstFactorEnded(s.createdAt, account.sessionsEndedAt ?? null)) return null;
    const hasDevices = hadAuthenticator(await deps.devices.listDevices(account.id));
    if (!sessionSatisfies({ amr: s.amr, policy, accountHasDevices: hasDevices, requestedAcrs: [] })) return null;
    setSession(ctx, { ...s, seenAt: at });
    return { s, account, hasDevices };
  };
  const render = (ctx: Context, view: string, data: Record<string, unknown>) => {
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = deps.views.render(view, { title: t('account.title'), ...data });
  };
  const checkCsrf = (ctx: Context, s: AccountSession) => {
    if (!deps.csrf.valid(`account|${s.sid}`, parseForm(ctx, csrfForm).csrf)) {
      throw new HttpError(403, 'csrf', t('account.error.csrf'));
    }
  };
  /** Every request but the page itself (which sends the browser to sign in): a live session, and on POST its CSRF token. */
  const requireSession = async (ctx: Context, live?: Awaited<ReturnType<typeof session>>) => {
    live ??= await session(ctx);
    if (!live) throw new HttpError(401, 'login_required', t('account.error.ended'));
    if (live.account.disabled) throw new HttpError(403, 'access_denied', t('account.error.disabled'));
    if (ctx.method === 'POST') checkCsrf(ctx, live.s);
    return live;
  };
  /**
   * Enrolling or revoking needs a recent sign-in with the second factor (or, for the very first
   * device, with the password); otherwise the browser signs in again (prompt=login) and comes back.
   */
  const requireRecentSignIn = (ctx: Context, live: { s: AccountSession; hasDevices: boolean }): boolean => {
    if (mayChangeDevices({ amr: live.s.amr, authTime: live.s.authTime, nowSeconds: Math.floor(now() / 1000), accountHasDevices: live.hasDevices })) return true;
    ctx.status = 303;
    ctx.redirect('/account/login?reauth=1');
    return false;
  };

  rpLogin(router, {
    issuer: deps.issuer, clientId: ACCOUNT_CLIENT_ID, basePath: '/account', scope: 'openid',
    // Signing in again to enroll or revoke: a new sign-in, at the second-factor level.
    authParams: (ctx): Record<string, string> => (ctx.query.reauth ? { prompt: 'login', acr_values: policy.acr.mfa } : {}),
    // The sign-in's own words are English (src/rp/oidc-login.ts, or the IdP's error_description):
    // another language says what happened in its own words and keeps them as the reason.
    onError: (ctx, error) => render(ctx, 'error', { title: t('account.error.signInFailed'), error: 'login_failed', description: t('account.error.notFinished', { detail: error }) }),
    // The very SSO session the code was issued in, not another of the same account (red-team: a
    // password-only session from before the first phone finished a code the owner's MFA session made).
    checkCode: async (ctx, code) => (await deps.idpSessions.issuedHere(ctx, code) ? null : t('account.error.otherBrowser')),
    now,
    async onSignedIn(ctx, tokens, _config, began) {
      const claims = tokens.claims()!;
      // The SSO session this sign-in just made or used, so that this page ends when it ends.
      const idp = await deps.idpSessions.current(ctx);
      if (!idp || idp.accountId !== claims.sub || typeof claims.auth_time !== 'number') {
        ctx.status = 400;
        return render(ctx, 'error', { title: t('account.error.signInFailed'), error: 'login_failed', description: t('account.error.otherBrowser') });
      }
      const at = now();
      // auth_time is on oidc-provider's clock (the system's); keep the sign-in's age on ours.
      const age = Math.max(0, Math.floor(deps.providerNow() / 1000) - claims.auth_time);
      setSession(ctx, {
        accountId: claims.sub, sid: randomBytes(16).toString('base64url'), idp: idp.uid,
        amr: Array.isArray(claims.amr) ? claims.amr.filter((m): m is string => typeof m === 'string') : [],
        // Dated from before the code's exchange, which checked the end of sessions until then (session above).
        authTime: Math.floor(at / 1000) - age, createdAt: began, seenAt: at,
      });
      ctx.redirect('/account');
    },
  });

  router.get('/', async (ctx) => {
    const live = await session(ctx);
    if (!live) return ctx.redirect('/account/login');
    const { s, account } = await requireSession(ctx, live);
    const devices = await deps.devices.listDevices(account.id);
    render(ctx, 'account', {
      username: account.username, csrf: deps.csrf.token(`account|${s.sid}`), notice: typeof ctx.query.notice === 'string' ? ctx.query.notice : null,
      firstByAdmin: !live.hasDevices && deps.firstDevice === 'admin',
      devices: devices.map(deviceView), utcText, script: '/static/account.js',
    });
  });

  router.post('/enroll', formBody(), async (ctx) => {
    const live = await requireSession(ctx);
    // FIRST_DEVICE=admin: a password alone never sets up the first authenticator, not even here.
    if (!live.hasDevices && deps.firstDevice === 'admin') throw new HttpError(403, 'access_denied', t('account.error.firstDeviceByAdmin'));
    if (!requireRecentSignIn(ctx, live)) return;
    const { s, account } = live;
    // The page then waits for a device newer than the newest one the account has now.
    const newest = (await deps.devices.listDevices(account.id)).at(-1);
    // Named after the SSO session it was issued in: the code works only while that session lives (devices/enrollment-codes.ts).
    const offer = await deps.devices.issueEnrollment(account.id, selfIssuer(account.id, s.idp), { passwordOnly: !s.amr.includes('mfa'), startedAt: s.createdAt, ip: ctx.ip, clientId: ACCOUNT_CLIENT_ID })
      .catch((err: unknown) => { throw inPageLanguage(err); });
    const expiresAt = offer.expiresAt.toISOString();
    render(ctx, 'account-enroll', {
      ...offer, expiresAt, expiresAtUtc: utcText(expiresAt), after: newest?.createdAt.toISOString() ?? '',
      issuer: deps.issuer, reach: phoneReachable(deps.issuer), csrf: deps.csrf.token(`account|${s.sid}`), script: '/static/account.js',
    });
  });

  /**
   * The enrollment page's poll: has the phone enrolled, and has it confirmed? Needs this page's
   * cookie and its SSO session, but not the factors the page itself needs: enrolling the first
   * device ends a password-only session's right to the page, and the page must still see it happen.
   * It tells nothing but the state and the name of the account's own newest device.
   */
  router.get('/enroll/status', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const s = readCookie(ctx);
    const at = now();
    const idp = s && at - s.seenAt < deps.lifetime.idleSeconds * 1000 && at - s.createdAt < deps.lifetime.maxAgeSeconds * 1000
      ? await deps.idpSessions.find(s.idp) : null;
    if (!s || !idp || idp.accountId !== s.accountId) throw new HttpError(401, 'login_required', t('account.error.ended'));
    const parsed = statusQuery.safeParse(ctx.query);
    if (!parsed.success) throw new HttpError(400, 'invalid_request', 'after: not a time');
    // A session without the second factor watches only the phones its own codes enrolled
    // (red-team: a password-only cookie from before the owner's first phone kept reading the owner's
    // newest device, its name and when it enrolled, for as long as the SSO session lived).
    const own = s.amr.includes('mfa') ? undefined : { enrolledBy: selfIssuer(s.accountId, s.idp) };
    ctx.body = enrollStatus(await deps.devices.listDevices(s.accountId, own), parsed.data.after || null);
  });

  router.post('/devices/:id/rename', formBody(), async (ctx) => {
    const { account } = await requireSession(ctx);
    const { name } = parseForm(ctx, renameForm);
    await deps.devices.renameDevice(account.id, ctx.params.id!, name, asker(ctx)).catch((err: unknown) => { throw inPageLanguage(err); });
    ctx.status = 303;
    ctx.redirect('/account?notice=renamed');
  });

  router.post('/devices/:id/revoke', formBody(), async (ctx) => {
    const live = await requireSession(ctx);
    if (!requireRecentSignIn(ctx, live)) return;
    // The revoke ends every session of the account (app.ts wires onRevoked), this one included.
    await deps.devices.revokeDevice(live.account.id, ctx.params.id!, asker(ctx)).catch((err: unknown) => { throw inPageLanguage(err); });
    ctx.cookies.set(SESSION_COOKIE, null, cookieOpts);
    ctx.status = 303;
    ctx.redirect('/account/signed-out?notice=revoked');
  });

  // Signing out of this page signs this browser out of the IdP too: the SSO session it came from
  // ends on the server, and both cookies go. A copy of the old cookie then names an ended session.
  router.post('/logout', formBody(), async (ctx) => {
    const s = readCookie(ctx);
    if (!s) throw new HttpError(401, 'login_required', t('account.error.ended'));
    checkCsrf(ctx, s);
    const idp = await deps.idpSessions.find(s.idp);
    if (idp?.accountId === s.accountId) await deps.idpSessions.end(ctx, s.idp);
    ctx.cookies.set(SESSION_COOKIE, null, cookieOpts);
    ctx.status = 303;
    ctx.redirect('/account/signed-out');
  });
  router.get('/signed-out', (ctx) => render(ctx, 'logged-out', { title: t('loggedOut.title'), clientName: t('account.signedOutOf'), notice: ctx.query.notice === 'revoked' ? 'revoked' : null }));
  return router;
}
