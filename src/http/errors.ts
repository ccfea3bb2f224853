/**
 * One error model for every front door (docs/architecture.md, "Errors and the edge"): an
 * `AppError` carries a stable wire `code` from a literal union, an HTTP `status`, whether its
 * message is safe to show (`expose`: every 4xx, never a 5xx) and optional headers (Retry-After,
 * Allow). Thrown anywhere; the one edge (./edge.ts) turns it into `{ error, error_description }`
 * JSON for APIs or the error page for browsers. Its members: `HttpError` (the pages), `DeviceError`
 * (the device API, src/devices/errors.ts), `AgentError` (src/agent-api/errors.ts), `SamlError`
 * (src/saml/errors.ts).
 */
export class AppError<C extends string = string> extends Error {
  /** The message may be shown to the caller: a refusal (4xx) says why; a fault of ours (5xx) does not. */
  readonly expose: boolean;
  constructor(
    readonly code: C,
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    // A 503 "try again in a moment" (a storage outage, isStorageOutage) says so; other 5xx say nothing.
    this.expose = (status >= 400 && status < 500) || (status === 503 && code === 'temporarily_unavailable');
  }
}

const TECHNICAL = new WeakSet<AppError>();
/**
 * Marks a refusal whose message is written for an app's developers, in English: a library's (a body
 * parser, the router), a SAML SP's request, the edge's checks of odd bytes. A page in another
 * language leads with a sentence of its own and shows this message as the detail (edge.ts errorPage).
 */
export function technical<E extends AppError>(e: E): E { TECHNICAL.add(e); return e; }
export const isTechnical = (e: AppError): boolean => TECHNICAL.has(e);

/** The codes the browser pages and the edge answer with (the device API's are DeviceErrorCode). */
export type HttpErrorCode =
  | 'invalid_request'
  | 'invalid_dpop_proof'
  | 'csrf'
  | 'session_not_found'
  | 'interaction_mismatch'
  | 'login_required'
  | 'access_denied'
  | 'no_device'
  | 'too_many_attempts'
  | 'rate_limited'
  | 'not_found'
  | 'method_not_allowed'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'temporarily_unavailable'
  | 'server_error';

/** A refusal of a browser page or of the edge itself: `new HttpError(status, code, message, headers?)`. */
export class HttpError extends AppError<HttpErrorCode> {
  override readonly name = 'HttpError';
  constructor(status: number, code: HttpErrorCode, message: string, headers: Record<string, string> = {}) {
    super(code, status, message, headers);
  }
}

/** RFC 9110 15.5.6: a method this path does not take, with the methods it does (JSON like every refusal). */
export function methodNotAllowed(method: string, allow: string): AppError {
  return technical(new HttpError(405, 'method_not_allowed', `${method} is not served here.`, { Allow: allow }));
}

/**
 * @koa/router runs a GET route for HEAD too. Where a GET acts (takes a request ID once, ends a
 * session, exchanges a code), HEAD is a 405 with nothing done: link scanners and prefetchers send
 * HEAD (red-team: a HEAD used up a SAML AuthnRequest's ID and ended a session by its SessionIndex).
 */
export const noHead = (allow: string) => async (ctx: { method: string }, next: () => Promise<unknown>): Promise<void> => {
  if (ctx.method === 'HEAD') throw methodNotAllowed('HEAD', allow);
  await next();
};

/**
 * No error: a page's request whose answer is another page, decided deep in a handler (the edge
 * answers it with a 303 to `location`, nothing else). Thrown only for a browser's page request.
 */
export class SeeOther extends Error {
  override readonly name = 'SeeOther';
  constructor(readonly location: string) {
    super(`see ${location}`);
  }
}

/** What anyone may read of a fault of ours. */
export const FAULT = 'the server could not handle the request';

/** co-body/raw-body (under @koa/bodyparser) mark their refusals with a `type`. */
const bodyRefusal = (status: number, type: unknown, err: unknown): string | null => {
  if (status === 413) return 'the request body is too large';
  if (status === 415) return 'unsupported content encoding or charset';
  if (type === 'entity.parse.failed' || err instanceof SyntaxError) return 'the request body is not valid JSON';
  if (typeof type === 'string' && /^(?:entity|request|encoding|charset|stream)\./.test(type)) return 'the request body could not be read';
  return null;
};

