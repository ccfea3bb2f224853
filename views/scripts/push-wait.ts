/**
 * The waiting page's script (served as /static/push-wait.js). Long-polls the status endpoint and,
 * as soon as the request is answered, goes to the page that finishes the sign-in. Without this
 * script the page refreshes itself instead (<noscript> meta refresh). Its words come from the page
 * (data-* attributes in the page's language, views/push-wait.eta).
 */
const uid = location.pathname.split('/')[2] ?? '';
const statusEl = document.getElementById('status');
const countdownEl = document.getElementById('countdown');
const started = performance.now();
const initialSeconds = Number(document.getElementById('seconds-left')?.textContent ?? '0');
const rules = new Intl.PluralRules(document.documentElement.lang || 'en');
const forms = ((): Record<string, string> | null => {
  try {
    const v = JSON.parse(countdownEl?.dataset.forms ?? '') as unknown;
    return v && typeof v === 'object' && typeof (v as Record<string, unknown>).other === 'string' ? (v as Record<string, string>) : null;
  } catch {
    return null;
  }
})();

/** "The request expires in <span id=seconds-left>N</span> seconds.", its plural form right for N. */
function tick(): void {
  if (!countdownEl || !forms) return;
  const left = Math.max(0, Math.ceil(initialSeconds - (performance.now() - started) / 1000));
  const [before = '', after = ''] = (forms[rules.select(left)] ?? forms.other ?? '').split('{count}');
  const span = document.createElement('span');
  span.id = 'seconds-left';
  span.textContent = String(left);
  countdownEl.replaceChildren(before, span, after);
}

/** Seconds to wait before asking again after a failed status request: its Retry-After (1-30 s), else 2 s. */
function retryDelayMs(res: Response | null): number {
  const seconds = Number(res?.headers.get('retry-after') ?? '');
  return Number.isInteger(seconds) && seconds >= 1 ? Math.min(seconds, 30) * 1000 : 2000;
}

class RetryLater extends Error {
  constructor(readonly delayMs: number) { super('retry later'); }
}

async function poll(): Promise<void> {
  for (;;) {
    try {
      const res = await fetch(`/interaction/${encodeURIComponent(uid)}/push/status`, { headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' });
      // A refusal (400-499 but 429: this sign-in ended, or this browser no longer holds it) will not
      // change by asking again: the waiting page itself says why (red-team: the page polled every
      // 2 s forever and kept saying "Approve on your phone").
      if (res.status >= 400 && res.status < 500 && res.status !== 429) {
        location.assign(`/interaction/${encodeURIComponent(uid)}/wait`);
        return;
      }
      // 503 + Retry-After: this server is shutting down (or briefly unavailable); the request is
      // still pending, so ask again after the delay it gives (another server answers then).
      if (!res.ok) throw new RetryLater(retryDelayMs(res));
      const body = (await res.json()) as { status: string; next: string };
      if (body.status !== 'pending') {
        if (statusEl) statusEl.textContent = (body.status === 'approved' ? statusEl.dataset.approved : statusEl.dataset.notApproved) ?? '';
        location.assign(body.next);
        return;
      }
    } catch (err) {
      await new Promise((r) => setTimeout(r, err instanceof RetryLater ? err.delayMs : 2000));
    }
  }
}

setInterval(tick, 1000);
void poll();
