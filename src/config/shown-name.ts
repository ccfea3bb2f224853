import { z } from 'zod';

/**
 * What must not be in a name the IdP shows a user (an app, a SAML service provider, a gateway, a
 * RADIUS client, a device): control characters, lone surrogates, line or paragraph separators, bidi
 * embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) and bidi marks (U+200E, U+200F,
 * U+061C). They reorder or break what the phone shows beside the name, so one name could pass for
 * another where the user decides. Nor unassigned code points, noncharacters or private-use ones (a
 * phone may draw anything there: Apple's logo at U+F8FF), nor characters that take no space and show
 * nothing (INVISIBLE).
 */
export const NOT_SHOWABLE = /[\p{Cc}\p{Cs}\p{Cn}\p{Co}\p{Zl}\p{Zp}\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/u;

/**
 * Characters that show nothing: format characters (\p{Cf}: zero-width space, word joiner, soft
 * hyphen, tag characters, format controls of any script) and Unicode's default-ignorable code points
 * (variation selectors, Hangul fillers, the combining grapheme joiner), and the symbols that render as
 * blank space (the Braille blank, the null notehead). A name made of them names nothing; inside a
 * name they make it differ from one it looks exactly like. Global: for `replace` (payload.ts).
 */
export const INVISIBLE = /[\p{Cf}\p{Default_Ignorable_Code_Point}\u2800\u{1D159}]/gu;

/** Scripts whose letters a zero-width joiner or non-joiner shapes (Arabic and its kin, the Indic scripts). */
const JOINING_SCRIPT = /[\p{Script=Arabic}\p{Script=Syriac}\p{Script=Nko}\p{Script=Mongolian}\p{Script=Devanagari}\p{Script=Bengali}\p{Script=Gurmukhi}\p{Script=Gujarati}\p{Script=Oriya}\p{Script=Tamil}\p{Script=Telugu}\p{Script=Kannada}\p{Script=Malayalam}\p{Script=Sinhala}\p{Script=Myanmar}\p{Script=Khmer}\p{Script=Tibetan}]/u;
const PICTOGRAPH = /\p{Extended_Pictographic}/u;
/** An emoji skin-tone modifier (U+1F3FB-U+1F3FF): part of the pictograph before it. */
const MODIFIER = /[\u{1F3FB}-\u{1F3FF}]/u;
const TAG = /[\u{E0020}-\u{E007F}]/u;

/**
 * The invisible characters a name may need, where they do their work: a zero-width joiner between
 * two pictographs (👩‍💻, 🏳️‍🌈) or, with a non-joiner, between two letters of a script they shape
 * (Persian, Hindi); an emoji presentation selector after a pictograph or in a keycap (1️⃣); tag
 * characters in a subdivision flag (🏴 + tags + cancel tag). Anywhere else they only make a name
 * differ from one it looks exactly like (red-team: "Pay\u200Dpal").
 */
function joinsSomething(chars: readonly string[], i: number): boolean {
  const c = chars[i]!;
  const prev = (k: number) => {
    let j = i - 1;
    while (j >= 0 && (chars[j] === '\uFE0F' || MODIFIER.test(chars[j]!)) && k-- > 0) j--;
    return chars[j] ?? '';
  };
  const before = chars[i - 1] ?? '';
  const after = chars[i + 1] ?? '';
  if (c === '\uFE0E' || c === '\uFE0F') return PICTOGRAPH.test(before) || (/^[0-9#*]$/.test(before) && after === '\u20E3');
  if (TAG.test(c)) {
    let j = i;
    while (j > 0 && TAG.test(chars[j - 1]!)) j--;
    let k = i;
    while (k < chars.length - 1 && TAG.test(chars[k + 1]!)) k++;
    return chars[j - 1] === '\u{1F3F4}' && chars[k] === '\u{E007F}' && k > j;
  }
  if (c === '\u200D' && PICTOGRAPH.test(prev(2)) && PICTOGRAPH.test(after)) return true;
  if (c === '\u200C' || c === '\u200D') return JOINING_SCRIPT.test(before) && JOINING_SCRIPT.test(after);
  return false;
}

/** The invisible characters kept in text shown to the user (they join or style what is there, and change no name). */
export const KEPT_IN_TEXT = new Set(['\u200C', '\u200D', '\uFE0E', '\uFE0F']);

/** Something one can see: a letter, a digit, a symbol or a punctuation mark (not one of INVISIBLE). */
const VISIBLE = /[\p{L}\p{N}\p{S}\p{P}]/u;

export const NOT_SHOWABLE_MESSAGE = 'must not contain control characters, line or paragraph separators, bidi marks or overrides, invisible characters, unassigned or private-use characters, or lone surrogates';

/** Why `s` cannot be shown as a name, or null when it can (the pure check every name schema uses). */
export function unshowable(s: string): string | null {
  if (NOT_SHOWABLE.test(s)) return NOT_SHOWABLE_MESSAGE;
  const chars = Array.from(s);
  const invisible = new RegExp(INVISIBLE.source, 'u');
  for (let i = 0; i < chars.length; i++) {
    if (invisible.test(chars[i]!) && !joinsSomething(chars, i)) return NOT_SHOWABLE_MESSAGE;
  }
  // A pile of combining marks makes one character too big to show, and the name with it (red-team).
  if (/\p{M}{5}/u.test(s)) return 'must not stack more than 4 combining marks on one character';
  if (!VISIBLE.test(s.replace(new RegExp(INVISIBLE.source, 'gu'), ''))) return 'must contain a letter, digit, symbol or punctuation mark';
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
