/** How the sign-in's user was first established: a local password, a trusted upstream assertion, or
 * only named by an authenticated relying app (an OpenID CIBA login_hint or id_token_hint: no proof). */
export type FirstFactorMethod = 'pwd' | 'upstream' | 'hint';

/**
 * RFC 8176 methods for what really happened: the first factor, then the second. A typed TOTP is
 * `otp`; a push approval carries a fresh TOTP and a device-key signature, so `otp` and `swk`.
 * Two factors make `mfa`. A CIBA request only names the user ('hint'): the phone's answer is then
 * the only proof, the same `otp`/`swk` as the browser's push, and it is `mfa` only where the phone
 * also verified its user (`user`, WebAuthn), never for a bare approval.

 *
 * After a first factor from upstream (docs/entra.md) the answer names the one method done here, of
 * another kind than the upstream's: `otp` (both a push approval and a typed passcode carry a
 * TOTP). No `mfa`: this IdP did one factor, so such a session never satisfies another app here
 * (src/oidc/session-policy.ts wants `mfa`).
 */
export function amrFor(first: FirstFactorMethod, second: readonly string[]): string[] {
  if (first === 'upstream') return second.includes('otp') ? ['otp'] : second.slice(0, 1);
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
