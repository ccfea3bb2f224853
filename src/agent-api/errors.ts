import { AppError } from '../http/errors.js';

/**
 * Every answer of the agent API that is not a success, with its stable wire code
 * (docs/agent-api.md, "Errors"). Thrown in handlers; http.ts turns it into
 * `{ error, error_description }` with its status and headers.
 */
export type AgentErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'access_denied'
  | 'push_unavailable'
  | 'expired'
  | 'timeout'
  | 'rate_limited'
  | 'not_found'
  | 'poll_in_progress'
  | 'method_not_allowed'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'server_error';

/** A member of the one error family (src/http/errors.ts); the agent API's own edge (http.ts) answers it as JSON. */
export class AgentError extends AppError<AgentErrorCode> {
  override readonly name = 'AgentError';
  constructor(code: AgentErrorCode, status: number, description: string, headers: Record<string, string> = {}) {
    super(code, status, description, headers);
  }

  /** The `error_description` on the wire (the message). */
  get description(): string {
    return this.message;
  }
}

export const badRequest = (description: string) => new AgentError('invalid_request', 400, description);

/** RFC 9110 11.6.1: the schemes a 401 offers. */
export const AGENT_AUTH_CHALLENGE = 'Basic realm="agent-api", charset="UTF-8", Bearer realm="agent-api"';

/** One answer for a missing, malformed or wrong credential, and for a right one from a network not allowed. */
export const invalidClient = () =>
  new AgentError('invalid_client', 401, 'gateway authentication failed', { 'WWW-Authenticate': AGENT_AUTH_CHALLENGE });

/** One answer for an unknown user, a wrong password, a disabled account and a wrong passcode. */
export const authenticationFailed = () => new AgentError('access_denied', 403, 'the username, password or passcode is not right');

export const rateLimited = (retryAfterSeconds: number, description = 'too many attempts: try again later') =>
  new AgentError('rate_limited', 429, description, { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) });
