import { listChallenges } from './api.js';
import { credentials, rememberRevocation } from './request.js';
import { materialFor } from './secrets.js';
import type { AccountRecord, DeviceChallenge } from './types.js';

/**
 * Fetching pending requests (docs/device-api.md section 3). Accounts in poll mode are asked every
 * policy.pollIntervalSeconds while the page is visible; every account is asked when the page
 * shows, regains focus or comes back online, and on refreshNow() (a push arrived), since delivery is never certain.
 */

export interface PollResult {
  accountId: string;
  challenges: DeviceChallenge[] | null;
  error: unknown;
  revoked: boolean;
}

export interface Poller {
  refreshNow(): void;
  stop(): void;
}

/**
 * Closes this account's notifications whose request is no longer pending (answered elsewhere,
 * withdrawn, expired): the list just fetched is the IdP's word on what is still open.
 */
async function closeResolvedNotifications(account: AccountRecord, pending: readonly DeviceChallenge[]): Promise<void> {
  if (!('serviceWorker' in navigator)) return;
  const open = new Set(pending.map((c) => c.id));
  for (const reg of await navigator.serviceWorker.getRegistrations()) {
    for (const n of await reg.getNotifications()) {
      const data = n.data as { cid?: unknown; issuer?: unknown; deviceId?: unknown } | null;
      if (data && data.issuer === account.issuer && data.deviceId === account.deviceId && typeof data.cid === 'string' && !open.has(data.cid)) n.close();
    }
  }
}

export function startPolling(getAccounts: () => AccountRecord[], onResult: (result: PollResult) => void): Poller {
  const timers = new Map<string, ReturnType<typeof setTimeout>>();
  const inFlight = new Set<string>();
  /** Accounts whose last answer listed a request: asked again on the poll interval even in push mode, so a card answered elsewhere goes. */
  const showing = new Set<string>();
  let stopped = false;

  async function poll(account: AccountRecord): Promise<void> {
    const material = materialFor(account);
    // Offline the passcodes still work; asking the IdP would only fail.
    if (!material || account.revoked || inFlight.has(account.id) || !navigator.onLine) return;
    inFlight.add(account.id);
    try {
      const now = Date.now();
      const all = await listChallenges(credentials(account, material));
      const challenges = all.filter((c) => c.status === 'pending' && c.expiresAt > now);
      if (challenges.length) showing.add(account.id);
      else showing.delete(account.id);
      void closeResolvedNotifications(account, challenges).catch(() => {});
      if (!stopped) onResult({ accountId: account.id, challenges, error: null, revoked: false });
      if (showing.has(account.id)) schedule(account);
    } catch (error) {
      const revoked = await rememberRevocation(account, error);
      if (!stopped) onResult({ accountId: account.id, challenges: null, error, revoked });
    } finally {
      inFlight.delete(account.id);
    }
  }

  function schedule(account: AccountRecord): void {
    clearTimeout(timers.get(account.id));
    if (stopped || (account.push.status === 'active' && !showing.has(account.id))) return;
    timers.set(
      account.id,
      setTimeout(async () => {
        if (document.visibilityState === 'visible') await poll(account);
        const fresh = getAccounts().find((a) => a.id === account.id);
        if (fresh) schedule(fresh);
      }, account.policy.pollIntervalSeconds * 1000),
    );
  }

  function refreshNow(): void {
    if (stopped || document.visibilityState !== 'visible') return;
    for (const account of getAccounts()) {
      void poll(account);
      schedule(account);
    }
  }

  const onVisible = () => document.visibilityState === 'visible' && refreshNow();
  document.addEventListener('visibilitychange', onVisible);
  window.addEventListener('focus', refreshNow);
  window.addEventListener('online', refreshNow);
  refreshNow();

  return {
    refreshNow,
    stop() {
      stopped = true;
      for (const t of timers.values()) clearTimeout(t);
      document.removeEventListener('visibilitychange', onVisible);
      window.removeEventListener('focus', refreshNow);
      window.removeEventListener('online', refreshNow);
    },
  };
}
