import { bodyParser } from '@koa/bodyparser';
import type { Middleware } from 'koa';
import { HttpError } from './errors.js';
import { t } from '../i18n/index.js';
import { checkPairs } from './hostile.js';

/** Parses a URL-encoded form (our pages' POSTs), 16 KB at most unless `limit` says more; anything else is refused with a 4xx. */
export function formBody(limit = '16kb'): Middleware {
  const parse = bodyParser({ enableTypes: ['form'], formLimit: limit, encoding: 'utf-8' });
  return async (ctx, next) => {
    if (!ctx.is('application/x-www-form-urlencoded')) {
      throw new HttpError(415, 'unsupported_media_type', t('error.formType'));
    }
    try {
      await parse(ctx, async () => {});
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 413) throw new HttpError(413, 'payload_too_large', t('error.formTooLarge'));
      throw new HttpError(400, 'invalid_request', t('error.formUnreadable'));
    }
    // The form as sent, strictly: a malformed escape (%E0%A4%A, %C0%AF, CESU-8 surrogates) would
    // otherwise be kept by the parser as the literal text '%E0%A4%A' and stored; a NUL or a lone
    // surrogate PostgreSQL refuses, and no person types one. All are a 400, before anything is done.
    const raw = (ctx.request as { rawBody?: unknown }).rawBody;
    checkPairs(typeof raw === 'string' ? raw : '', 'form');
    await next();
  };
}
