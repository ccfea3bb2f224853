import { pageLanguage, t } from './lang.js';

/** Words and numbers as the user reads them, in the pages' language. */

export function hostOf(issuer: string): string {
  try {
    const url = new URL(issuer);
    return url.pathname === '/' ? url.host : `${url.host}${url.pathname}`;
  } catch {
    return issuer;
  }
}

/** "123 456" (and "1234 5678"): easier to read and to type. */
export function groupCode(code: string): string {
  const half = code.length / 2;
  return `${code.slice(0, half)} ${code.slice(half)}`;
}

const relative = new Intl.RelativeTimeFormat(pageLanguage, { numeric: 'auto' });

export function timeAgo(epochMs: number, now = Date.now()): string {
  const s = Math.round((epochMs - now) / 1000);
  if (Math.abs(s) < 45) return t('time.justNow');
  const m = Math.round(s / 60);
  if (Math.abs(m) < 60) return relative.format(m, 'minute');
  const hr = Math.round(m / 60);
  if (Math.abs(hr) < 24) return relative.format(hr, 'hour');
  return relative.format(Math.round(hr / 24), 'day');
}

export function clockTime(epochMs: number): string {
  return new Intl.DateTimeFormat(pageLanguage, { hour: 'numeric', minute: '2-digit' }).format(epochMs);
}

/** "1:05" */
export function mmss(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export function accountLabel(a: { account: { displayName: string; username: string } }): string {
  return a.account.displayName || a.account.username;
}

/**
 * The IdP names the requesting browser in English ("Chrome on Linux", "Unknown browser on Windows",
 * docs/device-api.md); the phone says it in its own language. Names of browsers and systems stay.
 */
export function browserText(summary: string, tr: (key: 'request.browser.unknown' | 'request.browser.unknownOn' | 'request.browser.on', vars?: Record<string, string>) => string): string {
  if (summary === 'Unknown browser') return tr('request.browser.unknown');
  const unknownOn = /^Unknown browser on (.+)$/.exec(summary);
  if (unknownOn) return tr('request.browser.unknownOn', { system: unknownOn[1]! });
  const on = /^(.+) on (.+)$/.exec(summary);
  return on ? tr('request.browser.on', { browser: on[1]!, system: on[2]! }) : summary;
}
