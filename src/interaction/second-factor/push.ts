import type { Context } from 'koa';
import { browserSummary } from '../../challenge/context.js';
import { newChallenge, newChallengeId } from '../../challenge/model.js';
import { HttpError } from '../../http/errors.js';
import type { InteractionDeps, SecondFactorDeps } from '../deps.js';
import { SIGNIN_COUNTERS, signInKey } from '../state.js';
import { PUSH_MAX_PER_SIGNIN, PUSH_RESEND_MIN_INTERVAL_MS } from './limits.js';
import { checkCsrf, requireFirstFactor } from './session.js';

/**
 * POST /interaction/:uid/push — DESIGN steps 4-5: a challenge in Redis, then Web Push to each live
 * device. Answers at once with the waiting page; delivery goes on in the background and its
 * trouble never breaks the sign-in (the page always offers the passcode).
 */
export async function postPush(ctx: Context, deps: InteractionDeps): Promise<void> {
  const { it, state } = await requireFirstFactor(ctx, deps);
  checkCsrf(ctx, deps, it.uid);
  const sf = deps.secondFactor;
  const now = sf.now();
  const previous = state.challengeId ? await sf.challenges.get(state.challengeId, now) : null;
  // Never throw an approval away: if the phone approved meanwhile, the waiting page finishes the sign-in.
  if (previous?.status === 'approved') {
    ctx.status = 303;
    return ctx.redirect(`/interaction/${it.uid}/wait`);
  }
  // The user reported the last request as not theirs: whoever is at this browser gets no more pushes.
  if (previous?.resolution?.reason === 'reported') {
    ctx.status = 303;
    return ctx.redirect(`/interaction/${it.uid}/wait?notice=reported`);
  }
  // One atomic reservation decides both halves, so parallel presses cannot all pass: per sign-in
  // ("Send again" spacing and count), then per account (a new sign-in is free, so per-sign-in
  // limits alone would not stop bombing: a muted account gets no push, unapproved pushes escalate
  // to number matching, then to none).
  const challengeId = newChallengeId();
  const gate = await sf.fatigue.reserve(state.accountId, challengeId, now, {
    key: signInKey(it.uid), owner: state.accountId,
    countField: SIGNIN_COUNTERS.pushes, lastField: SIGNIN_COUNTERS.lastPushAt,
    max: PUSH_MAX_PER_SIGNIN, minIntervalMs: PUSH_RESEND_MIN_INTERVAL_MS,
  });
  if (!gate.allow) {
    if (gate.reason === 'gone') throw new HttpError(400, 'session_not_found', 'Sign in with your password first. Go back to the app and start again.');
    if (gate.reason === 'muted' || gate.reason === 'limit') {
      await deps.audit.record({ type: 'push.refused', accountId: state.accountId, clientId: it.clientId, ip: ctx.ip, detail: { reason: gate.reason } });
    }
    ctx.status = 303;
    return ctx.redirect(`/interaction/${it.uid}/wait?notice=${gate.reason}`);
  }
  const challenge = newChallenge({
    accountId: state.accountId,
    interactionUid: it.uid,
    clientId: it.clientId,
    appName: it.clientName,
    ip: ctx.ip,
    browser: browserSummary(ctx.get('user-agent')),
    location: sf.geoip.lookup(ctx.ip),
    numberMatching: it.policy.numberMatching || gate.forceNumberMatching,
    id: challengeId,
    ttlMs: sf.challengeTtlMs,
    now,
  });
  await sf.challenges.create(challenge);
  await deps.signins.put(it.uid, { ...state, challengeId: challenge.id }, it.ttlSeconds);
  // Only the newest request can finish this sign-in: the one it replaces is withdrawn, so the phone
  // stops listing it and an approval of it is refused rather than accepted for nothing.
  if (state.challengeId) await withdrawChallenge(sf, state.challengeId);
  void sf.dispatch(challenge); // never rejects: trouble is logged, and the passcode remains
  ctx.status = 303;
  ctx.redirect(`/interaction/${it.uid}/wait`);
}

/**
 * Ends a still-pending request that no longer stands for anything (replaced by "Send again", or the
 * sign-in finished by a passcode): it reads as expired on the phone, and answers to it get 410.
 * Best effort: one already answered or expired is left as it is.
 */
export async function withdrawChallenge(sf: SecondFactorDeps, challengeId: string): Promise<void> {
  const at = sf.now();
  await sf.challenges.resolve(challengeId, { status: 'expired', deviceId: null, decision: null, reason: 'superseded', amr: [], at }, at)
    .catch(() => undefined);
}
