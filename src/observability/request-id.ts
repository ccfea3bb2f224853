import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from '../log.js';
import { requestContext } from './request-context.js';

/**
 * The request id: one per HTTP request, on every log line written while it is served (src/log.ts
 * reads it through `currentRequestId`) and echoed in the `X-Request-Id` response header, so an
 * operator can find a user's request in the logs of whichever instance served it.
 *
 * A proxy's `X-Request-Id` is kept only when it is plainly an id (letters, digits, `-_.:`, 8-64
 * characters): anything else could forge or break log lines, so a fresh one is made instead.
 */
export const REQUEST_ID = /^[A-Za-z0-9._:-]{8,64}$/;

/** The id of the request being served, or undefined outside a request. */
export function currentRequestId(): string | undefined {
  return requestContext.getStore()?.requestId || undefined;
}

/** Pure: the id to use for a request that came with `offered` (the header's value, if any). */
export function chooseRequestId(offered: string | string[] | undefined): string {
  return typeof offered === 'string' && REQUEST_ID.test(offered) ? offered : randomUUID();
}

/**
 * First middleware: sets the id, echoes it, runs the rest of the request inside it, and logs one
 * line when the response is done (method, path without its query string, which may carry a code,
 * status, milliseconds). Health probes and metrics scrapes are logged at debug only.
 */
export function requestId(logger?: Logger): Middleware {
  return async (ctx, next) => {
    const id = chooseRequestId(ctx.get('x-request-id') || undefined);
    const started = performance.now();
    ctx.state.requestId = id;
    ctx.set('X-Request-Id', id);
    if (logger) {
      const { method, path } = ctx;
      ctx.res.once('close', () => logRequest(logger, id, method, path, ctx.res.statusCode, started));
    }
    await requestContext.run({ requestId: id }, next);
  };
}

/**
 * The one line per request (requestId, and the raw long-poll route, src/http/long-poll.ts): method,
 * path without its query string, status, milliseconds; health probes and metrics scrapes at debug.
 */
export function logRequest(logger: Logger, reqId: string, method: string, path: string, status: number, started: number): void {
  const line = { reqId, method, path, status, ms: Math.round(performance.now() - started) };
  if (path === '/healthz' || path === '/readyz' || path === '/metrics') logger.debug(line, 'request');
  else logger.info(line, 'request');
}
