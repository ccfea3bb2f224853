/**
 * Forged client IP and forged URLs behind a proxy (audit item 5). A reverse proxy such as nginx
 * appends the address it saw to whatever X-Forwarded-For the client sent, so an attacker controls
 * every entry but the last: with one trusted proxy, the IP shown on the phone, written to the audit
 * log and used for throttling must be the last entry. And no header or request line may change
 * the URLs the IdP hands out: they all come from ISSUER.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect } from 'node:net';
import { hashPassword } from '../../src/accounts/passwords.js';
import { PushWorld } from '../support/push-world.js';
import { startTestIdp, testRp, type TestIdp } from '../support/idp.js';
import { FormBrowser } from '../support/web-browser.js';
import { dispatched, enroll, newestChallenge, sendPush, startWorld } from '../signin/helpers.js';

/** A browser behind nginx: every request carries the X-Forwarded-For the proxy would pass on. */
class ProxiedBrowser extends FormBrowser {
  constructor(origin: string, public forwardedFor: string) {
    super(origin);
  }

  override request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('x-forwarded-for', this.forwardedFor);
    return super.request(url, { ...init, headers });
  }
}

/** One HTTP/1.1 exchange with a request line of our choosing (fetch would normalise it). */
function rawRequest(port: number, requestLine: string, headers: string[] = []): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head, ...rest] = text.split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head!)?.[1]), headers: head!, body: rest.join('\r\n\r\n') });
    });
    socket.write(`${requestLine}\r\n${[...headers, 'Connection: close'].join('\r\n')}\r\n\r\n`);
  });
}

