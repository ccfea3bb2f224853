import type { Context } from 'koa';
import { HttpError } from '../http/errors.js';
import type { InteractionDeps } from './deps.js';
import { withdrawChallenge } from './second-factor/push.js';
import { finishInteraction, loadInteraction, type LoadedInteraction } from './load.js';

const SCOPE_TEXT: Record<string, string> = {
  openid: 'Know who you are',
  profile: 'See your name and username',
  email: 'See your e-mail address',
  offline_access: 'Stay signed in (keep access while you are away)',
};

export async function renderConsent(ctx: Context, deps: InteractionDeps, it: LoadedInteraction) {
  const missing = (it.details.prompt.details.missingOIDCScope as string[] | undefined) ?? [];
  const account = it.details.session?.accountId ? await deps.accounts.findById(it.details.session.accountId) : null;
  ctx.type = 'html';
  ctx.body = deps.views.render('consent', {
    title: 'Allow access?',
    uid: it.uid,
    csrf: deps.csrf.token(it.uid),
    clientName: it.clientName,
    scopes: missing.map((s) => SCOPE_TEXT[s] ?? s),
    username: account?.username ?? '',
  });
}

/** POST /interaction/:uid/confirm — grants what the consent prompt found missing, nothing more. */
export async function postConsent(ctx: Context, deps: InteractionDeps): Promise<void> {
  const it = await loadInteraction(ctx, deps);
  const body = (ctx.request.body ?? {}) as Record<string, unknown>;
  if (!deps.csrf.valid(it.uid, body.csrf)) throw new HttpError(403, 'csrf', 'The form has expired. Go back and try again.');
  if (it.details.prompt.name !== 'consent') throw new HttpError(400, 'invalid_request', 'This sign-in does not ask for consent now.');
  const { details } = it;
  const accountId = details.session!.accountId;
  const { Grant } = deps.provider;
  const grant = details.grantId ? await Grant.find(details.grantId) : new Grant({ accountId, clientId: it.clientId });
  if (!grant) throw new HttpError(400, 'invalid_request', 'The grant for this sign-in is gone. Start again.');
  const prompt = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
  if (prompt.missingOIDCScope) grant.addOIDCScope(prompt.missingOIDCScope.join(' '));
  if (prompt.missingOIDCClaims) grant.addOIDCClaims(prompt.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(prompt.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
  const grantId = await grant.save();
  await deps.audit.record({ type: 'consent.granted', accountId, clientId: it.clientId, ip: ctx.ip, detail: { scopes: prompt.missingOIDCScope ?? [] } });
  await finishInteraction(ctx, deps, { consent: { grantId } });
}

/** GET or POST /interaction/:uid/abort — the user said no: access_denied back to the app. */
export async function abort(ctx: Context, deps: InteractionDeps): Promise<void> {
  const it = await loadInteraction(ctx, deps);
  if (ctx.method === 'POST') {
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    if (!deps.csrf.valid(it.uid, body.csrf)) throw new HttpError(403, 'csrf', 'The form has expired. Go back and try again.');
  }
  // A request still on the phone stands for nothing now: withdraw it.
  const state = await deps.signins.get(it.uid);
  if (state?.challengeId) await withdrawChallenge(deps.secondFactor, state.challengeId);
  await deps.signins.delete(it.uid);
  await finishInteraction(ctx, deps, { error: 'access_denied', error_description: 'The user cancelled the sign-in.' });
}
