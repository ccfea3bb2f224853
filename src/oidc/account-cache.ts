import type { Account } from '../accounts/store.js';

/**
 * What oidc-provider's findAccount reads, kept per process for a few seconds: every token request
 * and every resume looks the account up (a disabled account must stop refreshing), and a disable
 * takes effect everywhere within `ttlMs`. The sign-in that has just read the account (the waiting
 * page's finish reads it with the approving device, signin/wait.ts) hands it over with `remember`,
 * so the resume right after it does not read it again.
 */
export interface AccountCache {
  find(id: string): Promise<Account | null>;
  /** An account read just now by someone else (same freshness as a find). */
  remember(account: Account): void;
}

/** At most this many accounts; past it the cache starts afresh (the simplest bound). */
const MAX_ENTRIES = 10_000;

export function createAccountCache(findById: (id: string) => Promise<Account | null>, ttlMs = 5000, clock: () => number = Date.now): AccountCache {
  const entries = new Map<string, { at: number; account: Account | null }>();
  const put = (id: string, account: Account | null, at: number) => {
    if (entries.size >= MAX_ENTRIES) entries.clear();
    entries.set(id, { at, account });
  };
  return {
    async find(id) {
      const now = clock();
      const hit = entries.get(id);
      if (hit && now - hit.at < ttlMs) return hit.account;
      const account = await findById(id);
      put(id, account, now);
      return account;
    },
    remember(account) {
      put(account.id, account, clock());
    },
  };
}
