import { compactVerify, decodeProtectedHeader, importJWK, type JWK } from 'jose';
import type { UpstreamTrust } from './config.js';
import { KeysUnavailable, type JwksSource } from './jwks-cache.js';

/** A hint that passed every check: who the upstream says signed in. */
export interface VerifiedHint {
  /** The issuer as the token named it (Entra: the tenant's own issuer). */
  issuer: string;
  /** The stable identity within that issuer: Entra's `oid` (with the tenant in `issuer`), else `sub`. */
  subject: string;
  /** The hint's `sub`, which the answer must carry back (Entra: pairwise per app). */
  sub: string;
  tenant: string | null;
  iat: number;
  claims: Record<string, unknown>;
}

export type HintRefusal =
  | 'malformed' | 'algorithm' | 'unknown_key' | 'signature' | 'issuer' | 'tenant' | 'audience' | 'stale' | 'future' | 'subject' | 'not_id_token';

export type HintVerdict =
  | { ok: true; hint: VerifiedHint }
  | { ok: false; reason: HintRefusal }
  /** The issuer's keys could not be fetched: try again later. */
  | { ok: false; reason: 'keys_unavailable' };

/** No control characters, no lone surrogates: text that can be stored and shown as it is. */
function printable(v: string): boolean {
  return !/[\p{Cc}\p{Cs}]/u.test(v);
}

/** Clock difference tolerated between the upstream and us when a hint says it was issued "in the future". */
const SKEW_SECONDS = 60;
const MAX_HINT_LENGTH = 16 * 1024;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * A key the upstream published for signing with this algorithm (RFC 7517 4.2-4.4): one marked for
 * encryption (`use: "enc"`, `key_ops` without `verify`) or for another `alg` verifies no hint
 * (red-team: an encryption key verified one, and the header's `alg` replaced the key's own).
 */
function signsWith(jwk: JWK, alg: string): boolean {
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) return false;
  return jwk.alg === undefined || jwk.alg === alg;
}

/**
 * An ID token, not another token of the same issuer for the same audience (RFC 8725 3.11; red-team:
 * an access token with our client id in `aud`, as Keycloak's audience mapper makes them, or a
 * logout token, started a sign-in): a `typ` header, if any, says JWT; no logout `events`; Keycloak's
 * own `typ` claim, if any, says ID; an `azp`, if any, is our client id (OIDC Core 3.1.3.7).
 */
function looksLikeIdToken(headerTyp: unknown, payload: Record<string, unknown>, clientId: string): boolean {
  if (headerTyp !== undefined && (typeof headerTyp !== 'string' || !/^(?:application\/)?jwt$/i.test(headerTyp))) return false;
  if (payload.events !== undefined) return false;
  if (payload.typ !== undefined && (typeof payload.typ !== 'string' || payload.typ.toLowerCase() !== 'id')) return false;
  return payload.azp === undefined || payload.azp === clientId;
}

/**
 * Checks an upstream `id_token_hint` (docs/entra.md, "What the IdP checks"). Entra issues its hints
 * already expired (`exp` before `iat`), so a JWT library's claim checks would always refuse them:
 * the signature is verified alone, by `kid`, and then each claim by hand: `aud` = our client id,
 * `iss` (Entra: {the cloud's authority}/{tenant}/v2.0 with a tenant on the allow-list, the tenant
 * the user signed in to, and the key's own `issuer` template, where Entra's key set gives one, naming
 * that issuer; `tid`, the user's home tenant, a tenant id), freshness by `iat` within the configured maximum age, `nbf` (when given) not ahead of
 * now. `exp` is not read. It must be an ID token (looksLikeIdToken) signed by a signing key. The
 * identity (`sub`, `oid`) and the claim that may link an account must be printable text: no control
 * characters or lone surrogates (PostgreSQL cannot store a NUL). Replay is the caller's (replay.ts).
 */
