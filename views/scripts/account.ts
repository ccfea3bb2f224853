/**
 * The account page's script (served as /static/account.js): times in the user's own zone and
 * language, the code's copy button, and on the enrollment page a poll of /account/enroll/status
 * until the phone has enrolled and confirmed, then the offer of a test sign-in. Without it the
 * page shows UTC times and the user reloads the account page. Its words come from the page
 * (data-* attributes in the page's language, views/account-enroll.eta).
 */
export {};

/**
 * The page's language (<html lang>, negotiated by the server), in the browser's own regional
 * style when the browser prefers a variant of it (en-GB: "3 Dec 2026", de-AT: "3. Dez. 2026").
 */
const pageLang = document.documentElement.lang || 'en';
const lang = navigator.languages.find((l) => l.toLowerCase().split('-')[0] === pageLang) ?? pageLang;
const formats: Record<string, Intl.DateTimeFormatOptions> = {
  time: { hour: 'numeric', minute: '2-digit', timeZoneName: 'short' },
  date: { day: 'numeric', month: 'short', year: 'numeric' },
  datetime: { day: 'numeric', month: 'short', year: 'numeric', hour: 'numeric', minute: '2-digit' },
};
for (const el of document.querySelectorAll<HTMLTimeElement>('time[data-local]')) {
  const at = new Date(el.dateTime);
  const options = formats[el.dataset.local ?? ''];
  if (!Number.isNaN(at.getTime()) && options) el.textContent = new Intl.DateTimeFormat(lang, options).format(at);
}

/** A message the page gave in a data-* attribute, its `{name}` filled in as text. */
const message = (el: HTMLElement | null, key: string, name = ''): string =>
  (el?.dataset[key] ?? '').replace('{name}', () => name);

const copy = document.getElementById('copy-code') as HTMLButtonElement | null;
const copyStatus = document.getElementById('copy-status');
if (copy && navigator.clipboard) {
  copy.hidden = false;
  copy.addEventListener('click', () => {
    navigator.clipboard.writeText(copy.dataset.copy ?? '').then(
      () => { if (copyStatus) copyStatus.textContent = message(copyStatus, 'copied'); },
      () => { if (copyStatus) copyStatus.textContent = message(copyStatus, 'failed'); },
    );
  });
}

const wizard = document.getElementById('enroll-wizard');
const statusEl = document.getElementById('enroll-status');
const test = document.getElementById('enroll-test');
const expiry = document.getElementById('enroll-expiry') as HTMLTimeElement | null;

type EnrollStatus = { state: 'waiting' } | { state: 'pending' | 'active'; name: string };

async function watch(): Promise<void> {
  if (!wizard || !statusEl) return;
  const after = wizard.dataset.after ?? '';
  const expiresAt = expiry ? Date.parse(expiry.dateTime) : Number.POSITIVE_INFINITY;
  let shown = '';
  const say = (text: string) => {
    if (text !== shown) statusEl.textContent = shown = text;
  };
  say(message(statusEl, 'waiting'));
  for (;;) {
    let body: EnrollStatus | null = null;
    try {
      const res = await fetch(`/account/enroll/status?after=${encodeURIComponent(after)}`, { headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' });
      if (res.status === 401) return say(message(statusEl, 'ended'));
      if (res.ok) body = (await res.json()) as EnrollStatus;
    } catch {
      body = null;
    }
    if (body?.state === 'active') {
      say(message(statusEl, 'ready', body.name));
      if (test) test.hidden = false;
      return;
    }
    if (body?.state === 'pending') say(message(statusEl, 'added', body.name));
    else if (Date.now() > expiresAt) return say(message(statusEl, 'expired'));
    await new Promise((r) => setTimeout(r, 2000));
  }
}
void watch();
