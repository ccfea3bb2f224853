import type { ServiceProvider } from './sp-config.js';

/**
 * An AuthnRequest's RequestedAuthnContext (SAML core 3.3.2.2.1), decided (pure): may a sign-in
 * with the password alone answer it, and may one with the second factor. Classes are ranked:
 * unspecified 0, a password 1, more than one factor 2 (the classes we do not know are left out; a
 * request naming only such classes cannot be met). Comparison "exact" takes the ranks named,
 * "minimum" those at or above the lowest, "better" above it, "maximum" at or below the highest. A
 * second factor stands wherever the password alone would. The answer says MFA when the sign-in did
 * the second factor and the comparison takes an MFA class; where it takes none (an `exact` or
 * `maximum` password class) it says the password class: true (the password was proved) and what
 * the comparison allows, where the MFA class would break its MUST. Neither: NoAuthnContext, at
 * once; only MFA: the sign-in must do the second factor.
 */
export type Comparison = 'exact' | 'minimum' | 'maximum' | 'better';
export interface RequestedAuthnContext { classes: string[]; comparison: Comparison }
export interface AllowedOutcomes {
  password: boolean;
  mfa: boolean;
  /** Under "exact": the class of each rank the request named, which the answer then names (SAML core 3.3.2.2.1). */
  named?: { password?: string; mfa?: string };
  /** No MFA class may answer (an `exact` or `maximum` password class): an MFA sign-in answers the password class. */
  capped?: true;
}

export const UNSPECIFIED_CLASS = 'urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified';
const PASSWORD_CLASSES = ['urn:oasis:names:tc:SAML:2.0:ac:classes:Password', 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport'];
const MFA_CLASSES = ['https://refeds.org/profile/mfa', 'http://schemas.microsoft.com/claims/multipleauthn'];

function rankOf(sp: Pick<ServiceProvider, 'authnContext'>, cls: string): 0 | 1 | 2 | null {
  if (cls === UNSPECIFIED_CLASS) return 0;
  if (cls === sp.authnContext.mfa || MFA_CLASSES.includes(cls)) return 2;
  if (cls === sp.authnContext.password || PASSWORD_CLASSES.includes(cls)) return 1;
  return null;
}

export function allowedOutcomes(sp: Pick<ServiceProvider, 'authnContext'>, req: RequestedAuthnContext | null): AllowedOutcomes {
  if (!req || req.classes.length === 0) return { password: true, mfa: true };
  const known = req.classes.map((c) => rankOf(sp, c)).filter((r): r is 0 | 1 | 2 => r !== null);
  if (known.length === 0) return { password: false, mfa: false };
  const lowest = Math.min(...known);
  const highest = Math.max(...known);
  const ok = (rank: 1 | 2): boolean => {
    switch (req.comparison) {
      case 'exact': return known.includes(0) || known.includes(rank);
      case 'minimum': return rank >= lowest;
      case 'better': return rank > lowest;
      case 'maximum': return rank <= highest;
    }
  };
  const outcomes: AllowedOutcomes = { password: ok(1), mfa: ok(1) || ok(2), ...(ok(1) && !ok(2) ? { capped: true as const } : {}) };
  if (req.comparison !== 'exact') return outcomes;
  // "exact": the answer names a class the request named, where one of the sign-in's rank was named
  // (red-team: an exact "Password" was answered "PasswordProtectedTransport", an exact REFEDS MFA
  // with the SP's own MFA class).
  // Where the sign-in's own rank was not named but `unspecified` was, the answer is `unspecified`
  // (red-team: an exact "unspecified", or "Password" and "unspecified" after a push, was answered
  // with the SP's MFA class, which the request never named).
  const unspecified = known.includes(0) ? UNSPECIFIED_CLASS : undefined;
  const ofRank = (rank: 1 | 2) => req.classes.find((c) => rankOf(sp, c) === rank) ?? unspecified;
  const password = ofRank(1);
  const mfa = ofRank(2);
  return password || mfa ? { ...outcomes, named: { ...(password ? { password } : {}), ...(mfa ? { mfa } : {}) } } : outcomes;
}

/** The class an answer carries (MFA only when the sign-in did the second factor), or null: the request cannot take it. */
export function answeredClass(sp: Pick<ServiceProvider, 'authnContext'>, amr: readonly string[], allowed: AllowedOutcomes): string | null {
  if (amr.includes('mfa') && allowed.mfa && !allowed.capped) return allowed.named?.mfa ?? sp.authnContext.mfa;
  return allowed.password ? allowed.named?.password ?? sp.authnContext.password : null;
}
