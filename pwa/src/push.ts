import { phoneLanguages, pickLanguage, translator, type Translate } from './i18n.js';
import { b64url, fromB64url } from './b64.js';
import { ApiError, putPushSubscription } from './api.js';
import { credentials, rememberRevocation } from './request.js';
import type { Material } from './secrets.js';
import { listAccounts, updateAccount } from './store.js';
import type { AccountRecord, PushSubscriptionJson } from './types.js';

/**
 * Web Push subscriptions. The account is enrolled first (push: null), then the app subscribes with
 * the IdP's VAPID key from the enroll response and PUTs the subscription (device-api.md section 5).
 * pushManager.subscribe() can hang forever where no push service is reachable: always raced.
 */

export const SUBSCRIBE_TIMEOUT_MS = 8_000;

export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function subscriptionJson(sub: PushSubscription): PushSubscriptionJson {
  const json = sub.toJSON();
  if (!json.endpoint || !json.keys?.p256dh || !json.keys.auth) throw new Error('the push subscription has no keys');
  return { endpoint: json.endpoint, expirationTime: json.expirationTime ?? null, keys: { p256dh: json.keys.p256dh, auth: json.keys.auth } };
}

export function sameKey(key: ArrayBuffer | null | undefined, vapidPublicKey: string): boolean {
  return !!key && b64url(key) === vapidPublicKey.replace(/=+$/, '');
}

/** Subscribes (or reuses a subscription made with the same key), within SUBSCRIBE_TIMEOUT_MS. */
export async function subscribe(reg: ServiceWorkerRegistration, vapidPublicKey: string): Promise<PushSubscription> {
  const work = (async () => {
    const existing = await reg.pushManager.getSubscription();
    if (existing && sameKey(existing.options.applicationServerKey, vapidPublicKey)) return existing;
    if (existing) await existing.unsubscribe();
    return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: fromB64url(vapidPublicKey) });
  })();
  return withTimeout(work, SUBSCRIBE_TIMEOUT_MS, 'Subscribing to push');
}

/** Records the subscription on the account (page or service worker). */
export async function recordPush(account: AccountRecord, push: { endpoint: string; scope: string } | null): Promise<AccountRecord | null> {
  return updateAccount(account.id, (a) => ({
    ...a,
    push: push ? { status: 'active', endpoint: push.endpoint, scope: push.scope } : { status: 'none', endpoint: null, scope: null },
  }));
}

/** Tells the IdP and records it; a revoked device is remembered. */
export async function sendSubscription(account: AccountRecord, material: Material, sub: PushSubscriptionJson | null, scope: string | null): Promise<AccountRecord | null> {
  try {
    await putPushSubscription(credentials(account, material), sub);
  } catch (err) {
    await rememberRevocation(account, err);
    throw err;
  }
  return recordPush(account, sub && scope ? { endpoint: sub.endpoint, scope } : null);
}

/** In the phone's language: the page and the service worker both say it. */
export function describePushFailure(err: unknown, t: Translate = translator(pickLanguage(phoneLanguages()))): string {
  if (err instanceof TimeoutError) return t('push.failure.timeout');
  if (err instanceof ApiError) return t('push.failure.refused', { code: err.code });
  if (err instanceof DOMException && err.name === 'NotAllowedError') return t('push.failure.blocked');
  return err instanceof Error ? err.message : String(err);
}

/** Accounts whose subscription lives in the registration with this scope. */
export async function accountsOnScope(scope: string): Promise<AccountRecord[]> {
  return (await listAccounts()).filter((a) => a.push.status === 'active' && a.push.scope === scope && !a.revoked);
}
