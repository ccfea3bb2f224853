import type Provider from 'oidc-provider';
import { firstFactorEnded } from '../signin/finish.js';

/** What interaction/load.ts finishLogin saves beside oidc-provider's own fields. */
interface HeldLogin { accountId?: unknown; firstFactorAt?: unknown; ts?: unknown; unmatchedPush?: unknown }

/**
 * Pure: whether a finished sign-in's result stands for nothing at its resume: the account's
 * sessions were ended (a new password, a revoked device, a sign-out everywhere) after its first
 * factor, by the finish's own rule (signin/finish.ts). A result without our field is ended.
 */
export function endedSince(login: HeldLogin, sessionsEndedAt: number | null): boolean {
  const firstFactorAt = typeof login.firstFactorAt === 'number' ? login.firstFactorAt : 0;
  return firstFactorEnded(firstFactorAt, sessionsEndedAt === null ? null : new Date(sessionsEndedAt));
}

/**
 * oidc-provider's resume logs the account into the browser's session from the interaction's
 * result before any check runs. At every resume the result is checked against the end of the
 * account's sessions (one statement) and dropped as it is read when it is void: the resume then
 * finds no login and asks for a new sign-in (red-team: a resume URL held across set-password, a
 * device's unregistering or the first enrollment that voided a planted phone gave tokens and a
 * fresh SSO session; a first check skipped for results resumed within 2 s was won by a loop).
 */
export function voidHeldResults(
  provider: Provider, sessionsEndedAt: (accountId: string) => Promise<number | null>,
  /** Called for a result that stands and whose push matched no number (unmatched-push.ts). */
  onUnmatchedPush?: (accountId: string, loginTs: number) => Promise<void>,
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
    if (login && (typeof login.accountId !== 'string' || endedSince(login, await sessionsEndedAt(login.accountId)))) delete it!.result;
    else if (login?.unmatchedPush === true && typeof login.ts === 'number' && onUnmatchedPush) await onUnmatchedPush(login.accountId as string, login.ts);
    return it;
  };
}
