import type { Middleware } from 'koa';
import { requestContext } from '../observability/request-context.js';
import type { Catalogue, Message, MessageKey } from './catalogue.js';
import { de } from './locales/de.js';
import { en } from './locales/en.js';

/**
 * The pages' languages (issue 16, item 6): catalogues per language, the one a request gets
 * (Accept-Language, overridden by OIDC's `ui_locales`), and text and times in it. Adding a language:
 * docs/languages.md.
 */
export const CATALOGUES = new Map<string, Catalogue>([['en', en], ['de', de]]);
export type Locale = string;
export const DEFAULT_LOCALE: Locale = 'en';

/**
 * Pure: the first supported language of a `ui_locales` value (space-separated, in order of
 * preference, OIDC Core 3.1.2.1), else of an Accept-Language header (by q-value), else English.
 * Only the primary subtag counts ("de-AT" gets German).
 */
/** Pure: the first supported language of a space-separated list of tags, or null. */
export function firstSupported(tags: string | undefined): Locale | null {
  for (const tag of (tags ?? '').slice(0, 200).split(' ')) {
    const primary = tag.trim().toLowerCase().split(/[-_]/)[0] ?? '';
    if (primary && CATALOGUES.has(primary)) return primary;
  }
  return null;
}

export function negotiate(acceptLanguage: string | undefined, uiLocales?: string): Locale {
  const supported = (tag: string) => {
    const primary = tag.trim().toLowerCase().split(/[-_]/)[0] ?? '';
    return CATALOGUES.has(primary) ? primary : null;
  };
  const ui = firstSupported(uiLocales);
  if (ui) return ui;
  const ranked = (acceptLanguage ?? '').slice(0, 500).split(',').map((part, i) => {
    const [tag = '', ...params] = part.split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const weight = q ? Number(q.slice(2)) : 1;
    return { tag: tag.trim(), weight: Number.isFinite(weight) ? weight : 0, i };
  }).filter((r) => r.tag && r.weight > 0).sort((a, b) => b.weight - a.weight || a.i - b.i);
  for (const r of ranked) {
    const hit = supported(r.tag);
    if (hit) return hit;
  }
  return DEFAULT_LOCALE;
}

const pluralRules = new Map<Locale, Intl.PluralRules>();
const pluralOf = (locale: Locale, n: number) => {
  let rules = pluralRules.get(locale);
  if (!rules) pluralRules.set(locale, (rules = new Intl.PluralRules(locale)));
  return rules.select(n);
};

export type Params = Readonly<Record<string, string | number>>;

/** Pure: the message's text in `locale`, its plural form chosen by `params.count`, placeholders filled. */
export function translate(locale: Locale, key: MessageKey, params: Params = {}, count: unknown = params.count): string {
  const message: Message = (CATALOGUES.get(locale) ?? en)[key] ?? en[key];
  const text = typeof message === 'string' ? message
    : message[pluralOf(locale, typeof count === 'number' ? count : 0)] ?? message.other;
  return fill(text, params);
}

/** The plural forms of a message, for a page script that counts down (views/scripts/). */
export function pluralForms(locale: Locale, key: MessageKey): Record<string, string> {
  const message: Message = (CATALOGUES.get(locale) ?? en)[key] ?? en[key];
  return typeof message === 'string' ? { other: message } : { ...message };
}

export function fill(text: string, params: Params): string {
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (Object.hasOwn(params, name) ? String(params[name]) : whole));
}

/** A clock time ("14:05", "2:05 PM") in the language's style, in the server's time zone; pages re-show it in the browser's. */
export function formatTime(locale: Locale, at: Date | number): string {
  return new Intl.DateTimeFormat(locale, { hour: 'numeric', minute: '2-digit' }).format(at);
}

/** A date and time in the language's style. */
export function formatDateTime(locale: Locale, at: Date | number): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(at);
}

/** The language of the request being answered (English outside one). */
export function currentLocale(): Locale {
  return requestContext.getStore()?.locale ?? DEFAULT_LOCALE;
}

/** `translate` in the current request's language. */
export const t = (key: MessageKey, params?: Params): string => translate(currentLocale(), key, params);

/** An OIDC request's `ui_locales` outranks the browser's Accept-Language for the rest of this request. */
export function preferUiLocales(uiLocales: unknown): void {
  const store = requestContext.getStore();
  if (!store?.locale || typeof uiLocales !== 'string' || !uiLocales) return;
  const hit = firstSupported(uiLocales);
  if (hit) store.locale = hit;
}

/**
 * Early middleware, after the request id's: every request's language, from Accept-Language and a
 * `ui_locales` query parameter, kept in the request's context (one store, src/observability/request-context.ts).
 */
export function localeMiddleware(): Middleware {
  return (ctx, next) => {
    const ui = typeof ctx.query.ui_locales === 'string' ? ctx.query.ui_locales : undefined;
    const locale = negotiate(ctx.get('accept-language'), ui);
    ctx.vary('Accept-Language');
    const store = requestContext.getStore();
    if (store) {
      store.locale = locale;
      return next();
    }
    return requestContext.run({ requestId: '', locale }, () => next());
  };
}

export type { Catalogue, Message, MessageKey } from './catalogue.js';
