import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Challenge } from '../challenge/types.js';
import type { WaitListener } from '../challenge/waiters.js';
import type { Logger } from '../log.js';
import { answerShuttingDown } from '../observability/drain.js';
import { chooseRequestId, logRequest } from '../observability/request-id.js';
import { forTheComputer } from '../interaction/second-factor/wait.js';
import { statusAfterWait, type KnownPush, type PushHold, type PushStatus, type StateAndPush } from '../signin/index.js';
import type { SignInState } from '../signin/state.js';
import { heldPollHeaders, statusPollUid } from './long-poll-match.js';

/*
 * The waiting page's long-poll, GET /interaction/:uid/push/status, held before Koa (issue 15 item 4:
 * 10,000 waiting pages per IdP). Koa keeps a request's ctx, its cookies, router state and
 * on-finished listeners until the answer is written, about 10 KiB per held request; here a held
 * request is its Node request and response and one small record (HeldPoll).
 *
 * Only the request the page's script sends, found to be held, is served here: a GET of exactly
 * that path (no query, no body, no Authorization), for an interaction bound to this browser's
 * cookie, at the second factor, whose push is pending. Every other request, and every one of
 * those that is not to be held (bad cookie, another uid, finished, approved, denied, expired,
 * storage down, shutting down), goes to Koa unchanged, which answers it as it always has: the
 * checks here decide only whether to hold, never a refusal, so no answer can differ.
 */

export interface LongPollDeps {
  /**
   * oidc-provider's interactionDetails: the interaction bound to this browser's cookie (throws when
   * none), and the state with its push of the sign-in `uid`, in one read (interaction/load.ts interactionWithState).
   */
  interaction(req: IncomingMessage, res: ServerResponse, uid: string): Promise<{
    details: { uid: string; prompt: { name: string }; params: Record<string, unknown> };
    found: StateAndPush | null;
  }>;
  /** Whether this browser started the interaction (interaction/browser-binding.ts), as Koa's route checks. */
  startedHere(req: IncomingMessage, params: Record<string, unknown>): boolean;
  signin: {
    planWatch(id: string, state: SignInState, known?: KnownPush): Promise<{ now: PushStatus } | { hold: PushHold }>;
  };
  /** The process's challenge waiters (src/challenge/waiters.ts). False: closed, nothing held. */
  hold(challengeId: string, ms: number, listener: WaitListener, readAt?: number): boolean;
  /** True once shutdown began (src/observability/drain.ts). */
  draining(): boolean;
  /** The Retry-After of the 503 a held request gets at shutdown. */
  retryAfter: string;
  hsts: boolean;
  logger: Logger;
  now(): number;
}

export interface LongPollRoute {
  /** The server's request handler: the held long-poll, or `next` (Koa's callback). */
  handler(next: (req: IncomingMessage, res: ServerResponse) => void): (req: IncomingMessage, res: ServerResponse) => void;
  /** Shutdown: every held request is answered 503 + Retry-After now. Returns how many. */
  drain(): number;
  /** How many requests are held here now. */
  readonly held: number;
}

/** One held request: what its answer is made of, and nothing else (no closures, no context). */
class HeldPoll implements WaitListener {
  constructor(
    readonly route: Route,
    readonly res: ServerResponse,
    readonly reqId: string,
    readonly started: number,
    readonly signInId: string,
    readonly accountId: string,
    readonly expiresAt: number,
  ) {}

  settled(ch: Challenge | null): void {
    this.route.answer(this, ch);
  }
}

class Route {
  readonly polls = new Set<HeldPoll>();
  readonly headers: ReadonlyArray<readonly [string, string]>;

  constructor(readonly deps: LongPollDeps) {
    this.headers = heldPollHeaders(deps.hsts);
  }

