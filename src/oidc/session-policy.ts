import type { LoginPolicy } from '../config/clients.js';

/**
 * Pure decisions about an existing sign-in session: does it satisfy this relying app, and how long
 * may it still live. The IdP's SSO check (provider.ts) and the self-service page both ask them.
 */

export interface SessionLifetime {
  /** Seconds after the sign-in at which the session ends, however active (SESSION_MAX_AGE). */
  maxAgeSeconds: number;
  /** Seconds without use after which the session ends (SESSION_IDLE_TIMEOUT). */
  idleSeconds: number;
}

/**
 * Whether the factors a session holds are enough for this app now. A session with both factors
 * (amr "mfa", RFC 8176) is. A password-only one is only when the app lets the password alone
 * through, the account has never had an authenticator (README.md, Security: an account with any device row,
 * active or revoked, never falls back to the password alone) and the app did not ask for a
 * stronger acr (OIDC Core 3.1.2.1 acr_values, 5.5.1.1 the acr claim).
 */
export function sessionSatisfies(input: {
  amr: readonly string[] | undefined;
  policy: Pick<LoginPolicy, 'noDevice' | 'acr'>;
  accountHasDevices: boolean;
  requestedAcrs: readonly string[];
}): boolean {
  if (input.amr?.includes('mfa')) return true;
  if (input.policy.noDevice !== 'password-only' || input.accountHasDevices) return false;
  return input.requestedAcrs.length === 0 || input.requestedAcrs.includes(input.policy.acr.password);
}

/** NIST SP 800-63B 7.2 (AAL2): a session ends SESSION_MAX_AGE after its sign-in, however active. */
export function sessionTooOld(loginTs: number | undefined, nowSeconds: number, lifetime: SessionLifetime): boolean {
  return loginTs === undefined || nowSeconds - loginTs >= lifetime.maxAgeSeconds;
}

/**
 * Whether a session began before its account's sessions were ended (a new password, a disabled
 * account, a revoked device, a sign-out everywhere). Sign-in times are whole seconds: a session
 * from the very second of the end counts as ended (red-team: a sign-in finished just before a new
 * password, its session saved back just after the end's delete, lived on as "newer"). A sign-in
 * in the end's second itself is asked once more at the next authorization, a second later at most.
 */
export function sessionEndedSince(loginTs: number | undefined, endedAtMs: number | null): boolean {
  return endedAtMs !== null && (loginTs === undefined || loginTs <= Math.floor(endedAtMs / 1000));
}

/**
 * The same for a page a sign-in just opened through the login check above (/account, SAML's
 * finish): a session from the end's very second still counts there, or a sign-in made in that
 * second (its code checked to the millisecond at the exchange) could not open the page it asked
 * for. Every authorization it makes afterwards goes through sessionEndedSince.
 */
export function sessionEndedBeforeItsSecond(loginTs: number | undefined, endedAtMs: number | null): boolean {
  return endedAtMs !== null && (loginTs === undefined || loginTs < Math.floor(endedAtMs / 1000));
}

/**
 * How long to keep a session from now (it is saved again on each use, so the idle limit slides):
 * the idle limit, cut short by what remains of its absolute life; at least 1 s (oidc-provider
 * wants a positive TTL; a session past its age is asked to sign in again by the login check).
 */
export function sessionTtlSeconds(loginTs: number | undefined, nowSeconds: number, lifetime: SessionLifetime): number {
  const remaining = loginTs === undefined ? lifetime.idleSeconds : loginTs + lifetime.maxAgeSeconds - nowSeconds;
  return Math.max(1, Math.min(lifetime.idleSeconds, remaining));
}

