import { pagesDe, pagesEn } from './i18n-pages.js';

/**
 * The PWA's message catalogues: the notifications the service worker shows, and (i18n-pages.ts)
 * what its pages say. English is the reference; every other language must have every key
 * (test/pwa/pwa-i18n.test.ts fails otherwise). The language is the phone's (navigator.language),
 * falling back to English; the pages set <html lang> to it (ui/lang.ts). To add a language: copy `en`
 * here and `pagesEn` in i18n-pages.ts, translate both, add it to CATALOGUES.
 */

const en = {
  'notify.title': 'Are you signing in to {app}?',
  'notify.title.unknownApp': 'Are you signing in?',
  'notify.unreadable.title': 'Sign-in request',
  'notify.unreadable.body': 'Open the authenticator to see the request.',
  'notify.action.approve': 'Approve',
  'notify.action.review': 'Review',
  'notify.action.deny': 'Deny',
  'notify.notSent.title': 'Your answer was not sent',
  'notify.notSent.body': '{reason} Tap to open the request.',
  ...pagesEn,
} as const;

export type MessageKey = keyof typeof en;
export type Catalogue = Record<MessageKey, string>;

const de: Catalogue = {
  'notify.title': 'Melden Sie sich gerade bei {app} an?',
  'notify.title.unknownApp': 'Melden Sie sich gerade an?',
  'notify.unreadable.title': 'Anmeldeanfrage',
  'notify.unreadable.body': 'Öffnen Sie den Authenticator, um die Anfrage zu sehen.',
  'notify.action.approve': 'Bestätigen',
  'notify.action.review': 'Prüfen',
  'notify.action.deny': 'Ablehnen',
  'notify.notSent.title': 'Ihre Antwort wurde nicht gesendet',
  'notify.notSent.body': '{reason} Tippen Sie, um die Anfrage zu öffnen.',
  ...pagesDe,
};

export const CATALOGUES: Record<string, Catalogue> = { en, de };

/** The catalogue's language for a BCP 47 tag: "de-AT" → "de"; unknown → "en". */
export function pickLanguage(tags: readonly string[]): string {
  for (const tag of tags) {
    const base = tag.toLowerCase().split('-')[0] ?? '';
    if (base in CATALOGUES) return base;
  }
  return 'en';
}

export type Translate = (key: MessageKey, params?: Record<string, string>) => string;

/** A translator for the given language; `{name}` placeholders are filled from params. */
export function translator(lang: string): Translate {
  const catalogue = CATALOGUES[lang] ?? en;
  return (key, params = {}) => (catalogue[key] ?? en[key]).replace(/\{(\w+)\}/g, (m, name: string) => params[name] ?? m);
}

/** The phone's languages, in the page or the worker. */
export function phoneLanguages(): readonly string[] {
  const nav = (globalThis as { navigator?: { languages?: readonly string[]; language?: string } }).navigator;
  return nav?.languages?.length ? nav.languages : nav?.language ? [nav.language] : [];
}
