import { sendPush, type PushNotice } from './push.js';
import type { SignInState } from './state.js';
import type { Login, SignInDeps, SignInRef, Started } from './types.js';
import { waitStep } from './wait.js';

/*
 * A sign-in without a browser (OpenID CIBA, docs/ciba.md): an authenticated relying app names the
 * user (a login_hint or one of our ID tokens); nobody types a password, so the phone's answer is
 * the whole proof (amr.ts, 'hint'). The push goes through the same gate (sendPush: per sign-in
 * and per account limits, mute, audit) as the login page's, to the same devices; the answer comes
 * back through the one resolution policy (resolution.ts), in whichever process took it.
 */

export type BackchannelCheck =
  /** The account can be asked on its phone. */
  | { kind: 'ok' }
  /** Unknown, disabled, or without an active authenticator: one answer for all three. */
  | { kind: 'unknown-user' };

export type BackchannelStart =
  | { kind: 'sent'; challengeId: string }
  | { kind: 'unknown-user' }
  /** No push this time (fatigue limits, a mute, forced number matching without a binding message). */
  | { kind: 'refused'; notice: PushNotice | 'gone' };

export type BackchannelOutcome =
  | { kind: 'approved'; login: Login }
  /** Denied or reported on the phone, a wrong answer, or the account or device gone meanwhile. */
  | { kind: 'denied'; reason: string }
  /** Withdrawn, or lapsed: the request's own expiry answers the app. */
  | { kind: 'expired' }
  | { kind: 'pending' };

/** Whether a named account could approve on a phone now (no push, nothing recorded). */
export async function checkBackchannelUser(deps: Pick<SignInDeps, 'accounts' | 'devices'>, accountId: string): Promise<BackchannelCheck> {
  const account = await deps.accounts.findById(accountId);
  if (!account || account.disabled) return { kind: 'unknown-user' };
  // There is no password to fall back on here: an account without an active device cannot be asked.
  const devices = await deps.devices.listByAccount(accountId);
  return devices.some((d) => d.status === 'active') ? { kind: 'ok' } : { kind: 'unknown-user' };
}

/**
 * Starts the sign-in of a named account and sends its push. `ref.id` is the door's opaque id; the
 * challenge lives no longer than `ref.ttlSeconds` (the app's requested expiry).
 */
export async function startBackchannel(deps: SignInDeps, ref: SignInRef, input: { accountId: string; bindingMessage: string | null }): Promise<BackchannelStart> {
  const { requester } = ref;
  const startedAt = deps.now(); // before the account is read, as the password's (first-factor.ts)
  if ((await checkBackchannelUser(deps, input.accountId)).kind !== 'ok') {
    await deps.audit.record({ type: 'signin.refused', clientId: requester.app.clientId, ip: requester.ip, detail: { reason: 'unknown_user', via: 'ciba' } });
    return { kind: 'unknown-user' };
  }
  const state: SignInState = { accountId: input.accountId, firstFactor: { method: 'hint', at: startedAt }, challengeId: null };
  await deps.states.put(ref.id, state, ref.ttlSeconds);
  const push = await sendPush(deps, { ...ref, state }, { numberScreen: false, bindingMessage: input.bindingMessage, ttlMs: ref.ttlSeconds * 1000 });
  await deps.audit.record({
    type: 'signin.backchannel', accountId: input.accountId, clientId: requester.app.clientId, ip: requester.ip,
    detail: { push: push.kind, ...(push.kind === 'sent' ? { challengeId: push.challengeId } : {}), ...(push.kind === 'refused' ? { reason: push.notice } : {}) },
  });
  // A refused request ends here (the door answers access_denied and forgets it): so does its state,
  // which nothing would read again for as long as the app asked.
  if (push.kind !== 'sent') await deps.states.delete(ref.id);
  switch (push.kind) {
    case 'sent': return { kind: 'sent', challengeId: push.challengeId };
    case 'refused': return { kind: 'refused', notice: push.notice };
    // A fresh sign-in has no earlier push to be approved, and its state was written just now.
    case 'already-approved':
    case 'gone': return { kind: 'refused', notice: 'gone' };
  }
}

/**
 * What a resolved push means for a backchannel sign-in: approved finishes it (the approving device
 * and the account still active, finish.ts), anything else ends it. Run by the door's resolution hook.
 */
export async function settleBackchannel(deps: SignInDeps, s: Started): Promise<BackchannelOutcome> {
  const result = await waitStep(deps, s);
  if (result.kind === 'finished') return { kind: 'approved', login: result.login };
  if (result.kind === 'refused') return { kind: 'denied', reason: result.reason };
  // Settled by another process's hook first: that one answers the app.
  if (result.kind === 'gone') return { kind: 'expired' };
  if (result.status === 'pending') return { kind: 'pending' };
  await deps.states.delete(s.id);
  if (result.status === 'denied') return { kind: 'denied', reason: result.reason ?? 'denied' };
  return { kind: 'expired' };
}
