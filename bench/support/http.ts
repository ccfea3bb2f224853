/**
 * A lean HTTP/1.1 client for load generation: node:http with keep-alive sockets, no redirects
 * followed unless asked, bodies read as text. Lighter on the load generator's CPU than fetch,
 * which matters on a 2-core machine where the generator shares the cores with the IdP.
 */
import http, { type IncomingHttpHeaders } from 'node:http';

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Milliseconds before the request is aborted (default 120 s). */
  timeoutMs?: number;
}

export function keepAliveAgent(maxSockets = 256): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' });
}

/** One request to an absolute http:// URL; resolves with the whole answer. */
export function request(agent: http.Agent, method: string, url: string | URL, opts: RequestOptions = {}): Promise<HttpResponse> {
  const u = typeof url === 'string' ? new URL(url) : url;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...opts.headers };
    if (opts.body !== undefined) headers['content-length'] = Buffer.byteLength(opts.body);
    const req = http.request({
      agent, method, host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, headers,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs ?? 120_000, () => req.destroy(new Error(`${method} ${u.pathname}: no answer within ${opts.timeoutMs ?? 120_000} ms`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/**
 * A cookie-keeping browser without JavaScript, as test/support/web-browser.ts, over `request`.
 * Every URL on the issuer's origin is sent to `home` (one IdP process of several that share an
 * issuer), so a browser stays on the process it was given.
 */
export class Browser {
  private readonly cookies = new Map<string, string>();
  private readonly issuerOrigin: string;
  private readonly home: URL;

  constructor(readonly agent: http.Agent, issuer: string, home: string = issuer) {
    this.issuerOrigin = new URL(issuer).origin;
    this.home = new URL(home);
  }

  /** Sends URLs of the issuer's origin to this browser's own process. */
  private route(url: string): URL {
    const u = new URL(url, this.issuerOrigin);
    if (u.origin === this.issuerOrigin || u.origin === this.home.origin) {
      u.protocol = this.home.protocol;
      u.host = this.home.host;
    }
    return u;
  }

  private store(headers: IncomingHttpHeaders): void {
    for (const line of headers['set-cookie'] ?? []) {
      const pair = line.slice(0, line.indexOf(';') < 0 ? line.length : line.indexOf(';'));
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1);
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  cookieHeader(): string {
    let out = '';
    for (const [k, v] of this.cookies) out += `${out ? '; ' : ''}${k}=${v}`;
    return out;
  }

  async request(method: string, url: string, opts: RequestOptions = {}): Promise<HttpResponse> {
    const headers: Record<string, string> = { accept: 'text/html', ...opts.headers };
    if (this.cookies.size) headers.cookie = this.cookieHeader();
    const res = await request(this.agent, method, this.route(url), { ...opts, headers });
    this.store(res.headers);
    return res;
  }

  /** Follows redirects on the issuer's origin; stops at another origin and returns its URL. */
  async go(method: string, url: string, opts: RequestOptions = {}): Promise<{ res: HttpResponse; url: string }> {
    let current = new URL(url, this.issuerOrigin).href;
    let res = await this.request(method, current, opts);
    for (let hops = 0; hops < 10 && res.status >= 300 && res.status < 400; hops++) {
      const next = new URL(String(res.headers.location), current);
      if (next.origin !== this.issuerOrigin && next.origin !== this.home.origin) return { res, url: next.href };
      const keep = res.status === 307 || res.status === 308;
      current = next.href;
      res = await this.request(keep ? method : 'GET', current, keep ? opts : {});
    }
    return { res, url: current };
  }

  /** Submits the form whose action matches: hidden fields from the page, plus `fields`. */
  async submit(html: string, action: RegExp, fields: Record<string, string>): Promise<{ res: HttpResponse; url: string }> {
    const form = [...html.matchAll(/<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/g)].find(([, a]) => action.test(a!));
    if (!form) throw new Error(`no form with action ${action} in page: ${html.slice(0, 300)}`);
    const hidden = Object.fromEntries([...form[2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map(([, n, v]) => [n!, decode(v!)]));
    return this.go('POST', decode(form[1]!), {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...hidden, ...fields }).toString(),
    });
  }
}

const decode = (s: string): string => s.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
