import type { Context } from 'koa';
import { z } from 'zod';
import { HttpError, technical } from './errors.js';

/**
 * The browser forms' fields, checked by schemas as the device API's bodies are (src/devices/validate.ts).
 * A field a form does not name is dropped; a field sent twice arrives as a list and is not text.
 * What fails is a 400 page whose words are the schema's message for the first bad field.
 */
export function parseForm<T>(ctx: Context, schema: z.ZodType<T>): T {
  const result = schema.safeParse(ctx.request.body ?? {});
  if (result.success) return result.data;
  throw technical(new HttpError(400, 'invalid_request', result.error.issues[0]?.message ?? 'The form could not be read.'));
}

/** A text field of at most `max` characters; absent reads as ''. */
export const textField = (name: string, max: number) =>
  z.string({ error: `The field "${name}" must be text.` })
    .max(max, `The field "${name}" is too long.`)
    .optional()
    .transform((v) => v ?? '');

/**
 * The CSRF token as sent: anything but one string (absent, sent twice) reads as no token, which
 * the check then refuses with its own 403.
 */
export const csrfField = z.string().optional().catch(undefined);

/** A form that carries only its CSRF token (push, abort, confirm, logout, enroll, revoke). */
export const csrfForm = z.object({ csrf: csrfField });
