import type { Context } from 'koa';
import type { PushStatus } from '../../signin/index.js';
import type { InteractionDeps } from '../deps.js';
import { finishLogin, requireFirstFactor } from '../load.js';
import { pageHelpers } from '../../http/views.js';
import { currentLocale, formatTime, t } from '../../i18n/index.js';

// Sets, not object literals: `notice` comes from the query string, and NOTICES['constructor'] on a
// plain object is Object's constructor, whose source the page printed (`?notice=constructor`).
const NOTICES = new Set(['too_soon', 'too_many', 'limit', 'muted', 'reported', 'needs_binding_message'] as const);
type Notice = typeof NOTICES extends Set<infer N> ? N : never;
/** Notices after which no push goes out for a while: the page says so in its heading, offers no "Try again", and asks for the passcode. */
const PAUSED = new Set<Notice>(['too_many', 'limit', 'muted', 'reported', 'needs_binding_message']);
const RESULTS = new Set(['denied', 'reported', 'wrong_number', 'expired'] as const);
type Result = typeof RESULTS extends Set<infer R> ? R : never;

const noticeOf = (q: unknown): Notice | null => (typeof q === 'string' && NOTICES.has(q as Notice) ? (q as Notice) : null);
/** When a pause ends (epoch ms, from answerPush); shown only, and only when it is a plausible time ahead. */
function pausedUntil(q: unknown, now: number): number | null {
  const n = typeof q === 'string' && /^\d{1,15}$/.test(q) ? Number(q) : NaN;
  return n > now && n < now + 8 * 86_400_000 ? n : null;
}

/**
 * GET /interaction/:uid/wait — sign-in step 9 (docs/architecture.md), the page that continues by itself: with JavaScript it
 * long-polls the status; without, it refreshes itself. Approved: the core finishes the sign-in here.
 */
export async function getWait(ctx: Context, deps: InteractionDeps): Promise<void> {
  const { it, s, push } = await requireFirstFactor(ctx, deps, { finishing: true });
  const w = await deps.signin.wait(s, push);
  if (w.kind !== 'waiting') return finishLogin(ctx, it, w, deps);
  const pending = w.status === 'pending';
  const notice = noticeOf(ctx.query.notice);
  const paused = notice !== null && PAUSED.has(notice);
  const until = paused ? pausedUntil(ctx.query.until, deps.now()) : null;
  const heading = pending ? t('wait.title')
    : paused ? pausedHeading(notice, until)
      : t(w.status === 'none' ? 'wait.noneTitle' : 'wait.deniedTitle');
  const result: Result = RESULTS.has(w.reason as Result) ? (w.reason as Result) : 'denied';
  ctx.type = 'html';
  ctx.body = deps.views.render('push-wait', {
    heading,
    headingHtml: !pending && paused && until !== null ? pausedHeadingHtml(notice, until) : null,
    uid: it.uid, csrf: deps.csrf.token(it.uid), clientName: it.clientName,
    status: w.status, matchNumber: w.matchNumber, secondsLeft: w.secondsLeft, expiresAt: w.expiresAt,
    message: w.status !== 'none' && !pending ? t(`wait.result.${result}`) : null,
    notice: notice ? t(`wait.notice.${notice}`) : null,
    paused,
    // Without JavaScript the page refreshes itself while the request is pending.
    refreshSeconds: pending ? 3 : null,
    script: pending ? '/static/push-wait.js' : null,
  });
}

function pausedHeading(notice: Notice, until: number | null): string {
  if (notice === 'muted' || notice === 'limit') {
    return until === null ? t(notice === 'muted' ? 'wait.paused.mutedNoTime' : 'wait.paused.limitNoTime') : t(`wait.paused.${notice}`, { time: formatTime(currentLocale(), until) });
  }
  return t(`wait.paused.${notice as 'reported' | 'too_many' | 'needs_binding_message'}`);
}

/** The heading with its end time as a <time> element the page script re-shows in the browser's time zone. */
function pausedHeadingHtml(notice: Notice, until: number): string | null {
  if (notice !== 'muted' && notice !== 'limit') return null;
  return pageHelpers(currentLocale(), { productName: '', productLogo: null }).th(`wait.paused.${notice}`, { time: until }, { time: 'time' });
}

/**
 * GET /interaction/:uid/push/status — the long-poll: answers as soon as the challenge leaves
 * 'pending', or after the core's long-poll time with 'pending'. The page then goes to /wait.
 */
export async function getStatus(ctx: Context, deps: InteractionDeps): Promise<void> {
  const { it, s, push } = await requireFirstFactor(ctx, deps);
  const next = `/interaction/${it.uid}/wait`;
  const watched = await deps.signin.watch(s.id, s.state, ctx.query.wait !== '0', push);
  if ('later' in watched) return holdUntilResolved(ctx, watched.later, next);
  ctx.type = 'json';
  ctx.body = { ...forTheComputer(watched.now), next };
}

/** The computer may be whoever knows the password: it hears "denied", never that the owner reported it. */
export const forTheComputer = (s: PushStatus): PushStatus => (s.reason === 'reported' ? { ...s, reason: 'denied' } : s);

/**
 * Holds the request outside Koa's middleware chain: the chain returns now (its frames, the loaded
 * interaction and oidc-provider's context can be collected) and the answer is written to the raw
 * response when the wait ends. A thousand waiting pages then cost the process far less memory.
 */
function holdUntilResolved(ctx: Context, later: Promise<PushStatus>, next: string): void {
  const res = ctx.res;
  const head = ctx.method === 'HEAD';
  ctx.respond = false;
  // Koa's own finish listener keeps `ctx` until the answer is written, so what hangs off it stays
  // as long: the per-request state (no page is rendered from it now) goes. So do the cookies set
  // on the way in (the app link): the waiting page that sent this poll set them already, and the
  // held headers would carry them for up to the long-poll time (10,000 waiting pages, issue 15).
  ctx.state = {};
  res.removeHeader('Set-Cookie');
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  later
    .then((answer) => {
      if (res.writableEnded || res.destroyed) return;
      const body = JSON.stringify({ ...forTheComputer(answer), next });
      res.setHeader('Content-Length', Buffer.byteLength(body));
      res.end(head ? undefined : body);
    })
    .catch(() => res.destroy());
}