/**
 * Anything thrown, as an AppError: ours as they are; a 4xx of a library (a body parser's, the
 * router's 404/405, Koa's ctx.throw) keeps its status under a stable code; everything else is a
 * fault of ours, a 500 that shows nothing of itself.
 */
export function toAppError(err: unknown): AppError {
  // Ours as they are, unless one names a status that is no error (it then counts as a fault).
  if (err instanceof AppError && err.status >= 400 && err.status <= 599) return err;
  if (isStorageOutage(err)) return new AppError('temporarily_unavailable', 503, UNAVAILABLE, { 'Retry-After': String(RETRY_AFTER_SECONDS) });
  const e = (err ?? {}) as { status?: unknown; statusCode?: unknown; expose?: unknown; code?: unknown; message?: unknown; type?: unknown; headers?: unknown };
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status < 400 || status >= 500) return new AppError('server_error', 500, FAULT);
  const headers = e.headers && typeof e.headers === 'object' ? stringValues(e.headers as Record<string, unknown>) : {};
  const body = bodyRefusal(status, e.type, err);
  if (body) return technical(new AppError('invalid_request', status, body, headers));
  const code = typeof e.code === 'string' && /^[a-z_]+$/.test(e.code) ? e.code
    : status === 404 ? 'not_found' : status === 405 ? 'method_not_allowed' : 'invalid_request';
  const message = e.expose !== false && typeof e.message === 'string' && e.message ? e.message : 'Bad request.';
  return technical(new AppError(code, status, message, headers));
}

/** What a caller reads while Redis or PostgreSQL cannot be reached (docs/production.md, "Faults"). */
export const UNAVAILABLE = 'The service is temporarily unavailable. Try again in a moment.';
export const RETRY_AFTER_SECONDS = 5;

/** Socket-level failures: the server is down, restarting or unreachable. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/**
 * ioredis's own errors when it cannot reach a server, and Redis's replies while a node cannot serve:
 * also a full Redis under `noeviction` (OOM), a persistence failure that stops writes (MISCONF), a
 * script running long (BUSY), credentials rotated under the process (NOAUTH, WRONGPASS) and the
 * server's client limit (red-team: each was a 500, not a 503), and a command unanswered for
 * COMMAND_TIMEOUT_MS (src/storage/redis.ts).
 */
const REDIS_OUTAGE = /^(?:Connection is closed|Command timed out|None of startup nodes is available|Cluster isn.t ready|Stream isn't writeable|Reached the max retries per request limit|None of the sentinels are available|All sentinels are unreachable|Failed to refresh slots cache|Too many Cluster redirections|CLUSTERDOWN|TRYAGAIN|LOADING|MASTERDOWN|READONLY|OOM |MISCONF |BUSY |NOAUTH |WRONGPASS |ERR max number of clients reached)/;
/**
 * PostgreSQL's: connection exceptions (class 08), the server shutting down or starting (57P01-57P03),
 * a read-only server (25006: a standby after a failover, a read-only window), insufficient resources
 * (class 53: too many connections, out of memory or disk) and a statement cancelled by its timeout
 * or the administrator (57014).
 */
const PG_OUTAGE = /^(?:08|57P0[123]|25006$|53|57014$)/;
const PG_MESSAGES = /^(?:Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect|Connection terminated due to connection timeout)/;

/**
 * True when `err` says a storage engine (Redis, PostgreSQL) is out of reach for now, not that the
 * request or our code is wrong: such a request is answered 503 with Retry-After, and succeeds
 * unchanged once the engine is back (ioredis and pg reconnect by themselves).
 */
export function isStorageOutage(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    const x = e as { name?: unknown; code?: unknown; message?: unknown; cause?: unknown; lastNodeError?: unknown };
    if (x.name === 'MaxRetriesPerRequestError' || x.name === 'ClusterAllFailedError') return true;
    if (typeof x.code === 'string' && (NETWORK_CODES.has(x.code) || PG_OUTAGE.test(x.code))) return true;
    if (typeof x.message === 'string' && (REDIS_OUTAGE.test(x.message) || PG_MESSAGES.test(x.message))) return true;
    e = x.cause ?? x.lastNodeError;
  }
  return false;
}

function stringValues(headers: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter((h): h is [string, string] => typeof h[1] === 'string'));
}
