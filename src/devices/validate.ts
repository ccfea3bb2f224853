import { z } from 'zod';
import { invalidRequest } from './errors.js';
import { unshowable } from '../config/shown-name.js';

/**
 * 1-64 characters (code points) after trimming, no control characters: it is shown in lists, and in
 * the notice other devices get when one is added. No bidi embedding, override or isolate either
 * (U+202A-U+202E, U+2066-U+2069) nor bidi mark (U+200E, U+200F, U+061C): they reorder what follows,
 * so a name could pass for another; no line or paragraph separator (U+2028, U+2029) either; nothing
 * invisible (a zero-width space, a Hangul filler: a name of them names nothing in that notice), and
 * at least one letter, digit, symbol or punctuation mark.
 */
export const deviceNameSchema = z
  .string()
  .trim()
  .refine((s) => [...s].length >= 1 && [...s].length <= 64, 'name must be 1-64 characters')
  .superRefine((s, ctx) => {
    const why = unshowable(s);
    if (why !== null) ctx.addIssue({ code: 'custom', message: `name ${why}` });
  });

/** Parses or throws `invalid_request` naming the first offending field. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  throw invalidRequest(`${where}${issue?.message ?? 'malformed request'}`);
}
