import path from 'node:path';
import { Eta } from 'eta';
import { currentLocale, formatDateTime, formatTime, pluralForms, translate, type MessageKey, type Params } from '../i18n/index.js';
import { projectRoot } from './paths.js';

/** Server-rendered pages from views/*.eta; every value is HTML-escaped unless a template says otherwise. */
export interface Views {
  render(name: string, data: Record<string, unknown>): string;
}

/** What every page shows of the product (PRODUCT_NAME, PRODUCT_LOGO). */
export interface Branding {
  productName: string;
  /** A URL of an image (an https URL, or a path under /static/); null: the name alone. */
  productLogo: string | null;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);

/**
 * What each template gets besides its own data, in the request's language (src/i18n/):
 * - `lang`, `t(key, params)` (text, escaped by `<%= %>`), `th(key, params, wrap)` (HTML: the message
 *   and every value escaped, then the values named in `wrap` put in an element, e.g. `strong`);
 * - `time(at)` / `dateTime(at)`: a `<time>` element in the language's style, re-shown in the
 *   browser's time zone by views/scripts/page.ts;
 * - `forms(key)`: a plural message's forms as JSON, for a page script that counts;
 * - `product`, `logo`.
 */
export function pageHelpers(locale: string, branding: Branding) {
  const t = (key: MessageKey, params?: Params) => translate(locale, key, params);
  const timeEl = (kind: 'time' | 'datetime') => (at: Date | number | string) => {
    const d = new Date(at);
    if (Number.isNaN(d.getTime())) return '';
    const text = kind === 'time' ? formatTime(locale, d) : formatDateTime(locale, d);
    return `<time datetime="${d.toISOString()}" data-local="${kind}">${escapeHtml(text)}</time>`;
  };
  return {
    lang: locale,
    t,
    th: (key: MessageKey, params: Params = {}, wrap: Record<string, string> = {}) => {
      const marked = Object.fromEntries(Object.keys(params).map((k, i) => [k, `\u0000${i}\u0000`]));
      const values = Object.values(params);
      return escapeHtml(translate(locale, key, marked, params.count)).replace(/\u0000(\d+)\u0000/g, (_m, i: string) => {
        const name = Object.keys(params)[Number(i)]!;
        const raw = values[Number(i)]!;
        const value = typeof raw === 'number' && wrap[name] === 'time' ? timeEl('time')(raw) : escapeHtml(String(raw));
        const tag = wrap[name];
        if (!tag || tag === 'time') return value;
        const [el, id] = tag.split('#');
        return `<${el}${id ? ` id="${id}"` : ''}>${value}</${el}>`;
      });
    },
    time: timeEl('time'),
    dateTime: timeEl('datetime'),
    forms: (key: MessageKey) => JSON.stringify(pluralForms(locale, key)),
    product: branding.productName,
    logo: branding.productLogo,
  };
}

export function createViews(dir = path.join(projectRoot(), 'views'), branding: Branding = { productName: 'Push OTP', productLogo: null }): Views {
  const eta = new Eta({ views: dir, cache: true, autoEscape: true, autoTrim: false });
  return {
    render: (name, data) => eta.render(name, { title: 'Sign in', ...pageHelpers(currentLocale(), branding), ...data }),
  };
}
