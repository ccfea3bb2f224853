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

async function poll(): Promise<void> {
  for (;;) {
    try {
      const res = await fetch(`/interaction/${encodeURIComponent(uid)}/push/status`, { headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' });
      if (!res.ok) throw new Error(String(res.status));
      const body = (await res.json()) as { status: string; next: string };
      if (body.status !== 'pending') {
        if (statusEl) statusEl.textContent = (body.status === 'approved' ? statusEl.dataset.approved : statusEl.dataset.notApproved) ?? '';
        location.assign(body.next);
        return;
      }
    } catch {
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

setInterval(tick, 1000);
void poll();
