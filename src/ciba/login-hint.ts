import type { AccountStore } from '../accounts/store.js';

/** RFC 5321 4.5.3.1.3: no address is longer; usernames are shorter still (accounts/store.ts). */
const MAX_HINT = 254;

/**
 * OpenID CIBA 7.1 login_hint: a username or an e-mail address. Returns the account id, or null for
 * anything that names no single account, an address that is one account's username and another's
 * e-mail included (the door answers unknown_user_id, the same for every reason). Disabled accounts
 * are found here and refused by the account check that follows.
 */
export async function accountForLoginHint(accounts: Pick<AccountStore, 'findByUsername' | 'findByEmail'>, hint: unknown): Promise<string | null> {
  if (typeof hint !== 'string' || hint.length === 0 || hint.length > MAX_HINT || /[\p{Cc}\p{Cs}]/u.test(hint)) return null;
  const hinted = hint.trim();
  if (!hinted) return null;
  const byName = await accounts.findByUsername(hinted);
  if (!hinted.includes('@')) return byName?.id ?? null;
  // Something like an address may be one account's username and another's e-mail: then it names
  // no single account (red-team: an account named after another's address got that user's CIBA
  // push, and the app tokens for the wrong person).
  const byEmail = await accounts.findByEmail(hinted);
  if (byName && byEmail && byName.id !== byEmail.id) return null;
  return (byName ?? byEmail)?.id ?? null;
}
