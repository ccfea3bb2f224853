/**
 * What a user may type into a NAS's one password field (docs/radius.md, "What users type").
 * Pure.
 *
 * - `password`            push (nothing appended)
 * - `password,`           push (an empty passcode, as the reference product's agents do it)
 * - `password,x`          push (any one character)
 * - `password,123456`     the 6- or 8-digit passcode is checked at once
 *
 * The split is at the LAST comma, and only when what follows it is empty, one character, or 6 or
 * 8 digits; otherwise the whole text is the password. A password that itself ends like that (for
 * example "pa,s") is typed with a comma after it ("pa,s," sends a push).
 */
export interface PasswordAndPasscode {
  password: string;
  /** '' means push; otherwise 6 or 8 digits. */
  passcode: string;
}

export function splitPasscode(typed: string): PasswordAndPasscode {
  const comma = typed.lastIndexOf(',');
  if (comma < 0) return { password: typed, passcode: '' };
  const tail = typed.slice(comma + 1);
  if ([...tail].length <= 1) return { password: typed.slice(0, comma), passcode: '' };
  if (/^(\d{6}|\d{8})$/.test(tail)) return { password: typed.slice(0, comma), passcode: tail };
  return { password: typed, passcode: '' };
}
