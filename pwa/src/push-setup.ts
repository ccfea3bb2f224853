import { sha256 } from './keys.js';
import { b64url, utf8 } from './b64.js';
import { describePushFailure, recordPush, sameKey, sendSubscription, subscribe, subscriptionJson, withTimeout } from './push.js';
import type { Material } from './secrets.js';
import { listAccounts } from './store.js';
import type { AccountRecord } from './types.js';
import { t } from './ui/lang.js';

/**
 * Push set-up from the page. One service-worker registration holds one subscription, bound to
 * one VAPID key; accounts of a second IdP (another key) get their own registration of the same
 * worker under /pwa/k/<key hash>/, which only receives pushes.
 */

export function pushSupported(): boolean {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

export function isIos(): boolean {
  return /iPhone|iPad|iPod/.test(navigator.userAgent) || (navigator.platform === 'MacIntel' && navigator.maxTouchPoints > 1);
}

export function isStandalone(): boolean {
  return matchMedia('(display-mode: standalone)').matches || (navigator as Navigator & { standalone?: boolean }).standalone === true;
}

/** Why push cannot work here at all, or null. */
export function pushUnavailableReason(): string | null {
  if (isIos() && !isStandalone()) return t('push.unavailable.ios');
  if (!pushSupported()) return t('push.unavailable.unsupported');
  if (Notification.permission === 'denied') return t('push.unavailable.blocked');
  return null;
}

/**
 * Asks for notification permission. Call it synchronously from a tap handler: iOS and Chrome grant
 * the prompt only to a user gesture.
 */
export function askPermission(): Promise<NotificationPermission> {
  if (!('Notification' in window)) return Promise.resolve('denied');
  if (Notification.permission !== 'default') return Promise.resolve(Notification.permission);
  return Notification.requestPermission();
}

export async function mainRegistration(): Promise<ServiceWorkerRegistration> {
  return withTimeout(navigator.serviceWorker.ready, 10_000, 'Starting the service worker');
}

async function activated(reg: ServiceWorkerRegistration): Promise<ServiceWorkerRegistration> {
  if (reg.active) return reg;
  const worker = reg.installing ?? reg.waiting;
  if (!worker) throw new Error('the service worker did not install');
  await withTimeout(
    new Promise<void>((resolve) => {
      worker.addEventListener('statechange', () => worker.state === 'activated' && resolve());
    }),
    10_000,
    'Activating the service worker',
  );
  return reg;
}

/** The registration for this VAPID key: the main one unless another key already holds it. */
export async function registrationFor(vapidPublicKey: string, exceptAccountId?: string): Promise<ServiceWorkerRegistration> {
  const main = await mainRegistration();
  const others = (await listAccounts()).filter((a) => a.id !== exceptAccountId && a.push.status === 'active' && a.push.scope);
  const sharing = others.find((a) => a.vapidPublicKey === vapidPublicKey);
  if (sharing?.push.scope) {
    const reg = await navigator.serviceWorker.getRegistration(sharing.push.scope);
    if (reg && reg.scope === sharing.push.scope) return reg;
  }
  const mainSub = await main.pushManager.getSubscription();
  const mainTaken =
    (mainSub !== null && !sameKey(mainSub.options.applicationServerKey, vapidPublicKey)) ||
    others.some((a) => a.push.scope === main.scope && a.vapidPublicKey !== vapidPublicKey);
  if (!mainTaken) return main;
  const hash = b64url(await sha256(utf8(vapidPublicKey))).slice(0, 16);
  const scope = new URL(`k/${hash}/`, main.scope).href;
  return activated(await navigator.serviceWorker.register(new URL('sw.js', main.scope).href, { scope }));
}

export type PushOutcome = { ok: true } | { ok: false; reason: string };

/**
 * Subscribes and PUTs the subscription (the "enroll with push null, then subscribe"). On
 * any failure the account stays (or goes back) in poll mode and the reason is returned for the UI.
 */
export async function enablePush(account: AccountRecord, material: Material): Promise<PushOutcome> {
  const unavailable = pushUnavailableReason();
  if (unavailable) return { ok: false, reason: unavailable };
  if (!account.vapidPublicKey) return { ok: false, reason: t('push.noVapid') };
  if (Notification.permission !== 'granted') return { ok: false, reason: t('home.push.notAllowed') };
  try {
    const reg = await registrationFor(account.vapidPublicKey, account.id);
    const sub = subscriptionJson(await subscribe(reg, account.vapidPublicKey));
    await sendSubscription(account, material, sub, reg.scope);
    return { ok: true };
  } catch (err) {
    if (account.push.status === 'active') {
      await sendSubscription(account, material, null, null).catch(() => recordPush(account, null));
    }
    return { ok: false, reason: describePushFailure(err) };
  }
}

/**
 * Chrome never fires pushsubscriptionchange, and PIN accounts cannot answer it in the worker:
 * on start and after unlock, compare the stored endpoint with the registration's and fix it.
 */
export async function syncPush(account: AccountRecord, material: Material): Promise<void> {
  if (account.revoked || account.push.status !== 'active' || !account.push.scope || !pushSupported()) return;
  const reg = await navigator.serviceWorker.getRegistration(account.push.scope);
  const sub = reg ? await reg.pushManager.getSubscription() : null;
  if (sub && sub.endpoint === account.push.endpoint) return;
  if (sub && reg) await sendSubscription(account, material, subscriptionJson(sub), reg.scope);
  else await enablePush(account, material);
}

/** After an account is removed: drop its subscription when no other account shares it. */
export async function releasePush(account: AccountRecord): Promise<void> {
  if (!account.push.scope || !pushSupported()) return;
  const still = (await listAccounts()).some((a) => a.id !== account.id && a.push.scope === account.push.scope && a.push.status === 'active');
  if (still) return;
  const reg = await navigator.serviceWorker.getRegistration(account.push.scope);
  if (!reg || reg.scope !== account.push.scope) return;
  await (await reg.pushManager.getSubscription())?.unsubscribe();
  const main = await mainRegistration();
  if (reg.scope !== main.scope) await reg.unregister();
}
