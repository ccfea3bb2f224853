/**
 * A minimal cookie-keeping browser over fetch, for walking our server-rendered pages without
 * JavaScript (as a no-JS user would). Follows redirects on the IdP's origin; stops at any other.
 */
export class FormBrowser {
  private cookies = new Map<string, string>();
  constructor(private readonly origin: string) {}

  private store(res: Response) {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1);
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') this.cookies.delete(name); else this.cookies.set(name, value);
    }
  }

  /** Takes the cookies whose names start with `prefix` from another browser. */
  adoptCookies(from: FormBrowser, prefix: string) {
    for (const [k, v] of from.cookies) if (k.startsWith(prefix)) this.cookies.set(k, v);
  }

  cookieHeader() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /** One request, no redirect following. */
  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', this.cookieHeader());
    if (!headers.has('accept')) headers.set('accept', 'text/html');
    const res = await fetch(new URL(url, this.origin), { ...init, headers, redirect: 'manual' });
    this.store(res);
    return res;
  }

  /** Follows same-origin redirects; returns the last response and its URL (or the off-origin Location). */
  async go(url: string, init: RequestInit = {}): Promise<{ res: Response; url: string; body: string }> {
    let current = new URL(url, this.origin).href;
    let res = await this.request(current, init);
    for (let hops = 0; hops < 10 && res.status >= 300 && res.status < 400; hops++) {
      const next = new URL(res.headers.get('location')!, current).href;
      if (new URL(next).origin !== this.origin) return { res, url: next, body: '' };
      const keep = res.status === 307 || res.status === 308;
      current = next;
      res = await this.request(current, keep ? init : {});
    }
    return { res, url: current, body: await res.text() };
  }

  /** Submits a form of the given page: action and hidden fields are read from the HTML. */
  async submit(html: string, action: RegExp | string, fields: Record<string, string>) {
    const forms = [...html.matchAll(/<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/g)];
    const form = forms.find(([, a]) => (typeof action === 'string' ? a === action : action.test(a!)));
    if (!form) throw new Error(`no form with action ${action} in page`);
    const hidden = Object.fromEntries([...form[2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map(([, n, v]) => [n!, decode(v!)]));
    return this.go(decode(form[1]!), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...hidden, ...fields }).toString(),
    });
  }
}

const decode = (s: string) => s.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
