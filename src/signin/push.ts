import { browserSummary } from '../challenge/context.js';
import { newChallenge, newChallengeId } from '../challenge/model.js';
import type { Device } from '../devices/types.js';
import type { DispatchOrder } from '../push/dispatch.js';
import { PUSH_MAX_PER_SIGNIN, PUSH_RESEND_MIN_INTERVAL_MS } from './limits.js';
import { endedWithSessions, pushEndedWithSessions, SESSIONS_ENDED, withdrawChallenge } from './resolution.js';
import { challengeLink, SIGNIN_COUNTERS, signInKey } from './state.js';
import type { SignInDeps, Started } from './types.js';

/**
 * Draws of a request's numbers before giving up on a free match number. With k of the 90 numbers
 * taken by the account's other pending requests, all 20 fail with chance (k/90)^20: never at the
 * handful the fatigue limits allow.
 */
const MATCH_NUMBER_DRAWS = 20;

/** 'needs_binding_message': number matching is forced, and the door has no screen but a binding message. */
export type PushNotice = 'reported' | 'too_soon' | 'too_many' | 'muted' | 'limit' | 'needs_binding_message';

/** How a front door without a login page asks for its push (backchannel.ts). */
export interface PushOptions {
  /**
   * False where no screen of ours shows the number to match (OpenID CIBA): the challenge asks for
   * no number, and when push fatigue forces number matching only a binding message (the text the
   * asking app shows) may stand in for it; without one no push goes.
   */
  numberScreen?: boolean;
  /** OpenID CIBA binding_message, already checked by the door; shown on the phone. */
  bindingMessage?: string | null;
  /** The door's own transaction ends sooner than a challenge would (CIBA requested_expiry). */
  ttlMs?: number;
}

export type PushResult =
  /** A challenge is out (delivery goes on in the background). */
  | { kind: 'sent'; challengeId: string }
  /** The phone approved the previous request meanwhile: the waiting page finishes the sign-in. */
  | { kind: 'already-approved' }
  /** No push this time, and why (the waiting page says so and offers the passcode). */
  | { kind: 'refused'; notice: PushNotice; /** When pushes to the account may go out again (epoch ms), for muted and limit. */ until?: number }
  /** The sign-in's state is gone (finished, cancelled or lapsed). */
  | { kind: 'gone' };

/**
 * Pure: where a challenge goes. Active devices with a live subscription get a push; the other
 * active devices find the challenge by polling (docs/device-api.md).
 */
export function pushTargetsOf(devices: readonly Device[]): Pick<DispatchOrder, 'targets' | 'pollOnly'> {
  const active = devices.filter((d) => d.status === 'active');
  const targets = active.flatMap((d) => (d.pushStatus === 'active' && d.push ? [{ deviceId: d.id, subscription: d.push }] : []));
  return { targets, pollOnly: active.length - targets.length };
}

/**
 * sign-in steps 4-5 (docs/architecture.md): a challenge in Redis, then Web Push to each live device. Returns at once;
 * delivery goes on in the background and its trouble never breaks the sign-in (the passcode stays).
 */
