import type { Context, Middleware, Next } from 'koa';
import { AgentError, badRequest } from './errors.js';
import { repeatedMember } from '../http/json-members.js';
import { strictJsonObject } from '../http/json-object.js';
import { CLOSE_AFTER_ANSWER, readBody } from '../http/read-body.js';

/** Where unexpected failures go (a pino logger fits). Never given a secret. */
export interface ErrorLog {
  error(obj: object, msg?: string): void;
}

/**
 * The edge of the agent API: every refusal is `{ error, error_description }` JSON with its
 * status; a fault of ours is a bare `server_error` (details go to the log only); nothing is cached.
 */
export function envelope(log: ErrorLog): Middleware {
  return async (ctx: Context, next: Next) => {
    ctx.set('Cache-Control', 'no-store');
    try {
      await next();
    } catch (err) {
      const refusal = err instanceof AgentError ? err : new AgentError('server_error', 500, 'the server could not handle the request');
      if (refusal.status >= 500) log.error({ err, path: ctx.path }, 'agent api failed');
      ctx.status = refusal.status;
      for (const [name, value] of Object.entries(refusal.headers)) ctx.set(name, value);
      ctx.body = { error: refusal.code, error_description: refusal.description };
    }
  };
}

/** The largest legitimate body (username, password, passcode, client_ip, mode, wait) is well under 1 KB. */
export const BODY_LIMIT_BYTES = 4096;

function readLimited(ctx: Context, limit: number): Promise<Buffer> {
  return readBody(ctx.req, ctx.request.length, limit, {
    tooLarge: () => new AgentError('payload_too_large', 413, `the body is larger than ${limit} bytes`, CLOSE_AFTER_ANSWER),
    unreadable: () => badRequest('the body could not be read'),
  });
}

/**
 * Reads the body as a JSON object, strictly: application/json in UTF-8 only, at most
 * BODY_LIMIT_BYTES, bytes that are not UTF-8 refused (not replaced), one object.
 */
export async function readJsonObject(ctx: Context): Promise<Record<string, unknown>> {
  if (!ctx.is('application/json')) throw new AgentError('unsupported_media_type', 415, 'the body must be application/json');
  const charset = /;\s*charset=("?)([^";\s]*)\1/i.exec(ctx.get('content-type'))?.[2];
  if (charset !== undefined && charset.toLowerCase() !== 'utf-8') throw new AgentError('unsupported_media_type', 415, 'the body must be UTF-8');
  const raw = await readLimited(ctx, BODY_LIMIT_BYTES);
  // A byte-order mark is kept, so JSON.parse refuses it (RFC 8259 8.1: senders must not add one).
  const { value, text } = strictJsonObject(raw, { noun: 'the body', bom: 'refuse', refuse: badRequest });
  const repeated = repeatedMember(text);
  if (repeated !== null) throw badRequest(`the body names "${repeated.slice(0, 40)}" twice`);
  return value;
}
