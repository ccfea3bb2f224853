import { z } from 'zod';

/**
 * What must not be in a name the IdP shows a user (an app, a SAML service provider, a gateway, a
 * RADIUS client, a device): control characters, lone surrogates, line or paragraph separators, bidi
 * embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) and bidi marks (U+200E, U+200F,
 * U+061C). They reorder or break what the phone shows beside the name, so one name could pass for
 * another where the user decides.
 */
export const NOT_SHOWABLE = /[\p{Cc}\p{Cs}\p{Zl}\p{Zp}\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/u;

export const NOT_SHOWABLE_MESSAGE = 'must not contain control characters, line or paragraph separators, bidi marks or overrides, or lone surrogates';

/** A configured display name: 1 to `max` characters, none of NOT_SHOWABLE, no blank at either end. */
export function shownName(max: number) {
  return z.string().min(1).max(max)
    .refine((s) => !NOT_SHOWABLE.test(s), NOT_SHOWABLE_MESSAGE)
    .refine((s) => s.trim() === s && s.trim().length > 0, 'must not start or end with a blank');
}
