import type { Context } from 'koa';
import type { PushStatus } from '../../signin/index.js';
import type { InteractionDeps } from '../deps.js';
import { finishLogin, requireFirstFactor } from '../load.js';

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

/**
 * GET /interaction/:uid/wait — sign-in step 9 (docs/architecture.md), the page that continues by itself: with JavaScript it
 * long-polls the status; without, it refreshes itself. Approved: the core finishes the sign-in here.
 */
export async function getWait(ctx: Context, deps: InteractionDeps): Promise<void> {
  const { it, s } = await requireFirstFactor(ctx, deps);
  const w = await deps.signin.wait(s);
  if (w.kind !== 'waiting') return finishLogin(ctx, deps, w);
  const pending = w.status === 'pending';
  ctx.type = 'html';
  ctx.body = deps.views.render('push-wait', {
    title: pending ? 'Approve on your phone' : 'Sign-in not approved',
    uid: it.uid, csrf: deps.csrf.token(it.uid), clientName: it.clientName,
    status: w.status, matchNumber: w.matchNumber, secondsLeft: w.secondsLeft, expiresAt: w.expiresAt,
    message: w.status !== 'none' && !pending ? MESSAGES.get(w.reason ?? 'denied') ?? DENIED : null,
    notice: typeof ctx.query.notice === 'string' ? NOTICES.get(ctx.query.notice) ?? null : null,
    // Without JavaScript the page refreshes itself while the request is pending.
    refreshSeconds: pending ? 3 : null,
    script: pending ? '/static/push-wait.js' : null,
  });
}

/**
 * GET /interaction/:uid/push/status — the long-poll: answers as soon as the challenge leaves
 * 'pending', or after the core's long-poll time with 'pending'. The page then goes to /wait.
 */
export async function getStatus(ctx: Context, deps: InteractionDeps): Promise<void> {
  const { it, s } = await requireFirstFactor(ctx, deps);
  const next = `/interaction/${it.uid}/wait`;
  const watched = await deps.signin.watch(s.id, s.state, ctx.query.wait !== '0');
  if ('later' in watched) return holdUntilResolved(ctx, watched.later, next);
  ctx.type = 'json';
  ctx.body = { ...watched.now, next };
}

/**
 * Holds the request outside Koa's middleware chain: the chain returns now (its frames, the loaded
 * interaction and oidc-provider's context can be collected) and the answer is written to the raw
 * response when the wait ends. A thousand waiting pages then cost the process far less memory.
 */
function holdUntilResolved(ctx: Context, later: Promise<PushStatus>, next: string): void {
  const res = ctx.res;
  const head = ctx.method === 'HEAD';
  ctx.respond = false;
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  later
    .then((answer) => {
      if (res.writableEnded || res.destroyed) return;
      const body = JSON.stringify({ ...answer, next });
      res.setHeader('Content-Length', Buffer.byteLength(body));
      res.end(head ? undefined : body);
    })
    .catch(() => res.destroy());
}
