/** How the sign-in's user was first established: a local password, a trusted upstream assertion, or
 * only named by an authenticated relying app (an OpenID CIBA login_hint or id_token_hint: no proof). */
export type FirstFactorMethod = 'pwd' | 'upstream' | 'hint';

/**
 * RFC 8176 methods for what really happened: the first factor, then the second. A typed TOTP is
 * `otp`; a push approval carries a fresh TOTP and a device-key signature, so `otp` and `swk`.
 * Two factors make `mfa`. A CIBA request only names the user ('hint'): the phone's answer is then
 * the only proof, the same `otp`/`swk` as the browser's push, and it is `mfa` only where the phone
 * also verified its user (`user`, WebAuthn), never for a bare approval.
 */
export function amrFor(first: FirstFactorMethod, second: readonly string[]): string[] {
  const methods = [...(first === 'pwd' ? ['pwd'] : []), ...second];
  const unique = [...new Set(methods)];
  const multiple = first === 'hint' ? second.includes('user') : second.length > 0;
  return multiple ? [...unique, 'mfa'] : unique;
}

/**
 * The acr of a sign-in proven by the phone alone (a CIBA approval without user verification): one
 * possession factor, neither the app's "mfa" nor its "password" level.
 */
export const PHONE_ONLY_ACR = 'urn:pushotp:acr:phone';
