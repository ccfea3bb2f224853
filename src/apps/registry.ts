import { DEFAULT_POLICY, type ClientRegistration, type LoginPolicy } from '../config/clients.js';

/**
 * Every relying app, whatever its protocol (issue 11, item 6): an OIDC client and a SAML service
 * provider carry the same login policy, and the sign-in core sees either as a RelyingApp. A SAML
 * SP signs in through an internal OIDC client of its own (`saml.<id>`, src/saml/internal-client.ts),
 * so `clientId` is the OIDC client every sign-in for the app runs under.
 */
export interface RegisteredApp {
  protocol: 'oidc' | 'saml';
  /** The client_id (OIDC) or the SP's id, its file name (SAML). */
  id: string;
  /** Display name: shown on the phone and on the pages. */
  name: string;
  policy: LoginPolicy;
  /** The OIDC client the sign-in runs under. */
  clientId: string;
}

/** The relying app a sign-in is for, as the sign-in core sees it (src/signin/types.ts). */
export type RelyingApp = Pick<RegisteredApp, 'clientId' | 'name' | 'policy'>;

export interface AppRegistry {
  list(): readonly RegisteredApp[];
  get(protocol: RegisteredApp['protocol'], id: string): RegisteredApp | null;
  /** The app a sign-in under this OIDC client is for (DEFAULT_POLICY for one not registered). */
  byClientId(clientId: string): RegisteredApp | null;
}

/** A SAML SP as the registry lists it (src/saml/sp-config.ts ServiceProvider has these). */
export interface SamlAppEntry { id: string; name: string; policy: LoginPolicy }

export const SAML_CLIENT_PREFIX = 'saml.';

export function createAppRegistry(oidcClients: readonly ClientRegistration[], samlApps: readonly SamlAppEntry[]): AppRegistry {
  const apps: RegisteredApp[] = [
    ...oidcClients.filter((c) => !String(c.metadata.client_id).startsWith(SAML_CLIENT_PREFIX)).map((c): RegisteredApp => {
      const id = String(c.metadata.client_id);
      return { protocol: 'oidc', id, name: typeof c.metadata.client_name === 'string' ? c.metadata.client_name : id, policy: c.login ?? DEFAULT_POLICY, clientId: id };
    }),
    ...samlApps.map((sp): RegisteredApp => ({ protocol: 'saml', id: sp.id, name: sp.name, policy: sp.policy, clientId: `${SAML_CLIENT_PREFIX}${sp.id}` })),
  ];
  const byKey = new Map(apps.map((a) => [`${a.protocol}:${a.id}`, a]));
  const byClient = new Map(apps.map((a) => [a.clientId, a]));
  return {
    list: () => apps,
    get: (protocol, id) => byKey.get(`${protocol}:${id}`) ?? null,
    byClientId: (clientId) => byClient.get(clientId) ?? null,
  };
}
