import { z } from 'zod';

/**
 * What must not be in a name the IdP shows a user (an app, a SAML service provider, a gateway, a
 * RADIUS client, a device): control characters, lone surrogates, line or paragraph separators, bidi
 * embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) and bidi marks (U+200E, U+200F,
 * U+061C). They reorder or break what the phone shows beside the name, so one name could pass for
 * another where the user decides. Nor characters that take no space and show nothing (INVISIBLE).
 */
export const NOT_SHOWABLE = /[\p{Cc}\p{Cs}\p{Zl}\p{Zp}\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/u;

/**
 * Characters that show nothing: zero-width space, word joiner and invisible operators, the byte
 * order mark, soft hyphen, combining grapheme joiner, the Mongolian vowel separator, deprecated
 * format controls, interlinear annotation marks, the Hangul fillers and the Braille blank (letters
 * and a symbol that render as blank space), musical format marks and tag characters. A name made of
 * them names nothing; inside a name they make it differ from one it looks exactly like.
 */
export const INVISIBLE = /[\u00AD\u034F\u115F\u1160\u17B4\u17B5\u180E\u200B\u2060-\u2064\u206A-\u206F\u2800\u3164\uFEFF\uFFA0\uFFF9-\uFFFB\u{1D173}-\u{1D17A}\u{E0000}-\u{E007F}]/gu;

/** A zero-width joiner or non-joiner at either end of the name or next to a blank joins nothing. */
const STRAY_JOINER = /(?:^|[\s\u200C\u200D])[\u200C\u200D]|[\u200C\u200D](?:$|\s)/u;

/** Something one can see: a letter (not a blank filler), a digit, a symbol or a punctuation mark. */
const VISIBLE = /[\p{L}\p{N}\p{S}\p{P}]/u;

export const NOT_SHOWABLE_MESSAGE = 'must not contain control characters, line or paragraph separators, bidi marks or overrides, invisible characters, or lone surrogates';

/** Why `s` cannot be shown as a name, or null when it can (the pure check every name schema uses). */
export function unshowable(s: string): string | null {
  if (NOT_SHOWABLE.test(s)) return NOT_SHOWABLE_MESSAGE;
  if (new RegExp(INVISIBLE.source, 'u').test(s) || STRAY_JOINER.test(s)) return NOT_SHOWABLE_MESSAGE;
  if (!VISIBLE.test(s)) return 'must contain a letter, digit, symbol or punctuation mark';
  return null;
}

/** A configured display name: 1 to `max` characters, something visible, none of NOT_SHOWABLE or INVISIBLE, no blank at either end. */
export function shownName(max: number) {
  return z.string().min(1).max(max)
    .superRefine((s, ctx) => {
      const why = unshowable(s);
      if (why !== null) ctx.addIssue({ code: 'custom', message: why });
    })
    .refine((s) => s.trim() === s && s.trim().length > 0, 'must not start or end with a blank');
}
