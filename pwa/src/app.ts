import { lock } from './secrets.js';
import type { AppContext, View } from './ui/context.js';
import { enrollView } from './ui/enroll-view.js';
import { homeView } from './ui/home.js';
import { requestView } from './ui/request-view.js';
import { pageLanguage, t } from './ui/lang.js';

/**
 * The app shell: registers the service worker, routes on the query string (?enroll=…, ?add=1,
 * ?request=…), and passes the worker's messages to the views.
 */

const main = document.getElementById('main') as HTMLElement;
const workerListeners = new Set<(message: { type: string; cid?: string }) => void>();
let unmount: (() => void) | null = null;

/** PIN accounts lock again after the app has been in the background this long. */
const RELOCK_AFTER_MS = 60_000;
let hiddenAt = 0;

function pick(params: URLSearchParams): View {
  if (params.has('enroll') || params.has('add')) return enrollView;
  if (params.has('request')) return requestView;
  return homeView;
}

function route(): void {
  unmount?.();
  const params = new URLSearchParams(location.search);
  const view = pick(params);
  document.title = t(view === homeView ? 'app.title.home' : view === enrollView ? 'app.title.enroll' : 'app.title.request');
  unmount = view(main, ctx, params);
  main.querySelector<HTMLElement>('h1')?.focus({ preventScroll: true });
}

const ctx: AppContext = {
  navigate(path, replace = false) {
    const url = new URL(path, location.href);
    if (url.origin !== location.origin) return;
    if (replace) history.replaceState(null, '', url);
    else history.pushState(null, '', url);
    route();
  },
  onWorkerMessage(listener) {
    workerListeners.add(listener);
    return () => workerListeners.delete(listener);
  },
};

// The pages speak the phone's language when the app has it (ui/lang.ts); <html lang> says which.
document.documentElement.lang = pageLanguage;

window.addEventListener('popstate', route);

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden') hiddenAt = Date.now();
  else if (hiddenAt && Date.now() - hiddenAt > RELOCK_AFTER_MS) {
    lock();
    route();
  }
});

if ('serviceWorker' in navigator) {
  navigator.serviceWorker.addEventListener('message', (event: MessageEvent) => {
    const data = event.data as { type?: unknown; url?: unknown; cid?: unknown } | null;
    if (!data || typeof data.type !== 'string') return;
    if (data.type === 'navigate' && typeof data.url === 'string') {
      ctx.navigate(data.url);
      return;
    }
    for (const listener of workerListeners) listener({ type: data.type, ...(typeof data.cid === 'string' ? { cid: data.cid } : {}) });
  });
  navigator.serviceWorker.register(new URL('sw.js', document.baseURI), { scope: './' }).catch((err: unknown) => {
    console.warn('service worker registration failed:', err);
  });
}

route();
