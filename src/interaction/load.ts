import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'koa';
import type { InteractionResults } from 'oidc-provider';
import { DEFAULT_POLICY } from '../config/clients.js';
import { HttpError, isStorageOutage, SeeOther } from '../http/errors.js';
import { formatFor } from '../http/edge.js';
import { ACCOUNT_CLIENT_ID } from '../selfservice/client-id.js';
import { csrfForm, parseForm } from '../http/form.js';
import type { FinishResult, KnownPush, Login, SignInRef, StateAndPush, Started } from '../signin/index.js';
import type { InteractionDeps } from './deps.js';
import { appHome, backToApp, rememberedApp } from './back-to-app.js';
import { browserBinding } from './browser-binding.js';
import { preferUiLocales, t } from '../i18n/index.js';
import { InteractionGone, interactionKey } from '../oidc/adapters.js';
import { handingOver } from '../oidc/interaction-handoff.js';
import { secondsLeft, sessionGone, unbindEndedSession } from './ended-session.js';

/**
 * Re-reads the interaction from the server on every request (never trusts the form) and checks
 * that the URL's uid is the one bound to this browser's interaction cookie.
 */
export async function loadInteraction(ctx: Context, deps: InteractionDeps, opts: { withState?: boolean } = {}) {
  let details;
  let found: StateAndPush | null | undefined;
  try {
    ({ details, found } = await readInteraction(ctx, deps, opts.withState === true));
  } catch (err) {
    if (isStorageOutage(err)) throw err; // Redis down is no expired sign-in: the edge answers 503
    // Its session was signed out in another tab: a sign-in again goes on into a new session.
    if (sessionGone(err) && (await unbindEndedSession(ctx, deps))) {
      ({ details, found } = await readInteraction(ctx, deps, opts.withState === true)
        .catch((e: unknown) => { if (isStorageOutage(e)) throw e; return { details: undefined, found: undefined }; }));
    }
    if (!details) {
      // Expired, finished (Back after sign-in) or another browser's: the way back to the app, when this browser last saw one.
      await rememberedApp(ctx, deps);
      throw new HttpError(400, 'session_not_found', t('error.session_not_found'));
    }
  }
  preferUiLocales(details.params.ui_locales);
  // The uid of this browser's interaction cookie, and a sign-in this browser started: a sibling host
  // can plant the path-bound cookie, not the browser's key (browser-binding.ts).
  if (details.uid !== ctx.params.uid || !browserBinding(deps.provider.issuer).startedHere(ctx, details.params)) {
    throw new HttpError(400, 'interaction_mismatch', t('error.interaction_mismatch'));
  }
  // Ended with an answer for the app (a refusal, a cancel, a consent whose session was signed out)
  // that its resume has not taken yet: a page goes on to the app with it, as the first answer did;
  // nothing on it can be done again (red-team: a signed-out consent page reloaded showed its form
  // for no one, and Allow was a 500).
  if (details.result?.error) throw formatFor(ctx) === 'html' ? new SeeOther(details.returnTo) : new HttpError(400, 'session_not_found', t('error.session_not_found'));
  const clientId = details.params.client_id as string;
  // The policy comes from the one registry of relying apps (an OIDC client or a SAML SP's internal client).
  const app = deps.apps.byClientId(clientId);
  const client = await deps.provider.Client.find(clientId);
  // The IdP's own account page is named in the page's language ("Your account", "Ihr Konto").
  const clientName = clientId === ACCOUNT_CLIENT_ID ? t('account.title') : client?.clientName ?? clientId;
  backToApp(ctx, clientId, clientName, appHome(client));
  const policy = app?.policy ?? DEFAULT_POLICY;
  const ttlSeconds = Math.max(1, (details.exp ?? 0) - Math.floor(deps.now() / 1000));
  return { details, uid: details.uid, clientId, clientName, policy, ttlSeconds, found };
}

