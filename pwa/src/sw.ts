import { b64url } from './b64.js';
import { getChallenge } from './api.js';
import { accountsOnScope, describePushFailure, sendSubscription, subscribe, subscriptionJson } from './push.js';
import { answer, credentials, describeError, rememberRevocation } from './request.js';
import { getAccount, listAccounts } from './store.js';
import { accountKey, type AccountRecord, type PushPayload } from './types.js';
import { accountForPush, parseNoticePayload, parsePushPayload, requestPath } from './payload.js';
import { phoneLanguages, pickLanguage, translator } from './i18n.js';
import { requestNotification } from './notification-text.js';

/**
 * The service worker (scope /pwa/): keeps the app shell for offline passcodes, turns every push
 * into a visible notification, answers from the notification where the account allows it, and
 * renews the push subscription.
 */

declare const __PRECACHE__: string[];
declare const __BUILD_ID__: string;

const sw = self as unknown as ServiceWorkerGlobalScope;
/** The app's base URL (/pwa/): where sw.js lives, whatever scope this registration has. */
const BASE = new URL('./', sw.location.href);
const CACHE_PREFIX = 'pushotp-shell-';
const CACHE = `${CACHE_PREFIX}${__BUILD_ID__}`;
/** Extra registrations (one per further IdP VAPID key, see push-setup.ts) only receive pushes. */
const isMain = () => sw.registration.scope === BASE.href;

sw.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      if (isMain()) {
        const cache = await caches.open(CACHE);
        await cache.addAll(__PRECACHE__.map((path) => new Request(new URL(path, BASE), { cache: 'reload' })));
      }
      await sw.skipWaiting();
    })(),
  );
});

sw.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      if (isMain()) {
        for (const name of await caches.keys()) {
          if (name.startsWith(CACHE_PREFIX) && name !== CACHE) await caches.delete(name);
        }
        await sw.clients.claim();
      }
    })(),
  );
});

sw.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  // The device API and everything outside the app go straight to the network.
  if (url.origin !== BASE.origin || !url.pathname.startsWith(BASE.pathname)) return;
  const isShell = request.mode === 'navigate' && (url.pathname === BASE.pathname || url.pathname === `${BASE.pathname}index.html`);
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      const hit = await cache.match(isShell ? new URL('index.html', BASE).href : request, { ignoreSearch: isShell });
      return hit ?? fetch(request);
    })(),
  );
});

/** The phone's language, looked up per event (the user may change it while the worker lives). */
const t = () => translator(pickLanguage(phoneLanguages()));

function timeOf(epochMs: number): string {
  return new Intl.DateTimeFormat(phoneLanguages()[0], { hour: 'numeric', minute: '2-digit' }).format(epochMs);
}

/** How often the worker asks whether a shown request is still open, while it lives. */
const WATCH_EVERY_MS = 3000;

/**
 * Closes the notification of a request once it is no longer pending: answered on another device
 * or on the computer, withdrawn by a newer request, or expired. Best effort while the worker
 * lives (only accounts that sign without a PIN can ask); the app's own poll and the next push
 * close whatever this misses.
 */
async function watchRequest(payload: PushPayload, account: AccountRecord | null): Promise<void> {
  const close = async () => {
    for (const n of await sw.registration.getNotifications({ tag: payload.cid })) n.close();
  };
  for (;;) {
    const left = payload.expiresAt - Date.now();
    if (left <= 0) return close();
    await new Promise((resolve) => setTimeout(resolve, Math.min(WATCH_EVERY_MS, left)));
    if ((await sw.registration.getNotifications({ tag: payload.cid })).length === 0) return;
    if (!account || account.revoked || account.secrets.kind !== 'plain' || Date.now() >= payload.expiresAt) continue;
    try {
      const challenge = await getChallenge(credentials(account, account.secrets), payload.cid);
      if (challenge.status !== 'pending') {
        await close();
        await tellClients({ type: 'resolved', cid: payload.cid, status: challenge.status });
        return;
      }
    } catch {
      // Unreachable or refused: the expiry still closes it.
    }
  }
}

/** Closes notifications of requests whose time is up (data.expiresAt in the past). */
async function closeExpired(): Promise<void> {
  for (const n of await sw.registration.getNotifications()) {
    const expiresAt = (n.data as { expiresAt?: unknown } | null)?.expiresAt;
    if (typeof expiresAt === 'number' && expiresAt <= Date.now()) n.close();
  }
}

async function tellClients(message: Record<string, unknown>): Promise<void> {
  for (const client of await sw.clients.matchAll({ type: 'window', includeUncontrolled: true })) client.postMessage(message);
}

