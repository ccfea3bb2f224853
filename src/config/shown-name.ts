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
 * Characters that show nothing: format characters (\p{Cf}: zero-width space, word joiner, soft
 * hyphen, tag characters, format controls of any script) and Unicode's default-ignorable code points
 * (variation selectors, Hangul fillers, the combining grapheme joiner), and the symbols that render as
 * blank space (the Braille blank, the null notehead). A name made of them names nothing; inside a
 * name they make it differ from one it looks exactly like. Global: for `replace` (payload.ts).
 */
export const INVISIBLE = /[\p{Cf}\p{Default_Ignorable_Code_Point}\u2800\u{1D159}]/gu;

/**
 * The invisible characters a name may need: a zero-width joiner or non-joiner between two
 * characters it joins (emoji sequences, Persian, Indic scripts), and an emoji presentation selector
 * (U+FE0E, U+FE0F) right after a pictograph.
 */
function joinsSomething(s: string, i: number, c: string): boolean {
  const earlier = Array.from(s.slice(0, i));
  const after = Array.from(s.slice(i + c.length))[0] ?? '';
  if (c === '\uFE0E' || c === '\uFE0F') return /\p{Extended_Pictographic}/u.test(earlier.at(-1) ?? '');
  // A joiner after a presentation selector joins the pictograph before it (🏳️‍🌈).
  const before = earlier.at(-1) === '\uFE0F' ? earlier.at(-2) ?? '' : earlier.at(-1) ?? '';
  if (!JOINERS.has(c)) return false;
  const seen = (x: string) => x !== '' && !/\s/u.test(x) && !new RegExp(INVISIBLE.source, 'u').test(x);
  return seen(before) && (seen(after) || (c === '\u200D' && /\p{Extended_Pictographic}/u.test(after)));
}
const JOINERS = new Set(['\u200C', '\u200D']);

/** The invisible characters kept in text shown to the user (they join or style what is there, and change no name). */
export const KEPT_IN_TEXT = new Set(['\u200C', '\u200D', '\uFE0E', '\uFE0F']);

/** Something one can see: a letter, a digit, a symbol or a punctuation mark (not one of INVISIBLE). */
const VISIBLE = /[\p{L}\p{N}\p{S}\p{P}]/u;

export const NOT_SHOWABLE_MESSAGE = 'must not contain control characters, line or paragraph separators, bidi marks or overrides, invisible characters, or lone surrogates';

/** Why `s` cannot be shown as a name, or null when it can (the pure check every name schema uses). */
export function unshowable(s: string): string | null {
  if (NOT_SHOWABLE.test(s)) return NOT_SHOWABLE_MESSAGE;
  const invisible = new RegExp(INVISIBLE.source, 'gu');
  for (let m = invisible.exec(s); m; m = invisible.exec(s)) {
    if (!joinsSomething(s, m.index, m[0])) return NOT_SHOWABLE_MESSAGE;
  }
  if (!VISIBLE.test(s.replace(invisible, ''))) return 'must contain a letter, digit, symbol or punctuation mark';
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
