import { bodyParser } from '@koa/bodyparser';
import type { Middleware } from 'koa';
import { HttpError } from './errors.js';

/** Parses a URL-encoded form (our pages' POSTs), 16 KB at most; anything else is refused with a 4xx. */
export function formBody(): Middleware {
  const parse = bodyParser({ enableTypes: ['form'], formLimit: '16kb', encoding: 'utf-8' });
  return async (ctx, next) => {
    if (!ctx.is('application/x-www-form-urlencoded')) {
      throw new HttpError(415, 'unsupported_media_type', 'Send the form as application/x-www-form-urlencoded.');
    }
    try {
      await parse(ctx, async () => {});
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 413) throw new HttpError(413, 'payload_too_large', 'The form is too large.');
      throw new HttpError(400, 'invalid_request', 'The form could not be read.');
    }
    // No text field of ours may hold a NUL: PostgreSQL refuses it, and no person types one.
    for (const [name, value] of Object.entries((ctx.request.body ?? {}) as Record<string, unknown>)) {
      if ([value].flat().some((v) => typeof v === 'string' && v.includes('\u0000'))) {
        throw new HttpError(400, 'invalid_request', `The field "${name}" holds a character that is not allowed.`);
      }
    }
    await next();
  };
}