/** Every absolute URL in a discovery document. */
function urlsIn(metadata: Record<string, unknown>): string[] {
  return Object.values(metadata).filter((v): v is string => typeof v === 'string' && /^[a-z]+:\/\//i.test(v));
}

/** Each URL is the issuer or under it. */
function expectAllUnder(issuer: string, metadata: Record<string, unknown>): void {
  const urls = urlsIn(metadata);
  expect(urls.length).toBeGreaterThan(3);
  expect(urls.filter((u) => u !== issuer && !u.startsWith(`${issuer}/`))).toEqual([]);
}

describe('one trusted proxy (TRUST_PROXY=1), http ISSUER', () => {
  let w: PushWorld;
  let port: number;
  beforeAll(async () => {
    w = await startWorld({ idp: { env: { TRUST_PROXY: '1' } } });
    port = w.t.settings.port;
  });
  afterAll(() => w.close());

  it('the phone shows the address the proxy saw, not the one the attacker wrote', async () => {
    const { phone, subscription } = await enroll(w);
    const s = await w.startSignIn({}, new ProxiedBrowser(w.t.url, '203.0.113.77, 127.0.0.1'));
    await sendPush(s.browser, s.next.body);
    expect((await w.pushService.waitForMessage(subscription!.id)).payload.ip).toBe('127.0.0.1');
    const challenge = await newestChallenge(phone);
    expect(challenge.ip).toBe('127.0.0.1');
    // The send's record is written once the dispatch has finished, in the background.
    await dispatched(w, challenge.id);
    const [audit] = await w.t.idp.db.query<{ ip: string }>("SELECT ip FROM audit_events WHERE type = 'push.sent' AND detail->>'challengeId' = $1", [challenge.id]);
    expect(audit!.ip).toBe('127.0.0.1');
  });

  it('advertises ISSUER whatever Host, X-Forwarded-Host and X-Forwarded-Proto say', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`, {
      headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' },
    });
    const md = (await res.json()) as Record<string, unknown>;
    expect(md.issuer).toBe(w.t.url);
    expectAllUnder(w.t.url, md);
  });

  it('an absolute-form request target does not put its host in discovery', async () => {
    const res = await rawRequest(port, 'GET http://evil.example/.well-known/openid-configuration HTTP/1.1', ['Host: evil.example', 'X-Forwarded-Proto: https']);
    expect(res.status).toBe(200);
    const md = JSON.parse(res.body) as Record<string, unknown>;
    expect(res.body).not.toContain('evil.example');
    expect(md.issuer).toBe(w.t.url);
    expectAllUnder(w.t.url, md);
  });

  it('an absolute-form target reaches its path, and redirects stay on ISSUER', async () => {
    const res = await rawRequest(port, 'GET https://evil.example/auth?client_id=test-rp&response_type=code&scope=openid&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcb&code_challenge=' + 'a'.repeat(43) + '&code_challenge_method=S256 HTTP/1.1', ['Host: evil.example']);
    expect(res.status).toBe(303);
    const location = /\r\nlocation: ([^\r]+)/i.exec(res.headers)![1]!;
    expect(new URL(location, w.t.url).origin).toBe(w.t.url);
    expect(res.headers).not.toContain('evil.example');
  });

  it('refuses a request target that is neither a path nor an absolute URL (400)', async () => {
    const res = await rawRequest(port, 'OPTIONS * HTTP/1.1', [`Host: 127.0.0.1:${port}`]);
    expect(res.status).toBe(400);
  });

  it('throttles a password guesser as one IP, however they vary the forged entry', async () => {
    let throttledAt = 0;
    for (let i = 1; i <= 30 && !throttledAt; i++) {
      // A new forged address and a new user name every time: only the proxy's entry stays the same.
      const browser = new ProxiedBrowser(w.t.url, `198.51.100.${i}, 127.0.0.1`);
      const s = await w.startSignIn({ username: `ghost${i}`, password: 'wrong guess!' }, browser);
      if (s.next.res.status === 429) throttledAt = i;
      else expect(s.next.res.status).toBe(401);
    }
    expect(throttledAt).toBeGreaterThan(0);
    const rows = await w.t.idp.db.query<{ ip: string }>("SELECT DISTINCT ip FROM audit_events WHERE type IN ('signin.failure', 'signin.throttled')");
    expect(rows.map((r) => r.ip)).toEqual(['127.0.0.1']);
  });
});

describe('trusted proxies by address, https ISSUER behind a TLS-terminating proxy', () => {
  let t: TestIdp;
  beforeAll(async () => {
    t = await startTestIdp({
      storage: 'postgres', redis: 'real', clients: [testRp()],
      env: { ISSUER: 'https://idp.example.test', TRUST_PROXY: '127.0.0.1, 10.0.0.0/8' },
    });
    await t.idp.accounts.create({ username: 'alice', passwordHash: await hashPassword('alice password 1') });
  });
  afterAll(() => t.close());

  const direct = () => `http://127.0.0.1:${t.settings.port}`;

  it('says https in discovery on a plain socket, even when X-Forwarded-Proto says http', async () => {
    for (const headers of [{}, { 'x-forwarded-proto': 'http' }] as Record<string, string>[]) {
      const md = (await (await fetch(`${direct()}/.well-known/openid-configuration`, { headers })).json()) as Record<string, unknown>;
      expect(md.issuer).toBe('https://idp.example.test');
      expectAllUnder('https://idp.example.test', md);
    }
  });

  it('walks X-Forwarded-For past the trusted proxies to the client', async () => {
    const xff = '203.0.113.77, 81.2.69.142, 10.0.0.9';
    const first = await fetch(`${direct()}/auth?client_id=test-rp&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('http://127.0.0.1:1/cb')}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`, { redirect: 'manual', headers: { 'x-forwarded-for': xff } });
    const cookie = first.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    // Secure cookies without any X-Forwarded-Proto: the protocol is the issuer's.
    for (const c of first.headers.getSetCookie()) expect(c).toMatch(/;\s*secure/i);
    const loc = first.headers.get('location')!;
    expect(new URL(loc, 'https://idp.example.test').origin).toBe('https://idp.example.test');
    const path = new URL(loc, 'https://idp.example.test').pathname;
    const page = await (await fetch(`${direct()}${path}`, { headers: { cookie, accept: 'text/html', 'x-forwarded-for': xff } })).text();
    const csrf = page.match(/name="csrf" value="([^"]+)"/)![1]!;
    await fetch(`${direct()}${path}/login`, {
      method: 'POST', redirect: 'manual',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': xff },
      body: new URLSearchParams({ csrf, username: 'alice', password: 'nope nope nope' }).toString(),
    });
    const [failure] = await t.idp.db.query<{ ip: string }>("SELECT ip FROM audit_events WHERE type = 'signin.failure' ORDER BY id DESC LIMIT 1");
    expect(failure!.ip).toBe('81.2.69.142');
  });
});
