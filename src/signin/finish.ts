import type { Account } from '../accounts/store.js';
import { amrFor, PHONE_ONLY_ACR } from './amr.js';
import type { PendingLink } from './state.js';
import type { Login, SignInDeps, Started } from './types.js';

export type FinishResult =
  | { kind: 'finished'; login: Login }
  /** The account was disabled, or the approving device revoked, between the factor and the finish. */
  | { kind: 'refused'; reason: 'account_disabled' | 'device_revoked' | 'sessions_ended' | 'link_taken' }
  /** Another request finished (or ended) this sign-in first: nothing is recorded for this one. */
  | { kind: 'gone' };

/** sign-in step 10 (docs/architecture.md): both factors done; the relying app's tokens will carry this amr and acr. */
export async function finishSecondFactor(
  deps: Pick<SignInDeps, 'accounts' | 'states' | 'audit' | 'rememberAccount' | 'upstream'>, s: Started, second: string[], detail: Record<string, unknown>,
  /**
   * The account's state when the caller has just read it (with the approving device, wait.ts): not
   * read again. `stateTaken`: the state was deleted with the caller's read (state.ts getWithPush).
   * `secondBegan`: when the second factor began (a push: its challenge was made).
   */
  known?: { accountActive: boolean; account?: Account | null; stateTaken?: boolean; secondBegan?: number },
): Promise<FinishResult> {
  const read = known ? known.account ?? null : await deps.accounts.findById(s.state.accountId);
  const active = known ? known.accountActive : Boolean(read && !read.disabled);
  // Deleting the state is what claims the finish: of two requests finishing one sign-in at once
  // (an approved push's page and a typed passcode), one deletes it and the other finds it gone
  // (red-team: both were audited as signin.success).
  const mine = known?.stateTaken ? true : await deps.states.delete(s.id);
  if (!mine) return { kind: 'gone' };
  if (!active) return { kind: 'refused', reason: 'account_disabled' };
  // A new password, a revoked device or a sign-out everywhere since this sign-in's first factor ends
  // it too, at every door (red-team: a sign-in past the old password still finished after set-password);
  // so does one since its push was sent (red-team: the password posted again after a sign-out kept the
  // push approved before it, and that approval finished the sign-in).
  const began = Math.min(s.state.firstFactor.at, known?.secondBegan ?? Infinity);
  if (firstFactorEnded(began, read?.sessionsEndedAt ?? null)) return refuseEnded(deps, s);
  const account = { id: s.state.accountId };
  // An automatic link (upstream.ts) is written now that the account's second factor is done; an
  // identity linked to another account meanwhile (the admin's `federation link`) ends the sign-in.
  const pending = s.state.firstFactor.link;
  if (pending && !(await writeLink(deps, pending, account.id, s.requester.app.clientId))) {
    await deps.audit.record({ type: 'signin.refused', accountId: account.id, clientId: s.requester.app.clientId, ip: s.requester.ip, detail: { reason: 'link_taken' } });
    return { kind: 'refused', reason: 'link_taken' };
  }
  const amr = amrFor(s.state.firstFactor.method, second);
  await deps.audit.record({ type: 'signin.success', accountId: account.id, clientId: s.requester.app.clientId, ip: s.requester.ip, detail: { amr, ...detail } });
  // An upstream first factor carries the acr its front door chose from the request (upstream.ts);
  // without one, the upstream's factor and ours make the app's MFA level (amr names only ours). A
  // CIBA approval without user verification is the phone alone.
  const { method, acr: chosen } = s.state.firstFactor;
  const acr = chosen ?? (method === 'upstream' || amr.includes('mfa') ? s.requester.app.policy.acr.mfa : PHONE_ONLY_ACR);
  // The account as just read (with the approving device): the front door's next step (oidc-provider's
  // findAccount at the resume) need not read it again.
  if (known?.account?.id === account.id) deps.rememberAccount?.(known.account);
  return { kind: 'finished', login: { accountId: account.id, amr, acr, firstFactorAt: s.state.firstFactor.at } };
}

/** A sign-in the end of its account's sessions voided, its state already taken: audited and refused. */
export async function refuseEnded(deps: Pick<SignInDeps, 'audit'>, s: Started): Promise<FinishResult> {
  await deps.audit.record({ type: 'signin.refused', accountId: s.state.accountId, clientId: s.requester.app.clientId, ip: s.requester.ip, detail: { reason: 'sessions_ended' } });
  return { kind: 'refused', reason: 'sessions_ended' };
}

/** Writes a pending automatic link; false when the identity is linked to another account. */
async function writeLink(deps: Pick<SignInDeps, 'audit' | 'upstream'>, link: PendingLink, accountId: string, clientId: string): Promise<boolean> {
  const links = deps.upstream?.links;
  if (!links) return false;
  if (!(await links.link(link.issuer, link.subject, accountId))) return (await links.find(link.issuer, link.subject))?.accountId === accountId;
  await deps.audit.record({ type: 'federation.link', accountId, clientId, detail: { issuer: link.issuer, subject: link.subject, by: 'auto', claim: link.username } });
  return true;
}

/**
 * Whether the account's sessions were ended after a sign-in's first factor began (both on the
 * core's clock, to the millisecond: red-team, whole seconds let a first factor earlier in the end's
 * second through). A first factor begun in the end's very millisecond may have read the account
 * before the change that the end follows (a new password): it counts as ended.
 */
export function firstFactorEnded(firstFactorAt: number, sessionsEndedAt: Date | null): boolean {
  return sessionsEndedAt !== null && firstFactorAt <= sessionsEndedAt.getTime();
}
