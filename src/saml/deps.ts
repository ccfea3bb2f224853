import type { AccountStore } from '../accounts/store.js';
import type { AuditLog } from '../audit/types.js';
import type { Views } from '../http/views.js';
import type { IdpSessions } from '../oidc/sessions.js';
import type { SamlSigningKey } from './keys.js';
import type { ServiceProvider } from './sp-config.js';
import type { SamlStore } from './store.js';

export interface SamlDeps {
  issuer: string;
  sps: readonly ServiceProvider[];
  /** The signing key, loaded (or made, at the first use) once. */
  key: () => Promise<SamlSigningKey>;
  store: SamlStore;
  accounts: AccountStore;
  audit: AuditLog;
  idpSessions: IdpSessions;
  views: Views;
  /** How long an SSO session lives at most: a SessionIndex is remembered that long. */
  sessionMaxAgeSeconds: number;
  now: () => number;
}

/** The IdP's SAML entity ID (its metadata URL). */
export const samlEntityId = (issuer: string): string => `${issuer}/saml/metadata`;
/** The Issuer this SP is sent: its own (Microsoft 365: the domain's IssuerUri) or our entity ID. */
export const issuerFor = (sp: ServiceProvider, issuer: string): string => sp.issuer ?? samlEntityId(issuer);
/** Where a SAML SP's sign-in goes through the IdP's own OIDC authorization (src/saml/internal-client.ts). */
export const spBasePath = (spId: string): string => `/saml/sp/${spId}`;
/** The signed cookie naming this browser's pending SAML sign-in for one SP (the request itself waits in Redis). */
export const PENDING_COOKIE = 'saml_pending';
export const pendingCookieOptions = (issuer: string, spId: string) =>
  ({ httpOnly: true, sameSite: 'lax' as const, signed: true, path: spBasePath(spId), secure: issuer.startsWith('https:'), overwrite: true });
