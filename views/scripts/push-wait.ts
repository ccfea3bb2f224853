/**
 * The waiting page's script (served as /static/push-wait.js). Long-polls the status endpoint and,
 * as soon as the request is answered, goes to the page that finishes the sign-in. Without this
 * script the page refreshes itself instead (<noscript> meta refresh).
 */
const uid = location.pathname.split('/')[2] ?? '';
const statusEl = document.getElementById('status');
const secondsEl = document.getElementById('seconds-left');
const started = performance.now();
const initialSeconds = Number(secondsEl?.textContent ?? '0');

function tick(): void {
  if (!secondsEl) return;
  const left = Math.max(0, Math.ceil(initialSeconds - (performance.now() - started) / 1000));
  secondsEl.textContent = String(left);
}

async function poll(): Promise<void> {
  for (;;) {
    try {
      const res = await fetch(`/interaction/${encodeURIComponent(uid)}/push/status`, { headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' });
      if (!res.ok) throw new Error(String(res.status));
      const body = (await res.json()) as { status: string; next: string };
      if (body.status !== 'pending') {
        if (statusEl) statusEl.textContent = body.status === 'approved' ? 'Approved. Signing you in…' : 'The request was not approved.';
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
