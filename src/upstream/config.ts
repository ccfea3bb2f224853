import { z } from 'zod';

/**
 * The `upstream` member of a client file (src/config/clients.ts): the client takes its first factor
 * from a trusted upstream assertion, an `id_token_hint` (docs/entra.md, "MFA-only mode").
 *
 * - profile `entra`: Microsoft Entra ID External MFA (docs/entra.md). `iss` must be
 *   https://login.microsoftonline.com/{tid}/v2.0 with the token's own `tid`, and `tid` one of `tenants`.
 * - profile `generic`: a broker (Keycloak, Okta, ...) whose `iss` is the one configured `issuer`.
 */
export interface UpstreamTrust {
  profile: 'entra' | 'generic';
  /** generic: the exact `iss`. entra: unused (the tenant template). */
  issuer: string | null;
  /** Where the issuer's public keys are (exactly one of jwksUri / jwksFile). */
  jwksUri: string | null;
  jwksFile: string | null;
  /** entra: the tenant ids (GUIDs, lower case) allowed. */
  tenants: string[];
  /** A hint older than this (by its `iat`) is refused; a used hint is remembered this long. */
  maxAgeSeconds: number;
  algorithms: string[];
  /** Auto-link: a claim of the hint that names the account's username (null: links made by the admin only). */
  linkClaim: string | null;
}

export const ENTRA_KEYS_URI = 'https://login.microsoftonline.com/common/discovery/v2.0/keys';
export const ENTRA_AUTHORITY = 'https://login.microsoftonline.com';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);
/** Keys come over https; plain http only from this machine (a test stand-in). */
const keysUrl = z.string().refine((v) => {
  let u: URL | null = null;
  try { u = new URL(v); } catch { return false; }
  return Boolean(u && (u.protocol === 'https:' || (u.protocol === 'http:' && LOOPBACK.has(u.hostname))));
}, 'must be an https URL (http only on a loopback address)');

export const upstreamSchema = z.strictObject({
  profile: z.enum(['entra', 'generic']),
  issuer: z.string().url().optional(),
  jwks_uri: keysUrl.optional(),
  jwks_file: z.string().min(1).optional(),
  tenants: z.array(z.string().transform((t) => t.toLowerCase()).pipe(z.string().regex(GUID, 'must be a tenant id (a GUID)'))).optional(),
  max_age_seconds: z.number().int().min(30).max(3600).default(300),
  algorithms: z.array(z.enum(['RS256', 'PS256', 'ES256'])).min(1).optional(),
  link_claim: z.enum(['preferred_username', 'email', 'upn']).optional(),
}).superRefine((v, ctx) => {
  if (v.jwks_uri && v.jwks_file) ctx.addIssue({ code: 'custom', path: ['jwks_file'], message: 'give jwks_uri or jwks_file, not both' });
  if (v.profile === 'entra') {
    if (!v.tenants?.length) ctx.addIssue({ code: 'custom', path: ['tenants'], message: 'the entra profile needs the allowed tenant ids' });
    if (v.issuer) ctx.addIssue({ code: 'custom', path: ['issuer'], message: 'not used by the entra profile (the issuer is https://login.microsoftonline.com/{tid}/v2.0)' });
  } else {
    if (!v.issuer) ctx.addIssue({ code: 'custom', path: ['issuer'], message: 'required: the upstream issuer (its iss claim)' });
    if (!v.jwks_uri && !v.jwks_file) ctx.addIssue({ code: 'custom', path: ['jwks_uri'], message: 'required: where the upstream issuer\'s keys are (or jwks_file)' });
  }
});

export type UpstreamFile = z.infer<typeof upstreamSchema>;

export function upstreamTrust(file: UpstreamFile): UpstreamTrust {
  const entra = file.profile === 'entra';
  return {
    profile: file.profile,
    issuer: file.issuer ?? null,
    jwksUri: file.jwks_file ? null : file.jwks_uri ?? ENTRA_KEYS_URI,
    jwksFile: file.jwks_file ?? null,
    tenants: file.tenants ?? [],
    maxAgeSeconds: file.max_age_seconds,
    // Entra signs its hints with RS256 (docs/entra.md).
    algorithms: file.algorithms ?? (entra ? ['RS256'] : ['RS256', 'PS256', 'ES256']),
    linkClaim: file.link_claim ?? null,
  };
}
