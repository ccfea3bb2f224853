import type { Context } from 'koa';
import { formBody } from '../http/body.js';
import { HttpError } from '../http/errors.js';
import { chooseUpstreamAcr } from '../oidc/upstream-acr.js';
import type { UpstreamResult } from '../signin/index.js';
import type { InteractionDeps } from './deps.js';
import { checkCsrf, finishInteraction, loadInteraction, seeOther, signInRef, type LoadedInteraction } from './load.js';
import type { InteractionExtension } from './routes.js';
import { answerPush } from './second-factor/push.js';
import { t } from '../i18n/index.js';

/**
 * The OIDC door of MFA-only mode (docs/entra.md): an MFA-only app's sign-in starts from the
 * upstream's `id_token_hint` instead of the password page; the core (src/signin/upstream.ts)
 * verifies it, and the second factor runs on the usual pages. Refusals go back to the app as
 * `access_denied` (`temporarily_unavailable` when the upstream's keys are out of reach), the only
 * errors Entra understands.
 */
const REFUSAL_PAGES = {
  'unknown-user': 'Your account at your organisation is not linked to an account here. Ask your administrator to link it.',
  account_disabled: 'This account cannot sign in.',
  no_device: 'This sign-in needs your phone, and no authenticator is set up for your account. Ask your administrator for an enrollment code.',
} as const;
type Refusal = keyof typeof REFUSAL_PAGES;

/** Whether this interaction's app takes its first factor from upstream. */
export function isUpstreamApp(deps: InteractionDeps, it: LoadedInteraction): boolean {
  return Boolean(deps.clients.get(it.clientId)?.upstream);
}

const deny = (ctx: Context, it: LoadedInteraction, error: 'access_denied' | 'temporarily_unavailable', description: string) =>
  finishInteraction(ctx, it, { error, error_description: description });

/**
 * A password posted into an MFA-only app's sign-in (first-factor.ts): `access_denied` at once, before
 * any password is checked or push sent (red-team: it sent the account's phone a push labelled with the
 * app, Microsoft's sign-in, and an approval left a full session in the poster's browser).
 */
export const refusePassword = (ctx: Context, it: LoadedInteraction) =>
  deny(ctx, it, 'access_denied', 'this app signs in through its upstream identity provider, not with a password here');

function refusalPage(ctx: Context, deps: InteractionDeps, it: LoadedInteraction, refusal: Refusal): void {
  ctx.status = 403;
  ctx.type = 'html';
  ctx.body = deps.views.render('upstream-refused', {
    uid: it.uid, csrf: deps.csrf.token(it.uid), clientName: it.clientName, message: REFUSAL_PAGES[refusal], refusal,
  });
}

/** GET /interaction/:uid for an MFA-only app, before any first factor: the hint is the first factor. */
export async function startUpstream(ctx: Context, deps: InteractionDeps, it: LoadedInteraction): Promise<void> {
  const trust = deps.clients.get(it.clientId)?.upstream;
  if (!trust) throw new HttpError(400, 'invalid_request', t('error.notUpstreamApp'));
  const { params } = it.details;
  // A method kind asked for that this IdP cannot truthfully report ends the sign-in before any push.
  const choice = chooseUpstreamAcr(params.claims, params.acr_values, it.policy.acr.mfa);
  if (!choice.ok) return deny(ctx, it, 'access_denied', `the requested ${choice.reason} cannot be satisfied: this IdP's second factor is possession (otp)`);
  const hint = typeof params.id_token_hint === 'string' ? params.id_token_hint : '';
  const result: UpstreamResult = await deps.signin.upstream(signInRef(ctx, it), { hint, trust, ...(choice.acr ? { acr: choice.acr } : {}) });
  switch (result.kind) {
    case 'invalid':
      if (result.retry) return deny(ctx, it, 'temporarily_unavailable', 'the upstream identity provider\'s keys could not be fetched');
      return deny(ctx, it, 'access_denied', `id_token_hint refused (${result.reason})`);
    case 'replayed': return deny(ctx, it, 'access_denied', 'id_token_hint refused (already used)');
    // The page loaded twice at once (a reload, a prefetch): this request follows the one that used
    // the hint to its second factor rather than end the user's own sign-in as a replay (red-team).
    case 'same-sign-in':
      if (await sameSignInStarted((uid) => deps.signin.state(uid), it.uid, result.msAgo)) return seeOther(ctx, it.uid, 'second-factor');
      // The first request may still be under way (a slow database): "try again in a moment", and
      // nothing ended, rather than tell the app access_denied while that request goes on to ring
      // the phone (red-team). Long after, it has answered (or died): the app hears the refusal, and
      // anything it left is withdrawn.
      if (result.msAgo < SAME_SIGN_IN_SETTLED_MS) throw new HttpError(503, 'temporarily_unavailable', t('error.unavailable'));
      await deps.signin.cancel(it.uid, it.clientId);
      return deny(ctx, it, 'access_denied', 'id_token_hint refused (already used)');
    case 'unknown-user': return refusalPage(ctx, deps, it, 'unknown-user');
    case 'refused': return refusalPage(ctx, deps, it, result.reason);
    case 'choose-second-factor': return seeOther(ctx, it.uid, 'second-factor');
    case 'push': return answerPush(ctx, it.uid, result.push);
  }
}

/** How long after the first use of a hint a second request of its sign-in waits for that sign-in's state. */
export const SAME_SIGN_IN_WAIT_MS = 1000;
/** After this long, the request that first used a hint has answered, whatever its answer. */
export const SAME_SIGN_IN_SETTLED_MS = 10_000;

/**
 * Whether the request of this sign-in that used its hint has saved the sign-in's state; waited for
 * only within SAME_SIGN_IN_WAIT_MS of that use (its few reads take milliseconds), so a request sent
 * later answers at once (red-team: a sign-in whose hint named an unknown user saved no state, and
 * each of thousands of parallel reloads held 2 s and 47 Redis reads).
 */
export async function sameSignInStarted(readState: (uid: string) => Promise<unknown>, uid: string, msAgo: number): Promise<boolean> {
  const until = Date.now() + Math.max(0, SAME_SIGN_IN_WAIT_MS - msAgo);
  for (;;) {
    if (await readState(uid)) return true;
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** POST /interaction/:uid/upstream/refused — the refusal page's button: back to the app with access_denied. */
async function postRefused(ctx: Context, deps: InteractionDeps): Promise<void> {
  const it = await loadInteraction(ctx, deps);
  checkCsrf(ctx, deps, it.uid);
  if (!isUpstreamApp(deps, it)) throw new HttpError(400, 'invalid_request', t('error.notUpstreamApp'));
  const body = (ctx.request.body ?? {}) as Record<string, unknown>;
  const refusal = typeof body.refusal === 'string' && Object.hasOwn(REFUSAL_PAGES, body.refusal) ? body.refusal : 'unknown-user';
  await deny(ctx, it, 'access_denied', refusal === 'unknown-user' ? 'the user is not known to this IdP' : `the user cannot sign in here (${refusal})`);
}

export const upstreamRoutes: InteractionExtension = (router, deps) => {
  router.post('/upstream/refused', formBody(), (ctx) => postRefused(ctx, deps));
};
