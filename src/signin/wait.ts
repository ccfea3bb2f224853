import { effectiveStatus } from '../challenge/model.js';
import type { Challenge, ChallengeStatus } from '../challenge/types.js';
import { finishSecondFactor, refuseEnded, type FinishResult } from './finish.js';
import { endedWithSessions } from './resolution.js';
import type { SignInState } from './state.js';
import type { SignInDeps, Started } from './types.js';

/** Where the push of a sign-in stands, as a waiting page shows it. 'none': no push (or not this sign-in's). */
export type PushStatus = { status: ChallengeStatus | 'none'; reason: string | null };

export type WaitResult =
  | FinishResult
  | {
      kind: 'waiting';
      status: Exclude<ChallengeStatus, 'approved'> | 'none';
      /** Why it ended ('denied', 'reported', 'wrong_number', 'expired', ...), null while pending. */
      reason: string | null;
      /** The number to pick on the phone, while pending with number matching. */
      matchNumber: number | null;
      secondsLeft: number;
      expiresAt: number;
    };

/** Only a challenge made for this very sign-in can finish it. */
function belongs(ch: Challenge, signInId: string, accountId: string): boolean {
  return ch.signInId === signInId && ch.accountId === accountId;
}

/** Pure: the status a sign-in's waiting page shows for its current challenge (or none). */
export function pushStatusOf(ch: Challenge | null, signInId: string, accountId: string, now: number): PushStatus {
  const status = ch && belongs(ch, signInId, accountId) ? effectiveStatus(ch, now) : 'none';
  return { status, reason: status === 'expired' ? 'expired' : ch?.resolution?.reason ?? null };
}

/**
 * The sign-in's push as its door read it with the state, in the same request (state.ts
 * getWithPush), so it is not read again; `challenge` null: no push, or its record is gone.
 */
export interface KnownPush {
  challenge: Challenge | null;
  /** performance.now() just before that read was sent (the waiters need not read it again, challenge/waiters.ts). */
  readAt: number;
  /** The state was deleted with that read, its push approved (state.ts getWithPush): finish or refuse, no DEL again. */
  stateTaken?: true;
}

async function currentChallenge(deps: Pick<SignInDeps, 'challenges'>, state: SignInState, now: number, known?: KnownPush): Promise<KnownPush> {
  if (known) return known;
  const readAt = performance.now();
  return { challenge: state.challengeId ? await deps.challenges.get(state.challengeId, now) : null, readAt };
}

async function finishApproved(deps: SignInDeps, s: Started, ch: Challenge, stateTaken: boolean): Promise<FinishResult> {
  // A device revoked between its approval and this moment no longer vouches for anyone. One query
  // reads the device and its account's state (the account is the sign-in's: the challenge is this
  // sign-in's, and its approving device is the challenge's account's, device-api/respond.ts).
  const found = ch.resolution?.deviceId ? await deps.devices.getForAnswer(ch.resolution.deviceId) : null;
  if (!found || found.device.status !== 'active' || found.device.accountId !== s.state.accountId) {
    if (!stateTaken) await deps.states.delete(s.id);
    return { kind: 'refused', reason: 'device_revoked' };
  }
  const result = await finishSecondFactor(deps, s, ch.resolution?.amr ?? ['otp', 'swk'], { via: 'push', challengeId: ch.id, deviceId: ch.resolution?.deviceId ?? null },
    { accountActive: found.accountActive, account: found.account, stateTaken, secondBegan: ch.createdAt });
  if (result.kind !== 'finished') return result;
  // How the number was matched, for single sign-on into stricter apps (oidc/unmatched-push.ts).
  if (ch.matchNumber === null) return { ...result, login: { ...result.login, unmatchedPush: true } };
  return ch.verifiedPush ? result : { ...result, login: { ...result.login, pickedPush: true } };
}

/**
 * sign-in steps 9-10 (docs/architecture.md) from the waiting page: approved finishes the sign-in (if the approving device
 * is still active); anything else is what the page shows.
 */
