import type Provider from 'oidc-provider';
import type { AccountStore } from '../accounts/store.js';
import type { AuditLog } from '../audit/types.js';
import type { ClientRegistration, LoginPolicy } from '../config/clients.js';
import type { Csrf } from '../http/csrf.js';
import type { Views } from '../http/views.js';
import type { SignInStateStore } from './state.js';

/** The default for apps not registered through config/ (none today, but never undefined). */
export const DEFAULT_POLICY: LoginPolicy = {
  form: 'two-step',
  numberMatching: true,
  noDevice: 'password-only',
  consent: 'explicit',
  acr: { mfa: 'urn:pushotp:acr:mfa', password: 'urn:pushotp:acr:pwd' },
};

/** What the second factor offers the login interaction; the push step provides it. */
export interface SecondFactorHooks {
  countActiveDevices(accountId: string): Promise<number>;
}

export interface InteractionDeps {
  provider: Provider;
  accounts: AccountStore;
  views: Views;
  csrf: Csrf;
  signins: SignInStateStore;
  clients: Map<string, ClientRegistration>;
  audit: AuditLog;
  secondFactor: SecondFactorHooks;
}