/**
 * oidc-provider's interactionDetails; `withState`: the sign-in's state and push too, read with the
 * interaction by one Redis script and the interaction handed to oidc-provider's find
 * (oidc/interaction-handoff.ts). `found` is then the state as that read saw it (null: none).
 */
async function readInteraction(ctx: Context, deps: InteractionDeps, withState: boolean) {
  if (!withState) return { details: await deps.provider.interactionDetails(ctx.req, ctx.res), found: undefined };
  return interactionWithState(deps, ctx.req, ctx.res, ctx.params.uid as string);
}

/**
 * The interaction bound to this browser's cookie (oidc-provider's interactionDetails, which throws
 * when there is none) and the state of the sign-in `uid` names, in one Redis round trip; the
 * waiting page's long-poll reads them so too (src/http/long-poll.ts).
 */
export async function interactionWithState(deps: Pick<InteractionDeps, 'provider' | 'signin'>, req: IncomingMessage, res: ServerResponse, uid: string) {
  const { found, beside } = await deps.signin.stateWithPushBeside(uid, interactionKey(uid));
  const read = () => deps.provider.interactionDetails(req, res);
  return { details: await (beside === undefined ? read() : handingOver(uid, beside, read)), found };
}

export type LoadedInteraction = Awaited<ReturnType<typeof loadInteraction>>;

/**
 * The sign-in as the core sees it: the interaction uid is its opaque id (one sign-in per
 * interaction, same life), the requester is this browser, the app is the interaction's client.
 */
export function signInRef(ctx: Context, it: LoadedInteraction): SignInRef {
  return {
    id: it.uid,
    requester: { ip: ctx.ip, userAgent: ctx.get('user-agent'), app: { clientId: it.clientId, name: it.clientName, policy: it.policy } },
    ttlSeconds: it.ttlSeconds,
  };
}


/**
 * The sign-in of a second-factor page: past its first factor, at the login prompt, or a 400. Its
 * push is read with the state (one round trip): the waiting pages hand it on rather than read it again.
 * `finishing`: the page finishes the sign-in when its push is approved, and takes the state with
 * the read (signin/state.ts getWithPush): of parallel requests, one finishes.
 */
export async function requireFirstFactor(ctx: Context, deps: InteractionDeps, opts: { finishing?: boolean } = {}): Promise<{ it: LoadedInteraction; s: Started; push: KnownPush }> {
  const it = await loadInteraction(ctx, deps, { withState: true });
  if (it.details.prompt.name !== 'login') throw new HttpError(400, 'invalid_request', t('error.noSecondFactorNow'));
  let found = it.found ?? null;
  // A finishing page whose push that read found approved takes the state, only now that the
  // interaction's checks (this browser's) are passed: the take reads again and decides in its script.
  if (opts.finishing && found?.push.challenge?.status === 'approved') found = await deps.signin.stateWithPush(it.uid, opts);
  if (!found) throw finishedHere(ctx, it) ?? signInGone();
  return { it, s: { ...signInRef(ctx, it), state: found.state }, push: found.push };
}

/** The core found no state for this sign-in (finished, cancelled or lapsed). */
export const signInGone = () => new HttpError(400, 'session_not_found', t('error.noFirstFactor'));

/**
 * A page of a sign-in that another request of this browser has just finished (a passcode sent
 * twice, "Continue" pressed while the first submit was on its way, F5 on the waiting page as the
 * approval landed): the browser goes on to the app as the first answer would have taken it,
 * rather than to "this sign-in has ended" while the app never hears back (red-team). Pages only:
 * a script's fetch would follow the redirect and finish the sign-in where no page sees it.
 */
function finishedHere(ctx: Context, it: LoadedInteraction): SeeOther | null {
  const returnTo = it.details.result?.login ? it.details.returnTo : null;
  return returnTo && formatFor(ctx) === 'html' ? new SeeOther(returnTo) : null;
}

