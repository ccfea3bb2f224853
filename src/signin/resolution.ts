import type { AuditLog } from '../audit/types.js';
import type { Challenge, ChallengeStore, Resolution } from '../challenge/types.js';
import type { PushFatigueStore } from '../defences/push-fatigue-store.js';
import { firstFactorEnded } from './finish.js';

/**
 * What a resolved challenge is about: enough to name the account and the app in what follows, and
 * (when the resolver has the record) the sign-in waiting for it.
 */
export type ResolvedChallenge = Pick<Challenge, 'id' | 'accountId' | 'clientId'> & Partial<Pick<Challenge, 'signInId'>>;

/**
 * A front door that nothing holds open (OpenID CIBA: no waiting page to wake) hears of its
 * sign-ins' resolutions here, in whichever process took the answer, after the effects below.
 */
export type ResolutionHook = ResolutionPolicy;

/** Runs once per challenge that this process resolved (stored and published: waiters are awake). */
export type ResolutionPolicy = (challenge: ResolvedChallenge, resolution: Resolution) => Promise<void>;

export interface ResolutionEffects {
  /**
   * The push was the user's own sign-in: it stops counting toward push fatigue. Done by the
   * resolution itself, in the challenge store's resolve script (challenge/redis-store.ts), so an
   * approval is never stored without it; stated here as the rule.
   */
  forgive: boolean;
  /** "Deny and report": no pushes to the account for a while. */
  mute: boolean;
}

/**
 * Pure: what a resolution does, whoever resolved it. The device API's answers (approve, deny,
 * report, wrong number), a withdrawal (superseded by "Send again", or the sign-in ended another
 * way) and an expiry all come here. Denials, wrong numbers, expiries and withdrawals do nothing:
 * a push that was not approved already counts as fatigue from the moment it was reserved (one
 * withdrawn with an end of sessions too: the end need not have changed the password, and a push
 * that rang the phone is fatigue whatever ended it; red-team, an admin's `user sign-out` after a
 * report gave the bomber a fresh limit). Expiry is read, not written (challenge/model.ts
 * effectiveStatus): nothing resolves a lapsed challenge, so no effect may ever depend on one.
 */
export function resolutionEffects(resolution: Pick<Resolution, 'status' | 'reason'>, opts: { muteMs: number }): ResolutionEffects {
  return {
    forgive: resolution.status === 'approved',
    mute: resolution.reason === 'reported' && opts.muteMs > 0,
  };
}

/** The one place that acts on a resolution; app.ts hands it to the device API as its `onResolved`. */
export function createResolutionPolicy(deps: {
  fatigue: PushFatigueStore; audit: AuditLog; muteMs: number; now: () => number;
  /** Read at each resolution: app.ts adds the doors' hooks once they are built (CIBA needs the provider). */
  hooks?: readonly ResolutionHook[];
}): ResolutionPolicy {
  return async (challenge, resolution) => {
    const effects = resolutionEffects(resolution, deps);
    // effects.forgive: already done, in the same script as the resolution.
    if (effects.mute) {
      const until = await deps.fatigue.mute(challenge.accountId, deps.now());
      await deps.audit.record({ type: 'push.muted', accountId: challenge.accountId, clientId: challenge.clientId, detail: { until: new Date(until).toISOString(), challengeId: challenge.id } });
    }
    for (const hook of deps.hooks ?? []) await hook(challenge, resolution);
  };
}

/**
 * Ends a still-pending request that no longer stands for anything (replaced by "Send again", or the
 * sign-in finished by a passcode or a recovery code, or cancelled): it reads as expired on the
 * phone, and answers to it get 410. Best effort: one already answered or expired is left as it is.
 */
export async function withdrawChallenge(
  deps: { challenges: ChallengeStore; resolution: ResolutionPolicy; now: () => number },
  challenge: ResolvedChallenge,
  reason = 'superseded',
): Promise<boolean> {
  const at = deps.now();
  const resolution: Resolution = { status: 'expired', deviceId: null, decision: null, reason, amr: [], at };
  const outcome = await deps.challenges.resolve(challenge.id, resolution, at, { accountId: challenge.accountId }).catch(() => null);
  if (outcome === 'resolved') await deps.resolution(challenge, resolution);
  return outcome === 'resolved';
}

/** The reason a request reads as withdrawn when the account's sessions ended after its sign-in began. */
export const SESSIONS_ENDED = 'sessions_ended';

/**
 * Pure: whether a request withdrawn with the account's sessions ends the sign-in now holding
 * `firstFactorAt`: it was made for that first factor. One made before the password was posted again
 * on the same page (after the end, with the new password) does not end the new attempt (red-team:
 * the owner's new password on the same sign-in page was refused as "begun before the end").
 */
export function endedWithSessions(ch: Pick<Challenge, 'resolution' | 'firstFactorAt'> | null | undefined, firstFactorAt: number): boolean {
  return ch?.resolution?.reason === SESSIONS_ENDED && (ch.firstFactorAt ?? Infinity) >= firstFactorAt;
}

/**
 * Pure: whether a request belongs to a sign-in the end of the account's sessions (at `endedAt`)
 * voided: its first factor, or the request itself, was no later (signin/finish.ts firstFactorEnded).
 */
export function pushEndedWithSessions(ch: Pick<Challenge, 'firstFactorAt' | 'createdAt'>, endedAt: number | null): boolean {
  return firstFactorEnded(Math.min(ch.firstFactorAt ?? ch.createdAt, ch.createdAt), endedAt === null ? null : new Date(endedAt));
}

/**
 * The account's sessions ended at `endedAt`: every request of its sign-ins still pending then is
 * withdrawn (red-team: after a new password or a sign-out everywhere, the phone still listed the
 * push of a sign-in made with the old password, and approving it was answered "approved" though no
 * door would finish it; after a disable the doors kept saying "approve on your phone"). The phone
 * stops listing them, their doors wake and end the sign-in (wait.ts). Returns how many.
 */
export async function withdrawEndedPushes(
  deps: { challenges: ChallengeStore; resolution: ResolutionPolicy; now: () => number },
  accountId: string, endedAt: number,
): Promise<number> {
  let withdrawn = 0;
  for (const ch of await deps.challenges.listPending(accountId, deps.now())) {
    if (pushEndedWithSessions(ch, endedAt) && (await withdrawChallenge(deps, ch, SESSIONS_ENDED))) withdrawn++;
  }
  return withdrawn;
}
