import { effectiveStatus } from '../challenge/model.js';
import type { Challenge, ChallengeStatus } from '../challenge/types.js';
import { finishSecondFactor, type FinishResult } from './finish.js';
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

async function currentChallenge(deps: Pick<SignInDeps, 'challenges'>, state: SignInState, now: number): Promise<Challenge | null> {
  return state.challengeId ? deps.challenges.get(state.challengeId, now) : null;
}

async function finishApproved(deps: SignInDeps, s: Started, ch: Challenge): Promise<FinishResult> {
  // A device revoked between its approval and this moment no longer vouches for anyone. One query
  // reads the device and its account's state (the account is the sign-in's: the challenge is this
  // sign-in's, and its approving device is the challenge's account's, device-api/respond.ts).
  const found = ch.resolution?.deviceId ? await deps.devices.getForAnswer(ch.resolution.deviceId) : null;
  if (!found || found.device.status !== 'active' || found.device.accountId !== s.state.accountId) {
    await deps.states.delete(s.id);
    return { kind: 'refused', reason: 'device_revoked' };
  }
  return finishSecondFactor(deps, s, ch.resolution?.amr ?? ['otp', 'swk'], { via: 'push', challengeId: ch.id, deviceId: ch.resolution?.deviceId ?? null },
    { accountActive: found.accountActive });
}

/**
 * sign-in steps 9-10 (docs/architecture.md) from the waiting page: approved finishes the sign-in (if the approving device
 * is still active); anything else is what the page shows.
 */
export async function waitStep(deps: SignInDeps, s: Started): Promise<WaitResult> {
  const now = deps.now();
  const ch = await currentChallenge(deps, s.state, now);
  const { status, reason } = pushStatusOf(ch, s.id, s.state.accountId, now);
  // 'approved' is only ever this sign-in's own challenge (pushStatusOf), so ch is there.
  if (status === 'approved') return finishApproved(deps, s, ch!);
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

/**
 * The long-poll: the status now, or (when the push is pending and `hold` is asked) a promise of
 * it once the challenge leaves 'pending' (woken through Redis pub/sub by whichever process took
 * the answer) or after `longPollMs`. The promise keeps two strings and the challenge's expiry, not
 * the challenge (10,000 held requests per process, issue 15). It never rejects: a failed wait
 * answers as the challenge stood (pending, or expired once past its time), and the page asks again.
 */
export async function watchPush(deps: SignInDeps, id: string, state: SignInState, hold: boolean): Promise<{ now: PushStatus } | { later: Promise<PushStatus> }> {
  const ch = await currentChallenge(deps, state, deps.now());
  const { accountId } = state;
  if (ch && belongs(ch, id, accountId) && effectiveStatus(ch, deps.now()) === 'pending' && hold) {
    const { expiresAt } = ch;
    const left = expiresAt - deps.now();
    const { now } = deps;
    const later = deps.waiters.wait(ch.id, Math.max(0, Math.min(deps.longPollMs, left + 250))).then(
      (c) => (c ? pushStatusOf(c, id, accountId, now()) : unread(expiresAt, now())),
      () => unread(expiresAt, now()),
    );
    return { later };
  }
  return { now: pushStatusOf(ch, id, accountId, deps.now()) };
}

/** Pure: what the page is told when the challenge could not be read again: pending until its time is up. */
function unread(expiresAt: number, now: number): PushStatus {
  return now >= expiresAt ? { status: 'expired', reason: 'expired' } : { status: 'pending', reason: null };
}
