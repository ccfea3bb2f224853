import type { Context } from 'koa';
import { effectiveStatus } from '../../challenge/model.js';
import type { Challenge } from '../../challenge/types.js';
import { HttpError } from '../../http/errors.js';
import type { InteractionDeps } from '../deps.js';
import type { LoadedInteraction } from '../load.js';
import type { SignInState } from '../state.js';
import { finishWithSecondFactor, requireFirstFactor } from './session.js';

// Maps, not object literals: `notice` comes from the query string, and NOTICES['constructor'] on a
// plain object is Object's constructor, whose source the page printed (`?notice=constructor`).
const NOTICES = new Map<string, string>([
  ['too_soon', 'A request was sent a moment ago. Wait a few seconds before sending another.'],
  ['too_many', 'Too many requests were sent for this sign-in. Enter a passcode instead, or start again.'],
  ['limit', 'Several requests to your phone were not approved in the last few minutes, so no more are sent for now. Enter a passcode instead.'],
  ['muted', 'A recent request was reported as not yours, so requests to your phone are paused for a while. Enter a passcode instead.'],
  ['reported', 'The last request was reported as not yours, so no more requests are sent for this sign-in. Enter a passcode instead.'],
]);

const DENIED = 'The request was denied on your phone.';
const MESSAGES = new Map<string, string>([
  ['denied', DENIED],
  ['reported', 'You denied the request and reported it. If you did not try to sign in, change your password.'],
  ['wrong_number', 'The number chosen on the phone did not match. The request was denied.'],
  ['expired', 'The request expired before it was answered.'],
]);

async function currentChallenge(deps: InteractionDeps, state: SignInState): Promise<Challenge | null> {
  return state.challengeId ? deps.secondFactor.challenges.get(state.challengeId) : null;
}

/** Only a challenge made for this very sign-in can finish it. */
function belongs(ch: Challenge, uid: string, accountId: string): boolean {
  return ch.interactionUid === uid && ch.accountId === accountId;
}

async function finishApproved(ctx: Context, deps: InteractionDeps, it: LoadedInteraction, state: SignInState, ch: Challenge) {
  // A device revoked between its approval and this moment no longer vouches for anyone.
  const device = ch.resolution?.deviceId ? await deps.secondFactor.devices.get(ch.resolution.deviceId) : null;
  if (!device || device.status !== 'active') {
    await deps.signins.delete(it.uid);
    throw new HttpError(403, 'access_denied', 'The device that approved this sign-in has been revoked. Go back to the app and sign in again.');
  }
  return finishWithSecondFactor(ctx, deps, it, state, ch.resolution?.amr ?? ['otp', 'swk'],
    { via: 'push', challengeId: ch.id, deviceId: ch.resolution?.deviceId ?? null });
}

/**
 * GET /interaction/:uid/wait — DESIGN step 9, the page that continues by itself: with JavaScript it
 * long-polls the status; without, it refreshes itself. Approved: finish the sign-in here.
 */
export async function getWait(ctx: Context, deps: InteractionDeps): Promise<void> {
  const { it, state } = await requireFirstFactor(ctx, deps);
  const ch = await currentChallenge(deps, state);
  const now = deps.secondFactor.now();
  const status = ch && belongs(ch, it.uid, state.accountId) ? effectiveStatus(ch, now) : null;
  if (ch && status === 'approved') return finishApproved(ctx, deps, it, state, ch);
  const notice = typeof ctx.query.notice === 'string' ? NOTICES.get(ctx.query.notice) ?? null : null;
  const reason = status === 'expired' ? 'expired' : ch?.resolution?.reason ?? null;
  ctx.type = 'html';
  ctx.body = deps.views.render('push-wait', {
    title: status === 'pending' ? 'Approve on your phone' : 'Sign-in not approved',
    uid: it.uid,
    csrf: deps.csrf.token(it.uid),
    clientName: it.clientName,
    status: status ?? 'none',
    matchNumber: status === 'pending' ? ch!.matchNumber : null,
    secondsLeft: status === 'pending' ? Math.max(0, Math.ceil((ch!.expiresAt - now) / 1000)) : 0,
    expiresAt: ch?.expiresAt ?? 0,
    message: status && status !== 'pending' ? MESSAGES.get(reason ?? 'denied') ?? DENIED : null,
    notice,
    // Without JavaScript the page refreshes itself while the request is pending.
    refreshSeconds: status === 'pending' ? 3 : null,
    script: status === 'pending' ? '/static/push-wait.js' : null,
  });
}

/**
 * GET /interaction/:uid/push/status — the long-poll: answers as soon as the challenge leaves
 * 'pending' (woken through Redis pub/sub by whichever IdP process took the approval), or after
 * `longPollMs` with 'pending'. The page then goes to /wait, which finishes the sign-in.
 */
export async function getStatus(ctx: Context, deps: InteractionDeps): Promise<void> {
  const { it, state } = await requireFirstFactor(ctx, deps);
  const sf = deps.secondFactor;
  const ch = await currentChallenge(deps, state);
  const answerFor = statusAnswer(it.uid, state.accountId);
  if (ch && belongs(ch, it.uid, state.accountId) && effectiveStatus(ch, sf.now()) === 'pending' && ctx.query.wait !== '0') {
    const left = ch.expiresAt - sf.now();
    return holdUntilResolved(ctx, sf.waiters.wait(ch.id, Math.max(0, Math.min(sf.longPollMs, left + 250))), ch, answerFor, sf.now);
  }
  ctx.type = 'json';
  ctx.body = answerFor(ch, sf.now());
}

type StatusAnswer = { status: string; reason: string | null; next: string };

/** The status answer for one sign-in; closes over two strings only, so a held request keeps little. */
function statusAnswer(uid: string, accountId: string): (ch: Challenge | null, now: number) => StatusAnswer {
  return (ch, now) => {
    const status = ch && belongs(ch, uid, accountId) ? effectiveStatus(ch, now) : 'none';
    return { status, reason: status === 'expired' ? 'expired' : ch?.resolution?.reason ?? null, next: `/interaction/${uid}/wait` };
  };
}

/**
 * Holds the request outside Koa's middleware chain: the chain returns now (its frames, the loaded
 * interaction and oidc-provider's context can be collected) and the answer is written to the raw
 * response when the wait ends. A thousand waiting pages then cost the process far less memory.
 */
function holdUntilResolved(ctx: Context, waiting: Promise<Challenge | null>, pending: Challenge, answerFor: ReturnType<typeof statusAnswer>, now: () => number): void {
  const res = ctx.res;
  const head = ctx.method === 'HEAD';
  ctx.respond = false;
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  waiting
    .then((ch) => ch ?? pending, () => pending) // a failed wait answers 'pending': the page asks again
    .then((ch) => {
      if (res.writableEnded || res.destroyed) return;
      const body = JSON.stringify(answerFor(ch, now()));
      res.setHeader('Content-Length', Buffer.byteLength(body));
      res.end(head ? undefined : body);
    })
    .catch(() => res.destroy());
}