export function checkCsrf(ctx: Context, deps: InteractionDeps, uid: string): void {
  if (!deps.csrf.valid(uid, parseForm(ctx, csrfForm).csrf)) throw new HttpError(403, 'csrf', t('error.csrf'));
}

/**
 * Ends the interaction as oidc-provider's interactionResult does (mergeWithLastSubmission false:
 * the result replaces any earlier one; saved for what is left of its life; a 303 to its resume
 * URL), on the interaction this request loaded rather than one read again: the page's own load
 * made the same checks (this browser's cookie, its session's principal) moments before. The
 * adapter saves it only while it is still there (src/oidc/adapters.ts InteractionGone), as the
 * read again ensured; gone or lapsed, the sign-in has ended.
 */
export async function finishInteraction(ctx: Context, it: Pick<LoadedInteraction, 'details'>, result: InteractionResults): Promise<void> {
  const interaction = it.details;
  const ttl = secondsLeft(interaction.exp);
  if (ttl <= 0) throw new HttpError(400, 'session_not_found', t('error.session_not_found'));
  interaction.result = result;
  try {
    await interaction.save(ttl);
  } catch (err) {
    if (err instanceof InteractionGone) throw new HttpError(400, 'session_not_found', t('error.session_not_found'));
    throw err;
  }
  ctx.status = 303;
  ctx.redirect(interaction.returnTo);
}

/** sign-in step 10 (docs/architecture.md) at this door: the core's login becomes oidc-provider's interaction result. */
export async function finishLogin(ctx: Context, it: Pick<LoadedInteraction, 'details' | 'clientId'>, result: FinishResult, deps?: Pick<InteractionDeps, 'clients'>): Promise<void> {
  if (result.kind === 'refused') {
    // An MFA-only app (Entra ID, a broker) hears the refusal as access_denied, as it hears every
    // other (red-team: a page here left Entra waiting for an answer that never came).
    if (deps?.clients.get(it.clientId)?.upstream) return finishInteraction(ctx, it, { error: 'access_denied', error_description: `the sign-in was refused (${result.reason})` });
    throw new HttpError(403, 'access_denied', t(`error.refused.${result.reason}`));
  }
  if (result.kind === 'gone') throw signInGone();
  const { accountId, amr, acr, firstFactorAt, unmatchedPush, pickedPush }: Login = result.login;
  // firstFactorAt (ours; oidc-provider reads the rest): the result is checked again at its resume
  // against the end of the account's sessions (oidc/held-results.ts). unmatchedPush (ours): the
  // resume marks the session it makes, by account and sign-in time `ts` (oidc-provider's clock, the
  // session's loginTs), as one no number-matching app takes (oidc/held-results.ts, provider.ts).
  await finishInteraction(ctx, it, { login: { accountId, amr, acr, firstFactorAt, ts: Math.floor(Date.now() / 1000), ...(unmatchedPush ? { unmatchedPush } : {}), ...(pickedPush ? { pickedPush } : {}) } });
}

/** A 303 to another page of this sign-in. */
export function seeOther(ctx: Context, uid: string, page: string): void {
  ctx.status = 303;
  ctx.redirect(`/interaction/${uid}/${page}`);
}

/** The throttle's wait as the pages show it (views/throttle.eta): seconds left and when it ends (epoch ms). */
export const throttleView = (deps: Pick<InteractionDeps, 'now'>, seconds: number, minutesKey: ThrottleMinutesKey = 'throttle.minutes') =>
  ({ seconds, until: deps.now() + seconds * 1000, minutesKey });
/** How a wait of over a minute is said: "Wait N minutes", or that sign-in or passcodes are locked. */
export type ThrottleMinutesKey = 'throttle.minutes' | 'throttle.signInLocked' | 'throttle.passcodesLocked';

/** A 429 with Retry-After (the page then says how long). */
export function tooMany(ctx: Context, seconds: number): void {
  ctx.status = 429;
  ctx.set('Retry-After', String(seconds));
}
