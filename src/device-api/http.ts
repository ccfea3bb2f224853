import { bodyParser } from '@koa/bodyparser';
import type { Context, Middleware, Next } from 'koa';
import { DeviceError, invalidRequest } from '../devices/errors.js';

/** Where unexpected failures go (a pino logger fits). Never given a secret. */
export interface ErrorLog {
  error(obj: object, msg?: string): void;
}

/**
 * The edge of the device API: every refusal becomes `{ error, error_description }` with its
 * status, and nothing the API answers is cached (the enrollment answer carries the TOTP secret).
 * Only a fault of ours is a 500; bad input never is.
 */
export function envelope(log?: ErrorLog): Middleware {
  return async (ctx: Context, next: Next) => {
    ctx.set('Cache-Control', 'no-store');
    try {
      await next();
    } catch (err) {
      const refusal = asDeviceError(err);
      if (refusal.status >= 500) log?.error({ err }, 'device api failed');
      ctx.status = refusal.status;
      for (const [name, value] of Object.entries(refusal.headers)) ctx.set(name, value);
      ctx.body = { error: refusal.code, error_description: refusal.description };
    }
  };
}

/** Errors thrown by co-body (through @koa/bodyparser) carry a status and a `type`. */
function asDeviceError(err: unknown): DeviceError {
  if (err instanceof DeviceError) return err;
  const e = err as { status?: unknown; type?: unknown } | null;
  if (e && typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    if (e.status === 413) return new DeviceError('invalid_request', 413, 'the request body is too large');
    if (e.status === 415) return new DeviceError('invalid_request', 415, 'unsupported content encoding or charset');
    return invalidRequest(e.type === 'entity.parse.failed' || err instanceof SyntaxError
      ? 'the request body is not valid JSON' : 'the request body could not be read');
  }
  return new DeviceError('server_error', 500, 'the server could not handle the request');
}

/** Small on purpose: the largest legitimate body (enrollment) is well under 2 KB. */
export const BODY_LIMIT = '16kb';

const parse = bodyParser({ enableTypes: ['json'], jsonLimit: BODY_LIMIT, jsonStrict: true, encoding: 'utf-8' });

/** Parses a JSON object body; anything else is refused before a handler sees it. */
export const jsonBody: Middleware = async (ctx: Context, next: Next) => {
  if (!ctx.is('application/json')) {
    throw new DeviceError('invalid_request', 415, 'the request body must be application/json');
  }
  await parse(ctx, async () => {});
  const body: unknown = ctx.request.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidRequest('the request body must be a JSON object');
  }
  await next();
};

export function jsonBodyOf(ctx: Context): Record<string, unknown> {
  return ctx.request.body as Record<string, unknown>;
}
