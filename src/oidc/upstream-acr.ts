/**
 * The acr and amr an MFA-only answer can honour (docs/entra.md, "What Entra asks for"). Pure.
 *
 * Every second factor here (a push approval, a typed passcode) is something the user has: Entra's
 * method kind "possession", RFC 8176 `otp`. Entra asks for an essential `acr` among values such as
 * `possessionorinherence`, `knowledgeorpossession`, `knowledge`, `inherence`; exactly one of those
 * it asked for goes back, and only one that names possession is true.
 */
export const ENTRA_ACRS = [
  'possessionorinherence', 'knowledgeorpossession', 'knowledgeorinherence', 'knowledgeorpossessionorinherence',
  'knowledge', 'possession', 'inherence',
] as const;

export const UPSTREAM_AMR = 'otp';

export type AcrChoice = { ok: true; acr: string | undefined } | { ok: false; reason: 'acr' | 'amr' | 'claims' };

interface ClaimRequest { essential?: unknown; value?: unknown; values?: unknown }

function asked(req: ClaimRequest | undefined): string[] {
  if (!req || typeof req !== 'object') return [];
  const out: string[] = [];
  if (typeof req.value === 'string') out.push(req.value);
  if (Array.isArray(req.values)) out.push(...req.values.filter((v): v is string => typeof v === 'string'));
  return out;
}

/**
 * Which acr to answer with, from the request's `claims` (id_token.acr, id_token.amr) and
 * `acr_values`: the first one asked for that names possession or is this app's own MFA acr.
 * Nothing asked: undefined (the app's policy decides). Asked, but none honourable: refused, as is
 * an essential amr request without `otp`.
 */
export function chooseUpstreamAcr(claimsParam: unknown, acrValues: unknown, ownMfaAcr: string): AcrChoice {
  let claims: { id_token?: { acr?: ClaimRequest; amr?: ClaimRequest; sub?: ClaimRequest } } = {};
  if (typeof claimsParam === 'string' && claimsParam) {
    try {
      claims = JSON.parse(claimsParam) as typeof claims;
    } catch {
      return { ok: false, reason: 'claims' };
    }
    if (typeof claims !== 'object' || claims === null) return { ok: false, reason: 'claims' };
  }
  // A `sub` asked for by a value that is not text names no one: refused before any push rather
  // than after the user's second factor, at the resume (red-team, broker round).
  const subReq = claims.id_token?.sub;
  if (subReq && typeof subReq === 'object' && subReq.value != null && typeof subReq.value !== 'string') return { ok: false, reason: 'claims' };
  const amrAsked = asked(claims.id_token?.amr);
  if (amrAsked.length > 0 && !amrAsked.includes(UPSTREAM_AMR)) return { ok: false, reason: 'amr' };
  const honourable = (v: string) => v === ownMfaAcr || ((ENTRA_ACRS as readonly string[]).includes(v) && v.includes('possession'));
  // An essential acr is met from its own values or the sign-in is refused (OIDC Core 5.5.1.1);
  // acr_values, voluntary, only choose among what nothing essential decides (red-team: an essential
  // `knowledge` beside acr_values=possession was answered `possession`).
  // Essential as oidc-provider and essentialAcrUnmet (session-policy.ts) read it: a truthy
  // `essential` (red-team: `"essential": 1` or `"true"` for `knowledge` beside acr_values=possession
  // was answered `possession`), met only by an acr that is its `value` and among its `values`; one
  // whose value is not text can never be met, so it is refused before any push.
  const acrReq = claims.id_token?.acr;
  if (acrReq && typeof acrReq === 'object' && acrReq.essential) {
    // A `values` that is not a list names no acr, so nothing meets it (as essentialAcrUnmet reads it).
    if (acrReq.values != null && !Array.isArray(acrReq.values)) return { ok: false, reason: 'acr' };
    if (acrReq.value || Array.isArray(acrReq.values)) {
      const meets = (v: string) => (!acrReq.value || acrReq.value === v) && (!Array.isArray(acrReq.values) || acrReq.values.includes(v));
      const acr = asked(acrReq).find((v) => honourable(v) && meets(v));
      return acr ? { ok: true, acr } : { ok: false, reason: 'acr' };
    }
  }
  const acrAsked = [...asked(claims.id_token?.acr), ...(typeof acrValues === 'string' ? acrValues.split(' ').filter(Boolean) : [])];
  if (acrAsked.length === 0) return { ok: true, acr: undefined };
  const acr = acrAsked.find(honourable);
  return acr ? { ok: true, acr } : { ok: false, reason: 'acr' };
}
