import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { request as httpRequest } from 'node:http';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log.js';
import { matchNumberOf, PushWorld } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';
import { newestChallenge, signedInToWaitingPage } from './helpers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/**
 * The waiting page's long-poll (GET /interaction/:uid/push/status) is held before Koa
 * (src/http/long-poll.ts). What the page, a log reader and an attacker see must be what Koa's
 * route gave: the same answers, headers and refusals, each poll one request id in the logs.
 */
describe('the waiting page long-poll, held before Koa', () => {
  let w: PushWorld;
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });

  beforeAll(async () => {
    w = await PushWorld.start({ idp: { idp: { longPollMs: 1500, logger: createLogger('info', sink) } } });
  });
  afterAll(() => w?.close());

  const statusPath = (uid: string) => `/interaction/${uid}/push/status`;
  const poll = (browser: FormBrowser, uid: string, headers: Record<string, string> = {}) =>
    browser.request(statusPath(uid), { headers: { accept: 'application/json', ...headers } });

  /** Every header a held answer had from Koa's route (captured before the change), bar Date and Content-Length. */
  function expectHeldHeaders(res: Response): void {
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('content-security-policy')).toBe(CSP);
    expect(res.headers.get('vary')).toBe('Accept-Language');
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(res.headers.get('strict-transport-security')).toBeNull(); // an http issuer
  }

  function expectRefusal(res: Response, body: unknown, status: number, error: string): void {
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-request-id')).toMatch(UUID);
    expect(body).toMatchObject({ error });
  }

  it('answers a poll nobody resolves "pending" after the long-poll time; HEAD, POST and query strings as before', async () => {
    const { phone } = await w.enrollPhone();
    const { browser, uid } = await signedInToWaitingPage(w);
    const res = await poll(browser, uid);
    expect(res.status).toBe(200);
    expectHeldHeaders(res);
    expect(res.headers.get('x-request-id')).toMatch(UUID);
    expect(await res.json()).toEqual({ status: 'pending', reason: null, next: `/interaction/${uid}/wait` });

    // HEAD is held too (Koa's route), and answered without a body.
    const head = await browser.request(statusPath(uid), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await head.text()).toBe('');
    // ?wait=0 answers at once; any other query string is checked by the edge first.
    expect(await (await browser.request(`${statusPath(uid)}?wait=0`)).json()).toEqual({ status: 'pending', reason: null, next: `/interaction/${uid}/wait` });
    const nul = await browser.request(`${statusPath(uid)}?x=%00`, { headers: { accept: 'application/json' } });
    expectRefusal(nul, await nul.json(), 400, 'invalid_request');
    const post = await browser.request(statusPath(uid), { method: 'POST', headers: { accept: 'application/json' } });
    expect(post.status).toBe(405);
    expect(await post.json()).toMatchObject({ error: 'method_not_allowed' });

    // Done with this push: denied, the next poll says so at once (with the app link cookie, as before).
    const ch = await newestChallenge(phone);
    expect((await phone.respond(ch.id, 'deny')).status).toBe(200);
    const after = await poll(browser, uid);
    expect(await after.json()).toEqual({ status: 'denied', reason: 'denied', next: `/interaction/${uid}/wait` });
    expect(after.headers.get('set-cookie')).toMatch(/idp_app=/);
  });

  it('wakes every parallel poll of one sign-in when the phone approves; each is one request id in the logs; a poll after the sign-in finished is refused', async () => {
    const { phone } = await w.enrollPhone();
    const { browser, uid, wait } = await signedInToWaitingPage(w);
    const from = lines.length;
    const polls = [poll(browser, uid, { 'x-request-id': 'lb-3f2a9c1e.77:01' }), poll(browser, uid, { 'x-request-id': 'not an id' }), poll(browser, uid)];
    await new Promise((r) => setTimeout(r, 300));
    const ch = await newestChallenge(phone);
    expect((await phone.respond(ch.id, 'approve', { number: matchNumberOf(wait.body)! })).status).toBe(200);
    const answers = await Promise.all(polls);
    const ids: string[] = [];
    for (const res of answers) {
      expect(res.status).toBe(200);
      expectHeldHeaders(res);
      expect(await res.json()).toEqual({ status: 'approved', reason: null, next: `/interaction/${uid}/wait` });
      ids.push(res.headers.get('x-request-id')!);
    }
    expect(ids[0]).toBe('lb-3f2a9c1e.77:01');
    expect(ids[1]).toMatch(UUID);
    expect(ids[2]).toMatch(UUID);
    const logged = lines.slice(from).filter((l) => l.msg === 'request' && l.path === statusPath(uid));
    for (const id of ids) {
      expect(logged.filter((l) => l.reqId === id)).toEqual([expect.objectContaining({ method: 'GET', status: 200, ms: expect.any(Number) })]);
    }

    // The page goes on; the sign-in finishes, and its interaction is gone.
    const done = await browser.go(`/interaction/${uid}/wait`);
    expect(done.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
    const gone = await poll(browser, uid);
    expectRefusal(gone, await gone.json(), 400, 'session_not_found');
  });

  it('refuses without holding: no cookie, another browser\'s interaction, a made-up uid, odd bytes, a body or odd credentials', async () => {
    const { browser, uid } = await w.startSignIn();
    const other = await w.startSignIn();

    const bare = await fetch(`${w.t.url}${statusPath(uid)}`, { headers: { accept: 'application/json' } });
    expectRefusal(bare, await bare.json(), 400, 'session_not_found');
    // Another browser's cookie with this uid, and this browser's cookie with another's uid.
    const crossed = await poll(other.browser, uid);
    expectRefusal(crossed, await crossed.json(), 400, 'interaction_mismatch');
    const madeUp = await poll(browser, 'A'.repeat(43));
    expectRefusal(madeUp, await madeUp.json(), 400, 'interaction_mismatch');
    // No push yet on this sign-in: answered at once, nothing to hold.
    expect(await (await poll(browser, uid)).json()).toEqual({ status: 'none', reason: null, next: `/interaction/${uid}/wait` });

    for (const odd of ['%00aaaaaaaaaaaa', 'short', 'a'.repeat(65), '..%2F..%2Fhealthz', '%E2%80%AEabcdefghijk', 'abc%ZZdefghijkl', `${uid}%00`, `${uid}.`]) {
      const res = await poll(browser, odd);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(await res.json()).toMatchObject({ error: expect.any(String) });
    }
    const basic = await poll(browser, uid, { authorization: 'Bearer a\u00e9b' });
    expectRefusal(basic, await basic.json(), 400, 'invalid_request');

    // A GET with a compressed body: the edge's 415, as before.
    const withBody = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${w.t.url}${statusPath(uid)}`, {
        method: 'GET', headers: { cookie: browser.cookieHeader(), accept: 'application/json', 'content-encoding': 'gzip', 'content-length': '3' },
      }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => { body += String(c); });
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      req.end('abc');
    });
    expect(withBody.status).toBe(415);
    expect(JSON.parse(withBody.body)).toMatchObject({ error: 'unsupported_media_type' });
  });

  it('tells the computer "denied" when the owner reports the request', async () => {
    const { phone } = await w.enrollPhone();
    const { browser, uid } = await signedInToWaitingPage(w);
    const held = poll(browser, uid);
    await new Promise((r) => setTimeout(r, 300));
    const ch = await newestChallenge(phone);
    expect((await phone.respond(ch.id, 'report')).status).toBe(200);
    const res = await held;
    expectHeldHeaders(res);
    expect(await res.json()).toEqual({ status: 'denied', reason: 'denied', next: `/interaction/${uid}/wait` });
  });
});
