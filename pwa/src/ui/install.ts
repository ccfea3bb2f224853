import { button, h } from './dom.js';
import { t } from './lang.js';

/**
 * Offering installation before enrolling. Chromium browsers fire `beforeinstallprompt`: the app
 * keeps it and shows an "Install the app" button. iOS has no such event, and Safari and the app
 * added to the Home Screen keep separate storage, so an account added in Safari is not in the
 * installed app: there the app says to add it to the Home Screen first and enroll from there.
 */

interface InstallPromptEvent extends Event {
  prompt(): Promise<void>;
  userChoice: Promise<{ outcome: 'accepted' | 'dismissed' }>;
}

let deferred: InstallPromptEvent | null = null;
const listeners = new Set<() => void>();

window.addEventListener('beforeinstallprompt', (event) => {
  event.preventDefault();
  deferred = event as InstallPromptEvent;
  for (const l of listeners) l();
});
window.addEventListener('appinstalled', () => {
  deferred = null;
  for (const l of listeners) l();
});

/** Running as the installed app (Home Screen / app window), not in a browser tab. */
export function isInstalled(): boolean {
  return matchMedia('(display-mode: standalone)').matches || (navigator as { standalone?: boolean }).standalone === true;
}

export function isIos(ua = navigator.userAgent): boolean {
  // iPadOS presents itself as a Mac with touch.
  return /iPhone|iPad|iPod/.test(ua) || (/Macintosh/.test(ua) && navigator.maxTouchPoints > 1);
}

/** The install offer for the enrollment page, updated when the browser makes one; empty when installed. */
export function installOffer(): HTMLElement {
  const box = h('div', { class: 'install', 'data-testid': 'install-offer' });
  const render = () => {
    box.replaceChildren();
    if (isInstalled()) return;
    if (isIos()) {
      box.append(h('p', { class: 'alert', 'data-testid': 'ios-home-screen' },
        t('install.ios')));
      return;
    }
    if (deferred) {
      const prompt = deferred;
      box.append(
        h('p', {}, t('install.offer')),
        button(t('install.button'), () => {
          void prompt.prompt().then(() => prompt.userChoice).then(() => { deferred = null; render(); });
        }, { 'data-testid': 'install-app' }),
      );
    }
  };
  listeners.add(render);
  render();
  return box;
}
