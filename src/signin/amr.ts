/**
 * RFC 8176 methods for what really happened: the first factor, then the second. A typed TOTP is
 * `otp`; a push approval carries a fresh TOTP and a device-key signature, so `otp` and `swk`.
 * Two factors make `mfa`.
 */
export function amrFor(first: 'pwd' | 'upstream', second: readonly string[]): string[] {
  const methods = [...(first === 'pwd' ? ['pwd'] : []), ...second];
  const unique = [...new Set(methods)];
  return second.length > 0 ? [...unique, 'mfa'] : unique;
}