/** The acr values an authorization request asks for: acr_values and the claims parameter's id_token.acr. */
export function requestedAcrs(acrValues: unknown, acrClaim: { value?: unknown; values?: unknown } | null | undefined): string[] {
  const out = typeof acrValues === 'string' ? acrValues.split(' ').filter(Boolean) : [];
  if (typeof acrClaim?.value === 'string') out.push(acrClaim.value);
  if (Array.isArray(acrClaim?.values)) out.push(...acrClaim.values.filter((v): v is string => typeof v === 'string'));
  return out;
}

/** An acr claim request (OIDC Core 5.5.1): `essential`, `value`, `values`, as the request gave them. */
export type AcrClaimRequest = { essential?: unknown; value?: unknown; values?: unknown } | null | undefined;

/**
 * Pure: whether an essential acr request is not met by `acr` (OIDC Core 5.5.1.1), read as
 * oidc-provider's own essential_acr and essential_acrs checks read it (a truthy `essential`, a
 * truthy `value` other than the acr, a `values` array without it): where those ask for a sign-in
 * again, a sign-in that has just finished answers the app unmet_authentication_requirements
 * instead (red-team: `{essential: "true"}`, `values: []`, `value: 5` looped on the login page).
 * Odder than oidc-provider reads: a `values` that is not a list is met by nothing.
 */
export function essentialAcrUnmet(request: AcrClaimRequest, acr: string | undefined): boolean {
  if (!request || typeof request !== 'object' || !request.essential) return false;
  if (request.value && request.value !== acr) return true;
  // A `values` that is not a list names no acr, so nothing meets it (red-team: an object shaped like
  // an array, `{"0": ..., "length": 1}`, was skipped by both readings and the request ran unchecked).
  if (request.values !== undefined && request.values !== null && !Array.isArray(request.values)) return true;
  return Array.isArray(request.values) && !request.values.includes(acr);
}

/**
 * Pure: the id_token.acr request of a raw `claims` parameter (its JSON text). oidc-provider puts
 * `acr_values` in place of it when both are sent, dropping `essential` (red-team: an essential mfa
 * acr sent with acr_values was met by a password sign-in): both are judged. Undefined for anything
 * unreadable (oidc-provider refuses that itself).
 */
export function acrClaimOfParam(claims: unknown): AcrClaimRequest {
  if (typeof claims !== 'string') return undefined;
  try {
    const acr = (JSON.parse(claims) as { id_token?: { acr?: unknown } } | null)?.id_token?.acr;
    return acr && typeof acr === 'object' ? (acr as AcrClaimRequest) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The acr an app is told for a session, in that app's own names (its login.acr): a session with both
 * factors is its `mfa` value, one with the password alone its `password` value, whichever app's
 * sign-in made the session (red-team: an app with its own acr names got the first app's value by
 * single sign-on, and its essential own value was never met). Any other session (an upstream
 * sign-in's chosen acr) keeps the acr it was given.
 */
export function acrForApp(acr: string | undefined, amr: readonly string[] | undefined, policy: Pick<LoginPolicy, 'acr'> | undefined): string | undefined {
  if (!policy || acr === undefined) return acr;
  if (amr?.includes('mfa')) return policy.acr.mfa;
  if (amr?.length === 1 && amr[0] === 'pwd') return policy.acr.password;
  return acr;
}

/** A second-factor sign-in counts as recent for this long when enrolling or revoking a device. */
export const RECENT_AUTH_SECONDS = 5 * 60;

/**
 * Whether a self-service session may enroll or revoke a device (NIST SP 800-63B 6.1.2.1: binding a
 * new authenticator needs authentication at the AAL in use). It needs a sign-in no older than
 * RECENT_AUTH_SECONDS, with the second factor, except for the account's very first device
 * (no device row at all), which a password sign-in may enroll.
 */
export function mayChangeDevices(input: { amr: readonly string[]; authTime: number; nowSeconds: number; accountHasDevices: boolean }): boolean {
  if (input.nowSeconds - input.authTime > RECENT_AUTH_SECONDS) return false;
  return input.amr.includes('mfa') || !input.accountHasDevices;
}