export async function waitStep(deps: SignInDeps, s: Started, known?: KnownPush): Promise<WaitResult> {
  const now = deps.now();
  const { challenge: ch, stateTaken } = await currentChallenge(deps, s.state, now, known);
  const { status, reason } = pushStatusOf(ch, s.id, s.state.accountId, now);
  // 'approved' is only ever this sign-in's own challenge (pushStatusOf), so ch is there.
  if (status === 'approved') return finishApproved(deps, s, ch!, stateTaken === true);
  // Withdrawn because the account's sessions ended after this sign-in began (resolution.ts): the
  // sign-in ends here, at every door, rather than wait for a push that can no longer be answered.
  if (status === 'expired' && endedWithSessions(ch, s.state.firstFactor.at)) {
    // Deleting the state claims the end, as it claims a finish: of parallel requests, one reports it.
    return (await deps.states.delete(s.id)) ? refuseEnded(deps, s) : { kind: 'gone' };
  }
  const pending = status === 'pending';
  return {
    kind: 'waiting',
    status,
    reason,
    matchNumber: pending ? ch!.matchNumber : null,
    secondsLeft: pending ? Math.max(0, Math.ceil((ch!.expiresAt - now) / 1000)) : 0,
    expiresAt: ch?.expiresAt ?? 0,
  };
}

/** A status request to hold: on which challenge, for how long, and what its answer is read against (statusAfterWait). */
export interface PushHold {
  challengeId: string;
  signInId: string;
  accountId: string;
  expiresAt: number;
  /** How long to hold: the long-poll time, or until just past the challenge's expiry. */
  ms: number;
  /** When the read that found it pending was sent (performance.now()), for the waiters. */
  readAt: number;
}

/**
 * The long-poll's decision: hold the request (the push is this sign-in's, pending, and `hold` is
 * asked), or answer with the status now. A door that holds its requests itself (src/http/long-poll.ts)
 * uses this and statusAfterWait; watchPush below is the same with a promise.
 */
export async function planWatch(deps: SignInDeps, id: string, state: SignInState, hold = true, known?: KnownPush): Promise<{ now: PushStatus } | { hold: PushHold }> {
  const now = deps.now();
  const { challenge: ch, readAt } = await currentChallenge(deps, state, now, known);
  const { accountId } = state;
  if (ch && belongs(ch, id, accountId) && effectiveStatus(ch, now) === 'pending' && hold) {
    const left = ch.expiresAt - now;
    return { hold: { challengeId: ch.id, signInId: id, accountId, expiresAt: ch.expiresAt, ms: Math.max(0, Math.min(deps.longPollMs, left + 250)), readAt } };
  }
  return { now: pushStatusOf(ch, id, accountId, now) };
}

/**
 * Pure: what a held request is answered once its wait ends, from the challenge as the waiters read
 * it (null: it could not be read again): pending until its time is up, then expired.
 */
export function statusAfterWait(ch: Challenge | null, hold: Pick<PushHold, 'signInId' | 'accountId' | 'expiresAt'>, now: number): PushStatus {
  if (ch) return pushStatusOf(ch, hold.signInId, hold.accountId, now);
  return now >= hold.expiresAt ? { status: 'expired', reason: 'expired' } : { status: 'pending', reason: null };
}

/**
 * The long-poll: the status now, or (when the push is pending and `hold` is asked) a promise of
 * it once the challenge leaves 'pending' (woken through Redis pub/sub by whichever process took
 * the answer) or after `longPollMs`. The promise keeps two strings and the challenge's expiry, not
 * the challenge (10,000 held requests per process, issue 15). It never rejects: a failed wait
 * answers as the challenge stood (pending, or expired once past its time), and the page asks again.
 */
export async function watchPush(deps: SignInDeps, id: string, state: SignInState, hold: boolean, known?: KnownPush): Promise<{ now: PushStatus } | { later: Promise<PushStatus> }> {
  const plan = await planWatch(deps, id, state, hold, known);
  if ('now' in plan) return plan;
  const { signInId, accountId, expiresAt } = plan.hold;
  const { now } = deps;
  const later = deps.waiters.wait(plan.hold.challengeId, plan.hold.ms, plan.hold.readAt).then(
    (c) => statusAfterWait(c, { signInId, accountId, expiresAt }, now()),
    () => statusAfterWait(null, { signInId, accountId, expiresAt }, now()),
  );
  return { later };
}
