import type Provider from 'oidc-provider';

/** How long a finished sign-in's result may wait for its resume before it is checked again. */
const HELD_RESULT_MS = 2000;

/** What interaction/load.ts finishLogin saves beside oidc-provider's own fields. */
interface HeldLogin { accountId?: unknown; firstFactorAt?: unknown; finishedAt?: unknown }

/**
 * Pure: whether a finished sign-in's result, held before its resume, stands for nothing now: the
 * account's sessions were ended (a new password, a revoked device, a sign-out everywhere) after its
 * first factor. A result resumed within HELD_RESULT_MS of its finish is not asked (the finish
 * checked it, signin/finish.ts): no round trip on the usual path.
 */
export function heldTooLong(login: HeldLogin, nowMs: number): boolean {
  const finishedAt = typeof login.finishedAt === 'number' ? login.finishedAt : 0;
  return typeof login.accountId === 'string' && nowMs - finishedAt > HELD_RESULT_MS;
}

export function endedSince(login: HeldLogin, sessionsEndedAt: number | null): boolean {
  const firstFactorAt = typeof login.firstFactorAt === 'number' ? login.firstFactorAt : 0;
  return sessionsEndedAt !== null && Math.floor(firstFactorAt / 1000) < Math.floor(sessionsEndedAt / 1000);
}

/**
 * oidc-provider's resume logs the account into the browser's session from the interaction's
 * result before any check runs. A result held past the end of the account's sessions is dropped
 * as it is read: the resume then finds no login and asks for a new sign-in (red-team: a resume URL
 * held across set-password, a device's unregistering or the first enrollment that voided a planted
 * phone gave tokens and a fresh SSO session).
 */
export function voidHeldResults(provider: Provider, sessionsEndedAt: (accountId: string) => Promise<number | null>): void {
  type Found = { result?: { login?: HeldLogin } } | undefined;
  const Interaction = provider.Interaction as unknown as { find(...args: unknown[]): Promise<Found> };
  const find = Interaction.find.bind(Interaction);
  Interaction.find = async (...args: unknown[]) => {
    const it = await find(...args);
    const login = it?.result?.login;
    if (login && heldTooLong(login, Date.now()) && endedSince(login, await sessionsEndedAt(login.accountId as string))) delete it!.result;
    return it;
  };
}
