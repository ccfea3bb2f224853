import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { hashPassword } from '../../src/accounts/passwords.js';
import { startTestIdp, testRp, type TestIdp } from '../support/idp.js';
import { uniquePrefix } from '../support/env.js';

/**
 * Session and page defences as a browser and a network attacker see them: secure, httpOnly,
 * SameSite cookies behind TLS, a strict CSP with no inline script, no framing, HSTS, no caching of
 * sign-in pages, and forwarded headers trusted only when configured (the IP the phone shows must
 * not be whatever the attacker writes in X-Forwarded-For).
 */
async function authorize(t: TestIdp, headers: Record<string, string> = {}) {
  const url = `${t.url}/auth?client_id=test-rp&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('http://127.0.0.1:1/cb')}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`;
  const first = await fetch(url.replace(t.url, `http://127.0.0.1:${t.settings.port}`), { redirect: 'manual', headers });
  const cookies = first.headers.getSetCookie();
  const page = await fetch(new URL(first.headers.get('location')!, `http://127.0.0.1:${t.settings.port}`), {
    headers: { cookie: cookies.map((c) => c.split(';')[0]).join('; '), accept: 'text/html', ...headers },
  });
  return { first, cookies, page };
}

describe('behind a TLS-terminating proxy (ISSUER https, TRUST_PROXY=1)', () => {
  let t: TestIdp;
  beforeAll(async () => {
    t = await startTestIdp({ redis: 'real', redisPrefix: uniquePrefix('tls'), clients: [testRp({ login: { consent: 'implicit' } })], env: { ISSUER: 'https://idp.example.test', TRUST_PROXY: '1' } });
  });
  afterAll(() => t.close());

  it('sets Secure, HttpOnly, SameSite cookies and HSTS (the scheme is ISSUER\'s, no X-Forwarded-Proto needed)', async () => {
    const { cookies, page } = await authorize(t);
    expect(cookies.length).toBeGreaterThan(0);
    for (const c of cookies) {
      expect(c).toMatch(/;\s*secure/i);
      expect(c).toMatch(/;\s*httponly/i);
      expect(c).toMatch(/;\s*samesite=(lax|strict)/i);
    }
    expect(page.status).toBe(200);
    expect(page.headers.get('strict-transport-security')).toMatch(/max-age=\d{7,}/);
  });

  it('names the SSO cookie __Host- (Path=/, no Domain) and the interaction cookies __Secure-; a sign-in still ends at the app with a code', async () => {
    // Red-team: a plain `_session` cookie could be planted by a sibling host (Domain=corp.example)
    // with the planter's own signed session, signing the user in as the planter.
    await t.idp.accounts.create({ username: 'mallory', passwordHash: await hashPassword('mallory password 1') });
    const base = `http://127.0.0.1:${t.settings.port}`;
    const jar = new Map<string, string>();
    const set: string[] = [];
    const go = async (url: string, init: RequestInit = {}) => {
      const headers = new Headers(init.headers);
      headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
      headers.set('accept', 'text/html');
      const res = await fetch(new URL(url.replace(t.url, base), base), { ...init, headers, redirect: 'manual' });
      for (const line of res.headers.getSetCookie()) {
        set.push(line);
        const [pair] = line.split(';');
        jar.set(pair!.slice(0, pair!.indexOf('=')), pair!.slice(pair!.indexOf('=') + 1));
      }
      return { res, body: await res.text() };
    };
    const first = await go(`/auth?client_id=test-rp&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('http://127.0.0.1:1/cb')}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`);
    const interaction = first.res.headers.get('location')!;
    const page = await go(interaction);
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
    let r = await go(`${interaction}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf, username: 'mallory', password: 'mallory password 1' }).toString() });
    for (let i = 0; i < 6 && [302, 303].includes(r.res.status) && !r.res.headers.get('location')!.startsWith('http://127.0.0.1:1/'); i++) r = await go(r.res.headers.get('location')!);
    expect(r.res.headers.get('location')).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
    const names = set.map((c) => c.slice(0, c.indexOf('=')));
    expect(names).toEqual(expect.arrayContaining(['__Host-session', '__Host-session.sig', '__Secure-interaction', '__Secure-interaction_resume']));
    expect(names.filter((n) => /^_(session|interaction)/.test(n))).toEqual([]);
    // Every cookie is prefixed (red-team, pages round: the "Back to app" cookie was not).
    expect(names).toContain('__Host-idp_app');
    expect(names.filter((n) => !/^__(Host|Secure)-/.test(n))).toEqual([]);
    for (const c of set.filter((l) => l.startsWith('__Host-'))) {
      expect(c).toMatch(/;\s*path=\/(;|$)/i);
      expect(c).not.toMatch(/;\s*domain=/i);
      expect(c).toMatch(/;\s*secure/i);
    }
    // The renamed session is the SSO session: prompt=none answers with a code from it.
    const again = await go(`/auth?client_id=test-rp&response_type=code&scope=openid&prompt=none&redirect_uri=${encodeURIComponent('http://127.0.0.1:1/cb')}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`);
    expect(again.res.headers.get('location')).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
  });

  it('advertises the configured issuer whatever Host, X-Forwarded-Host or X-Forwarded-Proto says', async () => {
    const res = await fetch(`http://127.0.0.1:${t.settings.port}/.well-known/openid-configuration`, {
      headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http' },
    });
    const md = await res.json() as { issuer: string; authorization_endpoint: string };
    expect(md.issuer).toBe('https://idp.example.test');
    expect(md.authorization_endpoint).toBe('https://idp.example.test/auth');
    expect(res.headers.get('content-length')).toMatch(/^\d+$/);
  });
});

describe('pages and forwarded headers on a direct connection (TRUST_PROXY off)', () => {
  let t: TestIdp;
  beforeAll(async () => {
    t = await startTestIdp({ redis: 'real', clients: [testRp()] });
    await t.idp.accounts.create({ username: 'alice', passwordHash: await hashPassword('alice password 1') });
  });
  afterAll(() => t.close());

  it('serves our pages with a strict CSP, no framing, no caching, and no inline script', async () => {
    const { page } = await authorize(t);
    const html = await page.text();
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('cache-control')).toContain('no-store');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // every script is an external file
    expect(html).not.toMatch(/\son[a-z]+=/i); // no inline event handlers
  });

  it('ignores X-Forwarded-For, so an attacker cannot choose the IP shown to the user', async () => {
    const { first, cookies } = await authorize(t, { 'x-forwarded-for': '203.0.113.99' });
    const loc = first.headers.get('location')!;
    const uid = loc.split('/').pop()!;
    const cookie = cookies.map((c) => c.split(';')[0]).join('; ');
    const page = await (await fetch(`http://127.0.0.1:${t.settings.port}${loc}`, { headers: { cookie, accept: 'text/html' } })).text();
    const csrf = page.match(/name="csrf" value="([^"]+)"/)![1]!;
    await fetch(`http://127.0.0.1:${t.settings.port}/interaction/${uid}/login`, {
      method: 'POST', redirect: 'manual',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '203.0.113.99' },
      body: new URLSearchParams({ csrf, username: 'alice', password: 'nope nope nope' }).toString(),
    });
    const [failure] = await t.idp.db.query<{ ip: string }>("SELECT ip FROM audit_events WHERE type = 'signin.failure' ORDER BY id DESC LIMIT 1");
    expect(failure!.ip).not.toBe('203.0.113.99');
    expect(failure!.ip).toMatch(/127\.0\.0\.1/);
  });
});