// iOS withdraws the subscription of a web app that receives a push without showing a
// notification (the Push API's userVisibleOnly subscription, docs/architecture.md sign-in step 6): every push ends in showNotification, whatever it holds.
sw.addEventListener('push', (event) => {
  event.waitUntil(
    (async () => {
      let payload: PushPayload | null = null;
      let data: unknown = null;
      try {
        data = event.data?.json();
        payload = parsePushPayload(data);
      } catch {
        payload = null;
      }
      // A notice ("A new authenticator was added"): shown as it is, with no actions; a tap opens the app.
      const notice = payload ? null : parseNoticePayload(data);
      const accounts = payload || notice ? await listAccounts() : [];
      // Bound to the registration it came to: another IdP's key never speaks for this one's account.
      const named = payload ?? notice;
      const found = named ? accountForPush(accounts, named, sw.registration.scope) : null;
      if (found === 'elsewhere') {
        payload = null;
      } else if (notice) {
        const account = found;
        const whose = account && accounts.length > 1 ? `\n${account.account.displayName || account.account.username} (${new URL(account.issuer).host})` : '';
        await sw.registration.showNotification(notice.title, {
          body: `${notice.body}${whose}`,
          tag: `pushotp-notice-${notice.createdAt}`,
          data: notice,
          icon: new URL('icons/icon-192.png', BASE).href,
        });
        return;
      }
      if (!payload) {
        await sw.registration.showNotification(t()('notify.unreadable.title'), {
          body: t()('notify.unreadable.body'),
          tag: 'pushotp-unknown',
          icon: new URL('icons/icon-192.png', BASE).href,
        });
        return;
      }
      await closeExpired();
      const account = found === 'elsewhere' ? null : found;
      const text = requestNotification(
        payload,
        account ? { name: account.account.displayName || account.account.username, host: new URL(account.issuer).host } : null,
        { accountCount: accounts.length, canAnswer: !!account && !account.revoked, time: timeOf(payload.createdAt), t: t() },
      );
      const options: NotificationOptions & { actions?: { action: string; title: string }[]; timestamp?: number } = {
        body: text.body,
        tag: payload.cid,
        data: payload,
        requireInteraction: true,
        timestamp: payload.createdAt,
        icon: new URL('icons/icon-192.png', BASE).href,
        badge: new URL('icons/badge-96.png', BASE).href,
        actions: text.actions,
      };
      await sw.registration.showNotification(text.title, options);
      await tellClients({ type: 'push', cid: payload.cid, issuer: payload.issuer, deviceId: payload.deviceId });
      // Not part of the push event: the event ends once the notification is up.
      void watchRequest(payload, account);
    })(),
  );
});

/** Focuses an open app window and routes it to `path`, or opens a new one. */
async function openApp(path: string): Promise<void> {
  const url = new URL(path, BASE).href;
  const windows = await sw.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const app = windows.find((c) => new URL(c.url).pathname.startsWith(BASE.pathname));
  if (app) {
    app.postMessage({ type: 'navigate', url });
    await app.focus();
    return;
  }
  await sw.clients.openWindow(url);
}

/**
 * Approve or Deny straight from the notification: only for an account whose keys sign without a
 * PIN; Approve also needs no WebAuthn and no number matching. Otherwise the request page opens.
 */
async function answerFromNotification(action: 'approve' | 'deny', payload: PushPayload, account: AccountRecord): Promise<void> {
  const path = requestPath(payload.cid, payload.issuer, payload.deviceId);
  const secrets = account.secrets;
  // The page puts the focus on Deny when it was the button tapped.
  const page = action === 'deny' ? `${path}&decision=deny` : path;
  if (secrets.kind !== 'plain' || (action === 'approve' && (account.policy.unlock !== 'none' || payload.numberMatching))) {
    await openApp(page);
    return;
  }
  try {
    const challenge = await getChallenge(credentials(account, secrets), payload.cid);
    if (challenge.status !== 'pending' || (action === 'approve' && challenge.numberMatching)) {
      await openApp(page);
      return;
    }
    const result = await answer({ account, material: secrets, challenge, decision: action });
    await tellClients({ type: 'answered', cid: payload.cid, status: result.status });
  } catch (err) {
    await rememberRevocation(account, err);
    await sw.registration.showNotification(t()('notify.notSent.title'), {
      body: t()('notify.notSent.body', { reason: describeError(err) }),
      tag: payload.cid,
      data: payload,
      icon: new URL('icons/icon-192.png', BASE).href,
    });
  }
}

sw.addEventListener('notificationclick', (event) => {
  const { notification, action } = event;
  notification.close();
  event.waitUntil(
    (async () => {
      const payload = parsePushPayload(notification.data);
      if (!payload) return openApp('./');
      const stored = await getAccount(accountKey(payload.issuer, payload.deviceId));
      const account = stored && accountForPush([stored], payload, sw.registration.scope) === stored ? stored : null;
      // Review (number matching): the request page, with the numbers to choose from.
      if (action === 'review') return openApp(requestPath(payload.cid, payload.issuer, payload.deviceId));
      if (account && !account.revoked && (action === 'approve' || action === 'deny')) {
        return answerFromNotification(action, payload, account);
      }
      return openApp(requestPath(payload.cid, payload.issuer, payload.deviceId));
    })(),
  );
});

interface SubscriptionChangeEvent extends ExtendableEvent {
  readonly oldSubscription: PushSubscription | null;
  readonly newSubscription: PushSubscription | null;
}

/**
 * The push service replaced or dropped the subscription: subscribe again with the same VAPID key
 * and PUT it for each account on this registration (device-api.md section 5). PIN accounts cannot
 * sign here; the app sees their stored endpoint differ and sends it after the next unlock.
 */
sw.addEventListener('pushsubscriptionchange', (event) => {
  const change = event as SubscriptionChangeEvent;
  change.waitUntil(
    (async () => {
      const accounts = await accountsOnScope(sw.registration.scope);
      const oldKey = change.oldSubscription?.options.applicationServerKey;
      const vapid = oldKey ? b64url(oldKey) : accounts.find((a) => a.vapidPublicKey)?.vapidPublicKey;
      if (!vapid || accounts.length === 0) return;
      let json: ReturnType<typeof subscriptionJson> | null = null;
      try {
        json = subscriptionJson(change.newSubscription ?? (await subscribe(sw.registration, vapid)));
      } catch (err) {
        console.warn('push re-subscription failed:', describePushFailure(err));
      }
      for (const account of accounts) {
        if (account.secrets.kind !== 'plain') continue;
        try {
          await sendSubscription(account, account.secrets, json, json ? sw.registration.scope : null);
        } catch (err) {
          console.warn('could not send the new subscription:', describeError(err));
        }
      }
    })(),
  );
});
