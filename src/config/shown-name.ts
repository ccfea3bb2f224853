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
const ARABIC_TYPE = /[\p{Script=Arabic}\p{Script=Syriac}\p{Script=Nko}\p{Script=Adlam}\p{Script=Hanifi_Rohingya}\p{Script=Mandaic}\p{Script=Manichaean}\p{Script=Psalter_Pahlavi}\p{Script=Mongolian}\p{Script=Phags_Pa}]/u;
/** Arabic letters that join only to the right: a non-joiner after one changes nothing on screen. */
const RIGHT_JOINING = /[\u0622-\u0625\u0627\u0629\u062F-\u0632\u0648\u0671-\u0673\u0675-\u0677\u0688-\u0699\u06C0\u06C3-\u06CB\u06CD\u06CF\u06D2\u06D3\u06D5\u06EE\u06EF]/u;
/** The viramas of the Indic scripts (and Myanmar's, Khmer's, Tibetan's): a joiner or non-joiner after one picks the conjunct's form. */
const VIRAMA = /[\u094D\u09CD\u0A4D\u0ACD\u0B4D\u0BCD\u0C4D\u0CCD\u0D4D\u0DCA\u1039\u103A\u17D2\u0F84]/u;
const PICTOGRAPH = /\p{Extended_Pictographic}/u;
/** An emoji skin-tone modifier (U+1F3FB-U+1F3FF): part of the pictograph before it. */
const MODIFIER = /[\u{1F3FB}-\u{1F3FF}]/u;
const TAG = /[\u{E0020}-\u{E007F}]/u;

/**
 * The invisible characters a name may need, where they do their work: a zero-width joiner between
 * two pictographs (👩‍💻, 🏳️‍🌈); a joiner or non-joiner after an Indic virama (क्‍ष), a non-joiner
 * after an Arabic-type letter that would join (Persian می‌خواهم, a haraka between them allowed); an
 * emoji presentation selector after a pictograph or in a keycap (1️⃣); an ideographic variation
 * selector after an ideograph (辻󠄀), a Mongolian one after a Mongolian letter; tag characters in a
 * subdivision flag (🏴 + tags + cancel tag). Anywhere else they only make a name differ from one it
 * looks exactly like (red-team: "Pay\u200Dpal", "مح\u200Dمد").
 */
function joinsSomething(chars: readonly string[], i: number): boolean {
  const c = chars[i]!;
  const cp = c.codePointAt(0)!;
  const before = chars[i - 1] ?? '';
  const after = chars[i + 1] ?? '';
  if (c === '\uFE0E' || c === '\uFE0F') return PICTOGRAPH.test(before) || (/^[0-9#*]$/.test(before) && after === '\u20E3');
  if (cp >= 0xE0100 && cp <= 0xE01EF) return /\p{Ideographic}/u.test(before);
  if (cp >= 0x180B && cp <= 0x180F && cp !== 0x180E) return /\p{Script=Mongolian}/u.test(before) && /\p{L}/u.test(before);
  if (TAG.test(c)) {
    let j = i;
    while (j > 0 && TAG.test(chars[j - 1]!)) j--;
    let k = i;
    while (k < chars.length - 1 && TAG.test(chars[k + 1]!)) k++;
    return chars[j - 1] === '\u{1F3F4}' && chars[k] === '\u{E007F}' && k > j;
  }
  if (c !== '\u200C' && c !== '\u200D') return false;
  if (VIRAMA.test(before) && /\p{L}/u.test(after)) return true;
  // The letter before, past its marks (a haraka), and the letter after.
  let j = i - 1;
  while (j >= 0 && /\p{M}/u.test(chars[j]!)) j--;
  const base = chars[j] ?? '';
  if (c === '\u200C') return ARABIC_TYPE.test(base) && /\p{L}/u.test(base) && !RIGHT_JOINING.test(base) && ARABIC_TYPE.test(after) && /\p{L}/u.test(after);
  // A zero-width joiner between pictographs: past the presentation selector and skin tone before it.
  let p = i - 1;
  while (p >= 0 && (chars[p] === '\uFE0F' || MODIFIER.test(chars[p]!))) p--;
  return PICTOGRAPH.test(chars[p] ?? '') && PICTOGRAPH.test(after);
}

/** The invisible characters kept in text shown to the user (they join or style what is there, and change no name). */
export const KEPT_IN_TEXT = new Set(['\u200C', '\u200D', '\uFE0E', '\uFE0F']);

/** Something one can see: a letter, a digit, a symbol or a punctuation mark (not one of INVISIBLE). */
const VISIBLE = /[\p{L}\p{N}\p{S}\p{P}]/u;
const ONE_INVISIBLE = new RegExp(INVISIBLE.source, 'u');

/** Whether text (cleaned of INVISIBLE) shows something one can see. */
export const showsSomething = (text: string): boolean => VISIBLE.test(text);

export const NOT_SHOWABLE_MESSAGE = 'must not contain control characters, line or paragraph separators, bidi marks or overrides, invisible characters, unassigned or private-use characters, or lone surrogates';

/** Why `s` cannot be shown as a name, or null when it can (the pure check every name schema uses). */
export function unshowable(s: string): string | null {
  if (NOT_SHOWABLE.test(s)) return NOT_SHOWABLE_MESSAGE;
  const chars = Array.from(s);
  for (let i = 0; i < chars.length; i++) {
    if (ONE_INVISIBLE.test(chars[i]!) && !joinsSomething(chars, i)) return NOT_SHOWABLE_MESSAGE;
  }
  // A pile of combining marks makes one character too big to show, and the name with it (red-team),
  // counted as written out (NFD: a precomposed letter's own marks count) and across joiners.
  if (/\p{M}(?:[\u200C\u200D]?\p{M}){4}/u.test(s.normalize('NFD'))) return 'must not stack more than 4 combining marks on one character';
  // A space that is not one (an em space, a no-break space) makes "Bob Smith" another name.
  if (/[^\P{Zs} \u3000]/u.test(s)) return 'must use the plain space between words';
  if (!showsSomething(s.replace(INVISIBLE, ''))) return 'must contain a letter, digit, symbol or punctuation mark';
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
