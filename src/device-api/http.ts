import type { Context, Middleware, Next } from 'koa';
import { DeviceError, invalidRequest } from '../devices/errors.js';
import { strictJsonObject } from '../http/json-object.js';
import { CLOSE_AFTER_ANSWER, readBody } from '../http/read-body.js';

/** Nothing the device API answers is cached (the enrollment answer carries the TOTP secret). */
export const noStore: Middleware = async (ctx: Context, next: Next) => {
  ctx.set('Cache-Control', 'no-store');
  await next();
};

/** Small on purpose: the largest legitimate body (enrollment) is well under 2 KB. */
const BODY_LIMIT_BYTES = 16 * 1024;

/**
 * Deeper than any body of docs/device-api.md (an enrollment's webauthn.response.transports is 4
 * levels, a WebAuthn extension's results a few more). A deeper body is refused before any schema
 * walks it (red-team: 7,000 nested brackets in clientExtensionResults, under 16 KB, overflowed the
 * stack of a recursive check: a 500 on enroll and on an answer, before any authentication).
 */
export const MAX_JSON_DEPTH = 32;

function readLimited(ctx: Context): Promise<Buffer> {
  return readBody(ctx.req, ctx.request.length, BODY_LIMIT_BYTES, {
    tooLarge: () => new DeviceError('invalid_request', 413, 'the request body is too large', CLOSE_AFTER_ANSWER),
    unreadable: () => invalidRequest('the request body could not be read'),
  });
}

/** Pure: true when `value` nests arrays and objects deeper than `max`; walked with a stack of its own, never recursively. */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * Pure: the body's bytes as one JSON object, or the invalid_request that says why not: UTF-8 and
 * nothing else (red-team: FF FE, CESU-8's ED A0 80 or a latin-1 E9 in a name were stored as U+FFFD
 * and used up the enrollment code); a leading byte-order mark is dropped, as before.
 */
export function parseJsonObject(raw: Uint8Array): Record<string, unknown> {
  const { value: parsed } = strictJsonObject(raw, { noun: 'the request body', bom: 'drop', refuse: invalidRequest });
  if (nestsDeeperThan(parsed, MAX_JSON_DEPTH)) {
    throw invalidRequest(`the request body nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
  return parsed;
}

/** Parses a JSON object body, strictly; anything else is refused before a handler sees it. */
export const jsonBody: Middleware = async (ctx: Context, next: Next) => {
  if (!ctx.is('application/json')) {
    throw new DeviceError('invalid_request', 415, 'the request body must be application/json');
  }
  ctx.request.body = parseJsonObject(await readLimited(ctx));
  await next();
};

export function jsonBodyOf(ctx: Context): Record<string, unknown> {
  return ctx.request.body as Record<string, unknown>;
}
