/**
 * RFC 8176 methods for what really happened: the first factor, then the second. A typed TOTP is
 * `otp`; a push approval carries a fresh TOTP and a device-key signature, so `otp` and `swk`.
 * Two factors make `mfa`.
 *
 * After a first factor from upstream (docs/entra.md) the answer names the one method done here, of
 * another kind than the upstream's: `otp` (both a push approval and a typed passcode carry a
 * TOTP). No `mfa`: this IdP did one factor, so such a session never satisfies another app here
 * (src/oidc/session-policy.ts wants `mfa`).
 */
export function amrFor(first: 'pwd' | 'upstream', second: readonly string[]): string[] {
  if (first === 'upstream') return second.includes('otp') ? ['otp'] : second.slice(0, 1);
  const methods = [...(first === 'pwd' ? ['pwd'] : []), ...second];
  const unique = [...new Set(methods)];
  return second.length > 0 ? [...unique, 'mfa'] : unique;
}
