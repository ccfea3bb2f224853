import type { Account } from '../accounts/store.js';
import type { AttributeSource, ServiceProvider } from './sp-config.js';

/**
 * The ImmutableID Microsoft 365 matches a federated user by (docs/saml.md, "ImmutableID"): the
 * account id (a UUID that never changes and is never reused) without its dashes, 32 hex
 * characters, well under Microsoft's 64. Set it as the user's OnPremisesImmutableId.
 */
export const immutableIdOf = (accountId: string): string => accountId.replace(/-/g, '');

/** A value of the account, or null when the account has none (an unset e-mail). */
export function valueOf(account: Pick<Account, 'id' | 'username' | 'email' | 'displayName'>, source: AttributeSource): string | null {
  switch (source) {
    case 'accountId': return account.id;
    case 'username': return account.username;
    case 'email': return account.email;
    case 'displayName': return account.displayName;
    case 'upn': return account.email ?? account.username;
    case 'immutableId': return immutableIdOf(account.id);
  }
}

/** NameID and attributes for one SP (pure); null NameID: the account lacks the value the SP needs. */
export function subjectFor(sp: ServiceProvider, account: Pick<Account, 'id' | 'username' | 'email' | 'displayName'>): { nameId: string | null; attributes: [string, string][] } {
  const attributes: [string, string][] = [];
  for (const [name, source] of Object.entries(sp.attributes)) {
    const v = valueOf(account, source);
    if (v !== null) attributes.push([name, v]);
  }
  return { nameId: valueOf(account, sp.nameIdSource), attributes };
}

