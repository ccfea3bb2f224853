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
    this.expose = status >= 400 && status < 500;
  }
}

/** The codes the browser pages and the edge answer with (the device API's are DeviceErrorCode). */
export type HttpErrorCode =
  | 'invalid_request'
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
  | 'server_error';

/** A refusal of a browser page or of the edge itself: `new HttpError(status, code, message, headers?)`. */
export class HttpError extends AppError<HttpErrorCode> {
  override readonly name = 'HttpError';
  constructor(status: number, code: HttpErrorCode, message: string, headers: Record<string, string> = {}) {
    super(code, status, message, headers);
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
  const e = (err ?? {}) as { status?: unknown; statusCode?: unknown; expose?: unknown; code?: unknown; message?: unknown; type?: unknown; headers?: unknown };
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status < 400 || status >= 500) return new AppError('server_error', 500, FAULT);
  const headers = e.headers && typeof e.headers === 'object' ? stringValues(e.headers as Record<string, unknown>) : {};
  const body = bodyRefusal(status, e.type, err);
  if (body) return new AppError('invalid_request', status, body, headers);
  const code = typeof e.code === 'string' && /^[a-z_]+$/.test(e.code) ? e.code
    : status === 404 ? 'not_found' : status === 405 ? 'method_not_allowed' : 'invalid_request';
  const message = e.expose !== false && typeof e.message === 'string' && e.message ? e.message : 'Bad request.';
  return new AppError(code, status, message, headers);
}

function stringValues(headers: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter((h): h is [string, string] => typeof h[1] === 'string'));
}
