import { SAML_CLIENT_PREFIX } from '../apps/registry.js';
import type { ClientRegistration } from '../config/clients.js';
import type { ServiceProvider } from './sp-config.js';
import { defaultAcs } from './messages.js';

/**
 * Each SAML SP signs its users in through an OIDC client of its own, with the SP's name and
 * login policy (as /account does with its built-in client, src/selfservice/routes.ts): the
 * interaction pages, session policy, throttles and push then run unchanged for SAML.
 */
export function samlInternalClient(issuer: string, sp: ServiceProvider): ClientRegistration {
  return {
    file: sp.file,
    metadata: {
      client_id: `${SAML_CLIENT_PREFIX}${sp.id}`, client_name: sp.name, token_endpoint_auth_method: 'none',
      redirect_uris: [`${issuer}/saml/sp/${sp.id}/callback`], grant_types: ['authorization_code'], response_types: ['code'],
      // "Back to <SP>" on an error page goes to the SP's site, the origin of its ACS (review: it went to the IdP's own root).
      client_uri: `${new URL(defaultAcs(sp)).origin}/`,
    },
    login: sp.policy,
  };
}
