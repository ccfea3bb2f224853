import type { Context } from 'koa';
import { HttpError } from '../http/errors.js';
import { t } from '../i18n/index.js';
import type { InteractionDeps } from './deps.js';
import { checkCsrf, finishInteraction, loadInteraction, type LoadedInteraction } from './load.js';

/**
 * What the user is asked to allow, in words (src/i18n/ keys). Sets, not object literals: the keys
 * come from the request, and a plain object would answer `constructor` or `toString` from its prototype.
 */
const SCOPES = new Set(['openid', 'profile', 'email', 'offline_access'] as const);
/** Claims a relying app can ask for one by one with the `claims` parameter (OIDC Core 5.5). */
const CLAIMS = new Set(['name', 'preferred_username', 'email', 'email_verified'] as const);
type Known<S> = S extends Set<infer K> ? K : never;
const scopeText = (s: string) => (SCOPES.has(s as Known<typeof SCOPES>) ? t(`consent.scope.${s as Known<typeof SCOPES>}`) : t('consent.scope.other', { scope: s }));
const claimText = (c: string) => (CLAIMS.has(c as Known<typeof CLAIMS>) ? t(`consent.claim.${c as Known<typeof CLAIMS>}`) : t('consent.claim.other', { claim: c }));

/**
 * Every line of what the grant will add: the missing scopes and the claims asked for through the
 * `claims` parameter. Those claims are granted on Allow (postConsent adds missingOIDCClaims), so a
 * page that showed only scopes released an e-mail address the user was never told about.
 */
export function consentLines(missingScopes: readonly string[], missingClaims: readonly string[]): string[] {
  const lines = [
    ...missingScopes.map(scopeText),
    ...missingClaims.map(claimText),
  ];
  return [...new Set(lines)];
}

/**
 * What the page lists: what is missing, or, when the app asked for consent again with nothing new
 * (`prompt=consent`, which oidc-provider wants with `offline_access`), everything it asked for
 * (red-team: the page said "<app> asks to:" over an empty list).
 */
export function linesToShow(missingScopes: readonly string[], missingClaims: readonly string[], requestedScope: unknown): string[] {
  if (missingScopes.length || missingClaims.length) return consentLines(missingScopes, missingClaims);
  const asked = typeof requestedScope === 'string' ? requestedScope.split(' ').filter(Boolean) : [];
  return consentLines(asked, []);
}

export async function renderConsent(ctx: Context, deps: InteractionDeps, it: LoadedInteraction) {
  const details = it.details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
  const account = it.details.session?.accountId ? await deps.accounts.findById(it.details.session.accountId) : null;
  ctx.type = 'html';
  ctx.body = deps.views.render('consent', {
    uid: it.uid,
    csrf: deps.csrf.token(it.uid),
    clientName: it.clientName,
    scopes: linesToShow(details.missingOIDCScope ?? [], details.missingOIDCClaims ?? [], it.details.params.scope),
    username: account?.username ?? '',
  });
}

/** POST /interaction/:uid/confirm — grants what the consent prompt found missing, nothing more. */
export async function postConsent(ctx: Context, deps: InteractionDeps): Promise<void> {
  const it = await loadInteraction(ctx, deps);
  checkCsrf(ctx, deps, it.uid);
  if (it.details.prompt.name !== 'consent') throw new HttpError(400, 'invalid_request', t('error.noConsentNow'));
  const { details } = it;
  // A consent stands on its session's sign-in: none (unbound from a signed-out one), nothing to grant.
  const accountId = details.session?.accountId;
  if (!accountId) throw new HttpError(400, 'session_not_found', t('error.session_not_found'));
  const { Grant } = deps.provider;
  const grant = details.grantId ? await Grant.find(details.grantId) : new Grant({ accountId, clientId: it.clientId });
  if (!grant) throw new HttpError(400, 'invalid_request', t('error.grantGone'));
  const prompt = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
  if (prompt.missingOIDCScope) grant.addOIDCScope(prompt.missingOIDCScope.join(' '));
  if (prompt.missingOIDCClaims) grant.addOIDCClaims(prompt.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(prompt.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
  const grantId = await grant.save();
  await deps.audit.record({ type: 'consent.granted', accountId, clientId: it.clientId, ip: ctx.ip, detail: { scopes: prompt.missingOIDCScope ?? [], claims: prompt.missingOIDCClaims ?? [] } });
  await finishInteraction(ctx, it, { consent: { grantId } });
}

/** GET or POST /interaction/:uid/abort — the user said no: access_denied back to the app. */
export async function abort(ctx: Context, deps: InteractionDeps): Promise<void> {
  const it = await loadInteraction(ctx, deps);
  if (ctx.method === 'POST') checkCsrf(ctx, deps, it.uid);
  // A request still on the phone stands for nothing now: the core withdraws it.
  await deps.signin.cancel(it.uid, it.clientId);
  await finishInteraction(ctx, it, { error: 'access_denied', error_description: 'The user cancelled the sign-in.' });
}
