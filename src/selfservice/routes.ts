import { randomBytes } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import { DEFAULT_ACR, type ClientRegistration } from '../config/clients.js';
import type { DeviceService } from '../devices/service.js';
import type { AccountStore } from '../accounts/store.js';
import { formBody } from '../http/body.js';
import type { Csrf } from '../http/csrf.js';
import { HttpError } from '../http/errors.js';
import type { Views } from '../http/views.js';
import { rpLogin } from '../rp/oidc-login.js';

export const ACCOUNT_CLIENT_ID = 'account-console';
const SESSION_COOKIE = 'account_session';
const SESSION_MS = 30 * 60_000;

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

interface AccountSession { accountId: string; sid: string; exp: number }

export function selfServiceRoutes(deps: { issuer: string; views: Views; csrf: Csrf; accounts: AccountStore; devices: DeviceService; now?: () => number }): Router {
  const now = deps.now ?? Date.now;
  const router = new Router({ prefix: '/account' });
  const secure = deps.issuer.startsWith('https:');
  const cookieOpts = { httpOnly: true, sameSite: 'lax' as const, signed: true, path: '/account', secure, overwrite: true };

  const session = (ctx: Context): AccountSession | null => {
    const raw = ctx.cookies.get(SESSION_COOKIE, { signed: true });
    if (!raw) return null;
    try {
      const s = JSON.parse(Buffer.from(raw, 'base64url').toString()) as AccountSession;
      return s.exp > now() ? s : null;
    } catch {
      return null;
    }
  };
  const render = (ctx: Context, view: string, data: Record<string, unknown>) => {
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = deps.views.render(view, { title: 'Your account', ...data });
  };
  /** Every POST: a live session and its CSRF token. */
  const requireSession = async (ctx: Context) => {
    const s = session(ctx);
    if (!s) throw new HttpError(401, 'login_required', 'Your session on this page has ended. Sign in again.');
    const account = await deps.accounts.findById(s.accountId);
    if (!account || account.disabled) throw new HttpError(403, 'access_denied', 'This account cannot use this page.');
    if (ctx.method === 'POST' && !deps.csrf.valid(`account|${s.sid}`, (ctx.request.body as Record<string, unknown>)?.csrf)) {
      throw new HttpError(403, 'csrf', 'The form has expired. Reload the page and try again.');
    }
    return { s, account };
  };

  rpLogin(router, {
    issuer: deps.issuer, clientId: ACCOUNT_CLIENT_ID, basePath: '/account', scope: 'openid',
    onError: (ctx, error) => render(ctx, 'error', { title: 'Sign-in failed', error: 'login_failed', description: error }),
    async onSignedIn(ctx, tokens) {
      const value: AccountSession = { accountId: tokens.claims()!.sub, sid: randomBytes(16).toString('base64url'), exp: now() + SESSION_MS };
      ctx.cookies.set(SESSION_COOKIE, Buffer.from(JSON.stringify(value)).toString('base64url'), { ...cookieOpts, maxAge: SESSION_MS });
      ctx.redirect('/account');
    },
  });

  router.get('/', async (ctx) => {
    if (!session(ctx)) return ctx.redirect('/account/login');
    const { s, account } = await requireSession(ctx);
    const devices = await deps.devices.listDevices(account.id);
    render(ctx, 'account', {
      username: account.username, csrf: deps.csrf.token(`account|${s.sid}`), notice: typeof ctx.query.notice === 'string' ? ctx.query.notice : null,
      devices: devices.map((d) => ({ id: d.id, name: d.name, status: d.status, mode: d.pushStatus === 'active' ? 'Push' : d.pushStatus === 'dead' ? 'Push stopped working' : 'Checks by itself (poll)', enrolled: d.createdAt.toISOString().slice(0, 10), lastUsed: d.lastUsedAt?.toISOString().slice(0, 16).replace('T', ' ') ?? 'never' })),
    });
  });

  router.post('/enroll', formBody(), async (ctx) => {
    const { s, account } = await requireSession(ctx);
    const offer = await deps.devices.issueEnrollment(account.id, `self:${account.id}`);
    render(ctx, 'account-enroll', { ...offer, expiresAt: offer.expiresAt.toISOString(), csrf: deps.csrf.token(`account|${s.sid}`) });
  });

  router.post('/devices/:id/rename', formBody(), async (ctx) => {
    const { account } = await requireSession(ctx);
    const name = (ctx.request.body as Record<string, unknown>).name;
    if (typeof name !== 'string') throw new HttpError(400, 'invalid_request', 'Give the device a name.');
    await deps.devices.renameDevice(account.id, ctx.params.id!, name.trim());
    ctx.status = 303;
    ctx.redirect('/account?notice=renamed');
  });

  router.post('/devices/:id/revoke', formBody(), async (ctx) => {
    const { account } = await requireSession(ctx);
    await deps.devices.revokeDevice(account.id, ctx.params.id!);
    ctx.status = 303;
    ctx.redirect('/account?notice=revoked');
  });

  router.post('/logout', formBody(), async (ctx) => {
    await requireSession(ctx);
    ctx.cookies.set(SESSION_COOKIE, null, cookieOpts);
    ctx.status = 303;
    ctx.redirect('/account/signed-out');
  });
  router.get('/signed-out', (ctx) => render(ctx, 'logged-out', { title: 'Signed out', clientName: 'Your account' }));
  return router;
}