export async function sendPush(deps: SignInDeps, s: Started, opts: PushOptions = {}): Promise<PushResult> {
  const { state, requester } = s;
  const now = deps.now();
  const previous = state.challengeId ? await deps.challenges.get(state.challengeId, now) : null;
  // Never throw an approval away: if the phone approved meanwhile, the waiting page finishes the sign-in.
  if (previous?.status === 'approved') return { kind: 'already-approved' };
  // The user reported the last request as not theirs: whoever is at this browser gets no more pushes.
  if (previous?.resolution?.reason === 'reported') return { kind: 'refused', notice: 'reported' };
  // The account's sessions were ended since (a new password, a sign-out everywhere, a disable, a
  // revoke): that withdrew the last request, and the sign-in ends with it ("Send again" included).
  if (endedWithSessions(previous, state.firstFactor.at)) {
    await deps.states.delete(s.id);
    return { kind: 'gone' };
  }
  // One atomic reservation decides both halves, so parallel presses cannot all pass: per sign-in
  // ("Send again" spacing and count), then per account (a new sign-in is free, so per-sign-in
  // limits alone would not stop bombing: a muted account gets no push, unapproved pushes escalate
  // to number matching, then to none).
  const challengeId = newChallengeId();
  const gate = await deps.fatigue.reserve(state.accountId, challengeId, now, {
    key: signInKey(s.id), owner: state.accountId,
    countField: SIGNIN_COUNTERS.pushes, lastField: SIGNIN_COUNTERS.lastPushAt,
    max: PUSH_MAX_PER_SIGNIN, minIntervalMs: PUSH_RESEND_MIN_INTERVAL_MS,
  });
  if (!gate.allow) {
    if (gate.reason === 'gone') return { kind: 'gone' };
    if (gate.reason === 'muted' || gate.reason === 'limit') {
      await deps.audit.record({ type: 'push.refused', accountId: state.accountId, clientId: requester.app.clientId, ip: requester.ip, detail: { reason: gate.reason } });
    }
    if (gate.reason === 'muted' || gate.reason === 'limit') return { kind: 'refused', notice: gate.reason, until: now + gate.retryAfterMs };
    return { kind: 'refused', notice: gate.reason };
  }
  const numberScreen = opts.numberScreen ?? true;
  const bindingMessage = opts.bindingMessage ?? null;
  if (!numberScreen && gate.forceNumberMatching && !bindingMessage) {
    // The reservation stands as an unapproved push: asking again only escalates.
    await deps.audit.record({ type: 'push.refused', accountId: state.accountId, clientId: requester.app.clientId, ip: requester.ip, detail: { reason: 'needs_binding_message' } });
    return { kind: 'refused', notice: 'needs_binding_message' };
  }
  const input = {
    accountId: state.accountId,
    signInId: s.id,
    clientId: requester.app.clientId,
    appName: requester.app.name,
    ip: requester.ip,
    browser: browserSummary(requester.userAgent),
    location: deps.geoip.lookup(requester.ip),
    numberMatching: numberScreen && (requester.app.policy.numberMatching || gate.forceNumberMatching),
    verifiedPush: requester.app.policy.verifiedPush === true,
    bindingMessage,
    firstFactorAt: state.firstFactor.at,
    id: challengeId,
    ttlMs: Math.min(deps.challengeTtlMs, opts.ttlMs ?? Infinity),
    now,
  };
  const draw = () => newChallenge(input);
  // The sign-in points at its new push in the same step (one round trip). Its match number is one
  // no other pending request of the account shows (the store refuses a taken one; drawn again).
  const link = challengeLink(s.id, { ...state, challengeId }, s.ttlSeconds);
  let challenge = draw();
  for (let tries = 1; (await deps.challenges.create(challenge, link, { distinctNumber: true })) === 'number_taken'; tries++) {
    // Only with dozens of the account's requests pending at once, which the fatigue limits forbid.
    if (tries >= MATCH_NUMBER_DRAWS) return { kind: 'refused', notice: 'limit', until: now + deps.challengeTtlMs };
    challenge = draw();
  }
  // Only the newest request can finish this sign-in: the one it replaces is withdrawn, so the phone
  // stops listing it and an approval of it is refused rather than accepted for nothing.
  if (state.challengeId) await withdrawChallenge(deps, { id: state.challengeId, accountId: state.accountId, clientId: requester.app.clientId });
  // In the background, never rejecting: trouble is logged, and the passcode remains. A sign-in the
  // end of the account's sessions voided sends nothing: its request is withdrawn, and its page ends
  // it (red-team: a sign-in made with the old password, left on its choice page, pushed to the
  // phone after the user's set-password; its answer was refused, but the phone rang).
  void deps.devices.listForDispatch(state.accountId)
    .then(async ({ devices, sessionsEndedAt }): Promise<unknown> => {
      if (!pushEndedWithSessions(challenge, sessionsEndedAt?.getTime() ?? null)) {
        return deps.dispatch(challenge, { ...pushTargetsOf(devices), onGone: (deviceId, endpoint) => deps.devices.markPushDead(deviceId, endpoint) });
      }
      // Never sent: it rang nothing, so it counts toward no push limit (red-team: five sign-ins left
      // with the old password, pressed after the reset, kept the owner's own sign-in from its push).
      await withdrawChallenge(deps, { id: challenge.id, accountId: state.accountId, clientId: requester.app.clientId, signInId: s.id }, SESSIONS_ENDED);
      return deps.fatigue.forgive(state.accountId, challenge.id);
    })
    .catch((err: unknown) => deps.logger.error({ err, challengeId: challenge.id }, 'push dispatch failed'));
  return { kind: 'sent', challengeId: challenge.id };
}
