import type Provider from 'oidc-provider';
import { firstFactorEnded } from '../signin/finish.js';

/** What interaction/load.ts finishLogin saves beside oidc-provider's own fields. */
interface HeldLogin { accountId?: unknown; firstFactorAt?: unknown; ts?: unknown; unmatchedPush?: unknown; pickedPush?: unknown }

/**
 * Pure: whether a finished sign-in's result stands for nothing at its resume: the account's
 * sessions were ended (a new password, a revoked device, a sign-out everywhere) after its first
 * factor, by the finish's own rule (signin/finish.ts). A result without our field is ended.
 */
export function endedSince(login: HeldLogin, sessionsEndedAt: number | null): boolean {
  const firstFactorAt = typeof login.firstFactorAt === 'number' ? login.firstFactorAt : 0;
  return firstFactorEnded(firstFactorAt, sessionsEndedAt === null ? null : new Date(sessionsEndedAt));
}

/** How long past the request's max_age a finished sign-in may still be resumed (the redirect's own trip). */
export const HELD_PAST_MAX_AGE_SECONDS = 10;

/**
 * Pure: whether a finished sign-in held before its resume is older than the authorization request's
 * max_age allows. oidc-provider skips its max_age check for a sign-in that has just finished, and
 * ours is dated at the finish (`ts`): red-team, a result finished and resumed seconds to an hour
 * later (the interaction's life) answered a `max_age` step-up with the old sign-in. Its auth_time
 * was honest, but an app that asked max_age=0 before a sensitive action and trusted the IdP took it.
 */
export function heldPastMaxAge(login: HeldLogin, params: { max_age?: unknown; prompt?: unknown } | undefined, nowSeconds: number): boolean {
  // oidc-provider keeps max_age=0 as prompt=login and no max_age (red-team: a max_age=0 result held
  // 13 s still gave a code): a sign-in asked to happen again now is held to 0 as well.
  const maxAge = params?.max_age ?? (typeof params?.prompt === 'string' && params.prompt.split(' ').includes('login') ? 0 : undefined);
  if (maxAge === undefined || maxAge === null || maxAge === '') return false;
  const limit = Number(maxAge);
  if (!Number.isFinite(limit) || limit < 0) return false; // refused at /auth (invalid_request) before any sign-in
  return typeof login.ts !== 'number' || nowSeconds - login.ts > limit + HELD_PAST_MAX_AGE_SECONDS;
}

/**
 * oidc-provider's resume logs the account into the browser's session from the interaction's
 * result before any check runs. At every resume the result is checked against the end of the
 * account's sessions (one statement) and dropped as it is read when it is void: the resume then
 * finds no login and asks for a new sign-in (red-team: a resume URL held across set-password, a
 * device's unregistering or the first enrollment that voided a planted phone gave tokens and a
 * fresh SSO session; a first check skipped for results resumed within 2 s was won by a loop). So is
 * a result held past the request's max_age (heldPastMaxAge).
 */
export function voidHeldResults(
  provider: Provider, sessionsEndedAt: (accountId: string) => Promise<number | null>,
  /** Called for a result that stands and whose push matched no number, or a number picked rather than typed (unmatched-push.ts). */
  onUnmatchedPush?: (accountId: string, loginTs: number, match: 'none' | 'picked') => Promise<void>,
  /** Whether the interaction found may be used here (its resume, in the browser that started it); else none is found. */
  mayRead: (it: { params?: Record<string, unknown> }) => boolean = () => true,
): void {
  type Found = { params?: Record<string, unknown>; result?: { login?: HeldLogin } } | undefined;
  const Interaction = provider.Interaction as unknown as { find(...args: unknown[]): Promise<Found> };
  const find = Interaction.find.bind(Interaction);
  Interaction.find = async (...args: unknown[]) => {
    const it = await find(...args);
    if (it && !mayRead(it)) return undefined;
    const login = it?.result?.login;
    // oidc-provider's clock (helpers/epoch_time.js), as the finish dated `ts`.
    if (login && heldPastMaxAge(login, it!.params, Math.floor(Date.now() / 1000))) delete it!.result;
    else if (login && (typeof login.accountId !== 'string' || endedSince(login, await sessionsEndedAt(login.accountId)))) delete it!.result;
    else if ((login?.unmatchedPush === true || login?.pickedPush === true) && typeof login.ts === 'number' && onUnmatchedPush) {
      await onUnmatchedPush(login.accountId as string, login.ts, login.unmatchedPush === true ? 'none' : 'picked');
    }
    return it;
  };
}