export async function verifyHint(token: string, input: { trust: UpstreamTrust; keys: JwksSource; clientId: string; nowSeconds: number }): Promise<HintVerdict> {
  const { trust, keys, clientId, nowSeconds } = input;
  if (typeof token !== 'string' || token.length > MAX_HINT_LENGTH || token.split('.').length !== 3) return { ok: false, reason: 'malformed' };
  let header;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (typeof header.alg !== 'string' || !trust.algorithms.includes(header.alg)) return { ok: false, reason: 'algorithm' };
  if (typeof header.kid !== 'string' || header.kid.length > 256) return { ok: false, reason: 'unknown_key' };

  let jwk: JWK | null;
  try {
    jwk = await keys.key(header.kid);
  } catch (err) {
    if (err instanceof KeysUnavailable) return { ok: false, reason: 'keys_unavailable' };
    throw err;
  }
  if (!jwk) return { ok: false, reason: 'unknown_key' };
  if (!signsWith(jwk, header.alg)) return { ok: false, reason: 'algorithm' };

  let payload: Record<string, unknown>;
  try {
    const key = await importJWK(jwk, header.alg);
    const { payload: bytes } = await compactVerify(token, key, { algorithms: [header.alg] });
    payload = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return { ok: false, reason: 'malformed' };
  } catch {
    return { ok: false, reason: 'signature' };
  }

  if (!looksLikeIdToken(header.typ, payload, clientId)) return { ok: false, reason: 'not_id_token' };
  const aud = payload.aud;
  const audOk = aud === clientId || (Array.isArray(aud) && aud.length === 1 && aud[0] === clientId);
  if (!audOk) return { ok: false, reason: 'audience' };

  const iss = payload.iss;
  if (typeof iss !== 'string') return { ok: false, reason: 'issuer' };
  let tenant: string | null = null;
  if (trust.profile === 'entra') {
    // The tenant the user signed in to is the issuer's (Microsoft's reference: `iss` names "the
    // Microsoft Entra ID tenant in which the user authenticated", `tid` "the tenant that the user is
    // from"; a guest's differ, and so do both of the reference's example hints). The allow-list is
    // the issuer's tenant: only that tenant's Entra issues for it; `tid` must be a tenant id.
    const tid = payload.tid;
    if (typeof tid !== 'string' || !GUID.test(tid)) return { ok: false, reason: 'tenant' };
    const authority = `${trust.authority ?? ''}/`;
    const issuerTenant = trust.authority && iss.startsWith(authority) && iss.endsWith('/v2.0') ? iss.slice(authority.length, -'/v2.0'.length) : '';
    if (!GUID.test(issuerTenant) || iss !== `${trust.authority}/${issuerTenant}/v2.0`) return { ok: false, reason: 'issuer' };
    if (!trust.tenants.includes(issuerTenant)) return { ok: false, reason: 'tenant' };
    // Microsoft's key sets name, per key, the issuer template it signs for (Storm-0558: a key must
    // not sign for an issuer it was not published for).
    const keyIssuer = (jwk as { issuer?: unknown }).issuer;
    if (keyIssuer !== undefined && (typeof keyIssuer !== 'string' || keyIssuer.replace('{tenantid}', issuerTenant) !== iss)) return { ok: false, reason: 'issuer' };
    tenant = issuerTenant;
  } else if (iss !== trust.issuer) {
    return { ok: false, reason: 'issuer' };
  }

  const iat = payload.iat;
  if (typeof iat !== 'number' || !Number.isFinite(iat)) return { ok: false, reason: 'stale' };
  if (iat > nowSeconds + SKEW_SECONDS) return { ok: false, reason: 'future' };
  if (nowSeconds - iat > trust.maxAgeSeconds) return { ok: false, reason: 'stale' };
  // RFC 7519 4.1.5 (red-team: an hour ahead was taken). Entra's nbf is its iat.
  const nbf = payload.nbf;
  if (nbf !== undefined && (typeof nbf !== 'number' || !Number.isFinite(nbf))) return { ok: false, reason: 'malformed' };
  if (typeof nbf === 'number' && nbf > nowSeconds + SKEW_SECONDS) return { ok: false, reason: 'future' };

  const sub = payload.sub;
  const subject = trust.profile === 'entra' ? payload.oid : sub;
  const fine = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 255 && printable(v);
  if (!fine(sub) || !fine(subject)) return { ok: false, reason: 'subject' };
  const linkValue = trust.linkClaim === null ? undefined : payload[trust.linkClaim];
  if (typeof linkValue === 'string' && !printable(linkValue)) return { ok: false, reason: 'subject' };
  return { ok: true, hint: { issuer: iss, subject, sub, tenant, iat, claims: payload } };
}
