import type { Context } from 'koa';
import { browserSummary } from '../../challenge/context.js';
import { newChallenge } from '../../challenge/model.js';
import type { InteractionDeps } from '../deps.js';
import { canSendPush } from './limits.js';
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
  const allowed = canSendPush(state.pushes, now);
  if (!allowed.ok) {
    ctx.status = 303;
    return ctx.redirect(`/interaction/${it.uid}/wait?notice=${allowed.reason}`);
  }
  const challenge = newChallenge({
    accountId: state.accountId,
    interactionUid: it.uid,
    clientId: it.clientId,
    appName: it.clientName,
    ip: ctx.ip,
    browser: browserSummary(ctx.get('user-agent')),
    location: sf.geoip.lookup(ctx.ip),
    numberMatching: it.policy.numberMatching,
    ttlMs: sf.challengeTtlMs,
    now,
  });
  await sf.challenges.create(challenge);
  await deps.signins.put(it.uid, { ...state, challengeId: challenge.id, pushes: [...state.pushes, now] }, it.ttlSeconds);
  void sf.dispatch(challenge); // never rejects: trouble is logged, and the passcode remains
  ctx.status = 303;
  ctx.redirect(`/interaction/${it.uid}/wait`);
}
