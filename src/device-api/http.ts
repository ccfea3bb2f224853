import { bodyParser } from '@koa/bodyparser';
import type { Context, Middleware, Next } from 'koa';
import { DeviceError, invalidRequest } from '../devices/errors.js';

/** Nothing the device API answers is cached (the enrollment answer carries the TOTP secret). */
export const noStore: Middleware = async (ctx: Context, next: Next) => {
  ctx.set('Cache-Control', 'no-store');
  await next();
};

/** Small on purpose: the largest legitimate body (enrollment) is well under 2 KB. */
const BODY_LIMIT = '16kb';

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
