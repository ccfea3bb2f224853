import { z } from 'zod';
import { invalidRequest } from './errors.js';

/**
 * 1-64 characters (code points) after trimming, no control characters: it is shown in lists, and in
 * the notice other devices get when one is added. No bidi embedding, override or isolate either
 * (U+202A-U+202E, U+2066-U+2069): they reorder what follows, so a name could pass for another.
 */
export const deviceNameSchema = z
  .string()
  .trim()
  .refine((s) => [...s].length >= 1 && [...s].length <= 64, 'name must be 1-64 characters')
  .refine((s) => !/[\p{Cc}\p{Cs}\u202A-\u202E\u2066-\u2069]/u.test(s), 'name must not contain control characters, bidi overrides or lone surrogates');

/** Parses or throws `invalid_request` naming the first offending field. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  throw invalidRequest(`${where}${issue?.message ?? 'malformed request'}`);
}
