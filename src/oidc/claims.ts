import type { Account } from '../accounts/store.js';

/** The claims an account offers; oidc-provider filters them by scope and claims request. */
export function accountClaims(account: Account): Record<string, unknown> & { sub: string } {
  return {
    sub: account.id,
    name: account.displayName,
    preferred_username: account.username,
    ...(account.email ? { email: account.email, email_verified: false } : {}),
  };
}
