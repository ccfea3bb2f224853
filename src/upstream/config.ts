import { z } from 'zod';

/**
 * The `upstream` member of a client file (src/config/clients.ts): the client takes its first factor
 * from a trusted upstream assertion, an `id_token_hint` (docs/entra.md, "MFA-only mode").
 *
 * - profile `entra`: Microsoft Entra ID External MFA (docs/entra.md). `iss` must be
 *   {authority}/{tenant}/v2.0 with the tenant (the one signed in to) one of `tenants`; the authority is
 *   the `cloud`'s (ENTRA_CLOUDS: the global one by default, US Government, China).
 * - profile `generic`: a broker (Keycloak, Okta, ...) whose `iss` is the one configured `issuer`.
 */
export interface UpstreamTrust {
  profile: 'entra' | 'generic';
  /** generic: the exact `iss`. entra: unused (the tenant template). */
  issuer: string | null;
  /** entra: the cloud's sign-in authority (`iss` is `{authority}/{tenant}/v2.0`); generic: null. */
  authority: string | null;
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

/** Microsoft's clouds and their sign-in authorities (each has its own tenants, issuers and keys). */
export const ENTRA_CLOUDS = {
  global: 'https://login.microsoftonline.com',
  usgov: 'https://login.microsoftonline.us',
  china: 'https://login.partner.microsoftonline.cn',
} as const;
export type EntraCloud = keyof typeof ENTRA_CLOUDS;
/** Where a cloud publishes the keys its tenants sign with. */
export const entraKeysUri = (cloud: EntraCloud): string => `${ENTRA_CLOUDS[cloud]}/common/discovery/v2.0/keys`;
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
  cloud: z.enum(['global', 'usgov', 'china']).optional(),
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
    if (v.issuer) ctx.addIssue({ code: 'custom', path: ['issuer'], message: 'not used by the entra profile (the issuer is the cloud\'s authority/{tenant}/v2.0)' });
    // Entra's email claim is not verified and users or guests can set it (the "nOAuth" class):
    // it cannot name an account here. Link by tid + oid, or by the UPN the tenant controls.
    if (v.link_claim === 'email') ctx.addIssue({ code: 'custom', path: ['link_claim'], message: 'email cannot link Entra users (Entra does not verify it); use preferred_username or upn, or link with `federation link`' });
  } else {
    if (v.cloud) ctx.addIssue({ code: 'custom', path: ['cloud'], message: 'only for the entra profile' });
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
    authority: entra ? ENTRA_CLOUDS[file.cloud ?? 'global'] : null,
    jwksUri: file.jwks_file ? null : file.jwks_uri ?? entraKeysUri(file.cloud ?? 'global'),
    jwksFile: file.jwks_file ?? null,
    tenants: file.tenants ?? [],
    maxAgeSeconds: file.max_age_seconds,
    // Entra signs its hints with RS256 (docs/entra.md).
    algorithms: file.algorithms ?? (entra ? ['RS256'] : ['RS256', 'PS256', 'ES256']),
    linkClaim: file.link_claim ?? null,
  };
}
