/**
 * The account page's script (served as /static/account.js): times in the user's own zone and
 * language, the code's copy button, and on the enrollment page a poll of /account/enroll/status
 * until the phone has enrolled and confirmed, then the offer of a test sign-in. Without it the
 * page shows UTC times and the user reloads the account page.
 */
export {};

const lang = navigator.language || 'en';
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

const copy = document.getElementById('copy-code') as HTMLButtonElement | null;
const copyStatus = document.getElementById('copy-status');
if (copy && navigator.clipboard) {
  copy.hidden = false;
  copy.addEventListener('click', () => {
    navigator.clipboard.writeText(copy.dataset.copy ?? '').then(
      () => { if (copyStatus) copyStatus.textContent = 'Code copied.'; },
      () => { if (copyStatus) copyStatus.textContent = 'Could not copy: select the code and copy it.'; },
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
  say('Waiting for your phone…');
  for (;;) {
    let body: EnrollStatus | null = null;
    try {
      const res = await fetch(`/account/enroll/status?after=${encodeURIComponent(after)}`, { headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' });
      if (res.status === 401) return say('Your session on this page has ended. Open your account again to see your phone.');
      if (res.ok) body = (await res.json()) as EnrollStatus;
    } catch {
      body = null;
    }
    if (body?.state === 'active') {
      say(`Your phone “${body.name}” is ready.`);
      if (test) test.hidden = false;
      return;
    }
    if (body?.state === 'pending') say(`“${body.name}” was added. Waiting for the phone to confirm…`);
    else if (Date.now() > expiresAt) return say('The code has expired. Go back to your account and add the phone again.');
    await new Promise((r) => setTimeout(r, 2000));
  }
}
void watch();
