import type Provider from 'oidc-provider';
import type { AccountStore } from '../accounts/store.js';
import type { AuditLog } from '../audit/types.js';
import type { AppRegistry } from '../apps/registry.js';
import type { ClientRegistration } from '../config/clients.js';
import type { Csrf } from '../http/csrf.js';
import type { Views } from '../http/views.js';
import type { SignIn } from '../signin/index.js';

/**
 * What the OIDC interaction pages need: oidc-provider, the views, and the sign-in core, which
 * decides everything about the sign-in itself. The pages never reach storage or Redis.
 */
export interface InteractionDeps {
  provider: Provider;
  views: Views;
  csrf: Csrf;
  /** Every relying app with its login policy, whatever its protocol (a SAML SP under its internal client). */
  apps: AppRegistry;
  /** The OIDC client files, for what only they carry (an MFA-only client's upstream). */
  clients: Map<string, ClientRegistration>;
  signin: SignIn;
  /** For the consent page: the account's name, and the audit of what was granted. */
  accounts: AccountStore;
  audit: AuditLog;
  now: () => number;
}