  /** The wait ended: the status as the page's script reads it, unless drained or gone meanwhile. */
  answer(p: HeldPoll, ch: Challenge | null): void {
    if (!this.polls.delete(p)) return;
    const { res } = p;
    try {
      if (!res.writableEnded && !res.destroyed) {
        const status = forTheComputer(statusAfterWait(ch, p, this.deps.now()));
        const body = JSON.stringify({ ...status, next: `/interaction/${p.signInId}/wait` });
        this.writeHeaders(p);
        res.statusCode = 200;
        res.setHeader('Content-Length', Buffer.byteLength(body));
        res.end(body);
      }
    } catch {
      res.destroy();
    }
    this.log(p);
  }

  /** Shutdown: answered 503 + Retry-After (the page asks again, elsewhere). */
  release(p: HeldPoll): boolean {
    if (!this.polls.delete(p)) return false;
    this.writeHeaders(p);
    const released = answerShuttingDown(p.res, this.deps.retryAfter);
    this.log(p);
    return released;
  }

  writeHeaders(p: HeldPoll): void {
    for (const [name, value] of this.headers) p.res.setHeader(name, value);
    p.res.setHeader('X-Request-Id', p.reqId);
  }

  log(p: HeldPoll): void {
    logRequest(this.deps.logger, p.reqId, 'GET', `/interaction/${p.signInId}/push/status`, p.res.statusCode, p.started);
  }

  /** Holds the request when it is the page's poll on a pending push of this browser's sign-in; else Koa answers it. */
  async serve(req: IncomingMessage, res: ServerResponse, uid: string, next: (req: IncomingMessage, res: ServerResponse) => void): Promise<void> {
    const started = performance.now();
    const reqId = chooseRequestId(req.headers['x-request-id'] || undefined);
    let plan: PushHold | null = null;
    try {
      // The same lookups as Koa's route (src/interaction/load.ts requireFirstFactor, then the core's watch).
      const { details: it, found } = await this.deps.interaction(req, res, uid);
      if (it.uid === uid && it.prompt.name === 'login' && this.deps.startedHere(req, it.params)) {
        const watched = found ? await this.deps.signin.planWatch(uid, found.state, found.push) : null;
        if (watched && 'hold' in watched) plan = watched.hold;
      }
    } catch {
      plan = null; // whatever failed, Koa's route meets it again and answers it (400, 503...)
    }
    // Cookies the interaction lookup re-signed: Koa sets them itself when it answers, and a held
    // answer carries none (the waiting page that sent this poll has them).
    res.removeHeader('Set-Cookie');
    if (!plan || res.destroyed) {
      // Koa's request id is this one, so the request is one id in the logs either way.
      req.headers['x-request-id'] = reqId;
      next(req, res);
      return;
    }
    const p = new HeldPoll(this, res, flat(reqId), started, uid, plan.accountId, plan.expiresAt);
    this.polls.add(p);
    if (this.deps.draining()) this.release(p);
    // Waiters closed (the process is stopping): answered as the challenge stood, as Koa's route does.
    else if (!this.deps.hold(plan.challengeId, plan.ms, p, plan.readAt)) this.answer(p, null);
  }
}

/**
 * A string as one flat piece: randomUUID's id is a rope of a dozen concatenated parts (about
 * 0.5 KiB of heap, kept as long as the poll is held; seen in a heap snapshot diff), a flat copy 56 B.
 */
const flat = (s: string): string => Buffer.from(s, 'latin1').toString('latin1');

export function createLongPollRoute(deps: LongPollDeps): LongPollRoute {
  const route = new Route(deps);
  return {
    handler: (next) => (req, res) => {
      const uid = deps.draining() ? null : statusPollUid(req.method, req.url, req.headers);
      if (uid === null) next(req, res);
      else route.serve(req, res, uid, next).catch(() => res.destroy());
    },
    drain() {
      let released = 0;
      for (const p of [...route.polls]) if (route.release(p)) released++;
      return released;
    },
    get held() {
      return route.polls.size;
    },
  };
}
