/*
 * OpenID CIBA 7.1 binding_message: "a human-readable identifier or message intended to be displayed
 * on both the consumption device and the authentication device", which "SHOULD be relatively short
 * and use a limited set of plain text characters". The asking app chooses it, so the phone must not
 * become a billboard: a short line of letters, digits, single spaces and a little punctuation; no
 * control, bidi or look-alike characters, nothing that reads as markup.
 */

export const BINDING_MESSAGE_MAX = 32;

const ALLOWED = /^[A-Za-z0-9](?:[A-Za-z0-9\-._+/!?#:,]| (?=[^ ]))*$/;

export type BindingMessageCheck = { ok: true; value: string | null } | { ok: false; description: string };

/** Pure: whether a request's binding_message may be shown on the phone (absent is fine). */
export function checkBindingMessage(value: unknown): BindingMessageCheck {
  if (value === undefined || value === null) return { ok: true, value: null };
  if (typeof value !== 'string' || value.length === 0) return { ok: false, description: 'binding_message must be a non-empty string' };
  if (value.length > BINDING_MESSAGE_MAX) return { ok: false, description: `binding_message must be at most ${BINDING_MESSAGE_MAX} characters` };
  if (!ALLOWED.test(value)) {
    return { ok: false, description: 'binding_message may hold only letters A-Z, digits, single spaces and - . _ + / ! ? # : , and must start with a letter or digit' };
  }
  return { ok: true, value };
}
