import type { ServerResponse } from 'node:http';
import type { Middleware } from 'koa';

/**
 * Graceful shutdown's HTTP side (docs/production.md, Shutdown). A long-poll (the waiting page's
 * status request) is held outside Koa's chain (ctx.respond = false) for up to its long-poll time;
 * at shutdown it must neither hang the exit nor be dropped. `drain()` answers every held one at
 * once with 503 and a Retry-After, which the page's script honours and asks again (reaching
 * another instance); its owner then finds the response ended and writes nothing. The page's own
 * polls are held before Koa (src/http/long-poll.ts), which drains its own the same way; the ones
 * held here are the rest (HEAD, a query string).
 */
export interface Drain {
  middleware: Middleware;
  /** Starts draining: held responses are answered now, later ones as soon as they are held. Returns how many were released. */
  drain(): number;
  readonly draining: boolean;
  /** How many responses are held right now. */
  readonly held: number;
  /** The Retry-After (seconds) of the 503 a held response gets. */
  readonly retryAfter: string;
}

/**
 * Answers a held response 503 + Retry-After (the page asks again, elsewhere) and closes its
 * connection; false when it was answered or gone already. Also used by src/http/long-poll.ts.
 */
export function answerShuttingDown(res: ServerResponse, retryAfter: string): boolean {
  if (res.headersSent || res.writableEnded || res.destroyed) return false;
  const body = JSON.stringify({ status: 'unavailable', error: 'shutting_down', retry: true });
  res.statusCode = 503;
  res.setHeader('Retry-After', retryAfter);
  res.setHeader('Connection', 'close');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
  return true;
}

export function createDrain(opts: { retryAfterSeconds?: number } = {}): Drain {
  const retryAfter = String(opts.retryAfterSeconds ?? 2);
  const held = new Set<ServerResponse>();
  let draining = false;

  const release = (res: ServerResponse): boolean => {
    held.delete(res);
    return answerShuttingDown(res, retryAfter);
  };

  return {
    get draining() { return draining; },
    get held() { return held.size; },
    retryAfter,
    drain() {
      draining = true;
      let released = 0;
      for (const res of [...held]) if (release(res)) released++;
      return released;
    },
    middleware: async (ctx, next) => {
      // While draining, every answer closes its connection: keep-alive clients reconnect elsewhere.
      if (draining) ctx.set('Connection', 'close');
      await next();
      if (ctx.respond !== false) return;
      const res = ctx.res;
      if (res.writableEnded || res.destroyed) return;
      if (draining) {
        release(res);
        return;
      }
      held.add(res);
      const forget = () => held.delete(res);
      res.once('finish', forget);
      res.once('close', forget);
    },
  };
}
