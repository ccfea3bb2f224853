import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PushWorld } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';

/**
 * Malformed and hostile requests to every endpoint of ours: each gets a 4xx with a clear message
 * (the OAuth error format on OIDC endpoints), nothing in the database or Redis changes, and the
 * process keeps serving.
 */
interface Case {
  name: string;
  method: string;
  path: string | ((ctx: Ctx) => string);
  headers?: Record<string, string>;
  body?: string | ((ctx: Ctx) => string);
  /** Send the cookies of a sign-in in progress. */
  withSession?: boolean;
  expect: number | number[];
  json?: boolean;
}
interface Ctx { uid: string; csrf: string }

const form = { 'content-type': 'application/x-www-form-urlencoded' };
const json = { 'content-type': 'application/json' };
const big = 'a'.repeat(200_000);

const cases: Case[] = [
  // Interaction pages
  { name: 'interaction page without its cookie', method: 'GET', path: (c) => `/interaction/${c.uid}`, expect: 400 },
  { name: 'interaction page with a malformed uid', method: 'GET', path: '/interaction/%00%ff', expect: [400, 404] },
  { name: 'interaction page with a uid of another sign-in', method: 'GET', path: '/interaction/AAAAAAAAAAAAAAAAAAAAA', withSession: true, expect: 400 },
  { name: 'login without CSRF token', method: 'POST', path: (c) => `/interaction/${c.uid}/login`, withSession: true, headers: form, body: 'username=alice&password=x', expect: 403 },
  { name: 'login with a wrong CSRF token', method: 'POST', path: (c) => `/interaction/${c.uid}/login`, withSession: true, headers: form, body: 'csrf=forged&username=alice&password=x', expect: 403 },
  { name: 'login with JSON instead of a form', method: 'POST', path: (c) => `/interaction/${c.uid}/login`, withSession: true, headers: json, body: '{"username":"alice"}', expect: 415 },
  { name: 'login with a username array', method: 'POST', path: (c) => `/interaction/${c.uid}/login`, withSession: true, headers: form, body: (c) => `csrf=${c.csrf}&username=a&username=b&password=x`, expect: 400 },
  { name: 'login with a huge password', method: 'POST', path: (c) => `/interaction/${c.uid}/login`, withSession: true, headers: form, body: (c) => `csrf=${c.csrf}&username=alice&password=${'p'.repeat(10_000)}`, expect: 400 },
  { name: 'login with an oversized body', method: 'POST', path: (c) => `/interaction/${c.uid}/login`, withSession: true, headers: form, body: (c) => `csrf=${c.csrf}&username=${big}`, expect: 413 },
  { name: 'login with broken percent-encoding', method: 'POST', path: (c) => `/interaction/${c.uid}/login`, withSession: true, headers: form, body: (c) => `csrf=${c.csrf}&username=%E0%A4%A&password=%`, expect: [400, 401] },
  { name: 'login with missing fields', method: 'POST', path: (c) => `/interaction/${c.uid}/login`, withSession: true, headers: form, body: (c) => `csrf=${c.csrf}`, expect: 400 },
  { name: 'GET on the login POST route', method: 'GET', path: (c) => `/interaction/${c.uid}/login`, withSession: true, expect: 405 },
  { name: 'consent before login', method: 'POST', path: (c) => `/interaction/${c.uid}/confirm`, withSession: true, headers: form, body: (c) => `csrf=${c.csrf}`, expect: 400 },
  { name: 'push before the password', method: 'POST', path: (c) => `/interaction/${c.uid}/push`, withSession: true, headers: form, body: (c) => `csrf=${c.csrf}`, expect: 400 },
  { name: 'passcode before the password', method: 'POST', path: (c) => `/interaction/${c.uid}/passcode`, withSession: true, headers: form, body: (c) => `csrf=${c.csrf}&passcode=123456`, expect: 400 },
  { name: 'wait page before the password', method: 'GET', path: (c) => `/interaction/${c.uid}/wait`, withSession: true, expect: 400 },
  { name: 'status before the password', method: 'GET', path: (c) => `/interaction/${c.uid}/push/status`, withSession: true, headers: { accept: 'application/json' }, expect: 400, json: true },
  { name: 'abort without CSRF', method: 'POST', path: (c) => `/interaction/${c.uid}/abort`, withSession: true, headers: form, body: 'x=1', expect: 403 },
  // OIDC endpoints (oidc-provider, our configuration)
  { name: 'authorization without client_id', method: 'GET', path: '/auth?response_type=code&scope=openid', expect: 400 },
  { name: 'authorization with an unknown client', method: 'GET', path: '/auth?client_id=nobody&response_type=code&scope=openid&redirect_uri=http://x/', expect: 400 },
  { name: 'authorization with a foreign redirect_uri', method: 'GET', path: '/auth?client_id=test-rp&response_type=code&scope=openid&redirect_uri=https://evil.example/cb', expect: 400 },
  { name: 'token with no body', method: 'POST', path: '/token', headers: form, body: '', expect: 400, json: true },
  { name: 'token with an unknown grant', method: 'POST', path: '/token', headers: form, body: 'grant_type=password&client_id=test-rp', expect: [400, 401], json: true },
  { name: 'token with a forged code', method: 'POST', path: '/token', headers: { ...form, authorization: 'Basic ' + Buffer.from('test-rp:test-rp-secret-0123456789abcdef0123456789').toString('base64') }, body: 'grant_type=authorization_code&code=forged&redirect_uri=http://127.0.0.1:1/cb&code_verifier=' + 'v'.repeat(43), expect: 400, json: true },
  { name: 'token with a wrong client secret', method: 'POST', path: '/token', headers: { ...form, authorization: 'Basic ' + Buffer.from('test-rp:wrong').toString('base64') }, body: 'grant_type=refresh_token&refresh_token=x', expect: 401, json: true },
  { name: 'token with JSON', method: 'POST', path: '/token', headers: json, body: '{"grant_type":"refresh_token"}', expect: 400, json: true },
  { name: 'token with an oversized body', method: 'POST', path: '/token', headers: form, body: `grant_type=refresh_token&refresh_token=${big}`, expect: [400, 413], json: true },
  { name: 'userinfo without a token', method: 'GET', path: '/me', expect: 401, json: true },
  { name: 'userinfo with a forged token', method: 'GET', path: '/me', headers: { authorization: 'Bearer forged' }, expect: 401, json: true },
  { name: 'introspection without client auth', method: 'POST', path: '/token/introspection', headers: form, body: 'token=x', expect: [400, 401], json: true },
  { name: 'revocation without client auth', method: 'POST', path: '/token/revocation', headers: form, body: 'token=x', expect: [400, 401], json: true },
  { name: 'logout with a forged id_token_hint', method: 'GET', path: '/session/end?id_token_hint=eyJhbGciOiJub25lIn0.e30.', expect: 400 },
  { name: 'DELETE on the token endpoint', method: 'DELETE', path: '/token', expect: [404, 405], json: true },
  { name: 'PROPFIND on the token endpoint', method: 'PROPFIND', path: '/token', expect: 405, json: true },
  { name: 'MKCOL on a page', method: 'MKCOL', path: '/account', headers: { accept: 'text/html' }, expect: 405 },
  { name: 'token with a gzip-labelled body that is not gzip', method: 'POST', path: '/token', headers: { ...form, 'content-encoding': 'gzip' }, body: 'grant_type=refresh_token&refresh_token=x', expect: 415, json: true },
  { name: 'logout with a NUL in state', method: 'GET', path: '/session/end?state=%00', expect: 400, json: true },
  { name: 'authorization with a NUL in nonce', method: 'GET', path: '/auth?client_id=test-rp&response_type=code&scope=openid&redirect_uri=http://127.0.0.1:1/cb&nonce=%00', expect: 400, json: true },
  { name: 'unknown path', method: 'GET', path: '/no/such/thing', expect: 404 },
  // Device API
  { name: 'enroll with an unknown code', method: 'POST', path: '/api/device/enroll', headers: json, body: '{"code":"AAAA-BBBB-CCCC-DDDD","name":"x","publicJwk":{"kty":"EC","crv":"P-256","x":"a","y":"b"},"push":null}', expect: 400, json: true },
  { name: 'enroll with a non-JSON body', method: 'POST', path: '/api/device/enroll', headers: { 'content-type': 'text/plain' }, body: 'hello', expect: 415, json: true },
  { name: 'enroll with broken JSON', method: 'POST', path: '/api/device/enroll', headers: json, body: '{"code":', expect: 400, json: true },
  { name: 'enroll with an oversized body', method: 'POST', path: '/api/device/enroll', headers: json, body: JSON.stringify({ code: big }), expect: 413, json: true },
  { name: 'enroll with wrong types', method: 'POST', path: '/api/device/enroll', headers: json, body: '{"code":1,"name":[],"publicJwk":"x","push":5}', expect: 400, json: true },
  { name: 'pending challenges without auth', method: 'GET', path: '/api/device/challenges', expect: 401, json: true },
  { name: 'pending challenges with a forged token', method: 'GET', path: '/api/device/challenges', headers: { authorization: 'Device eyJhbGciOiJub25lIn0.e30.' }, expect: 401, json: true },
  { name: 'answer with garbage', method: 'POST', path: '/api/device/challenges/abc/response', headers: json, body: '{"response":"not.a.jws"}', expect: 400, json: true },
  { name: 'answer with alg none', method: 'POST', path: '/api/device/challenges/abc/response', headers: json, body: JSON.stringify({ response: `${Buffer.from('{"alg":"none","kid":"dev_x"}').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.` }), expect: [400, 401], json: true },
  { name: 'GET on the enroll route', method: 'GET', path: '/api/device/enroll', expect: 405, json: true },
  { name: 'unregister without auth', method: 'DELETE', path: '/api/device', expect: 401, json: true },
  { name: 'a NUL in a challenge id', method: 'GET', path: '/api/device/challenges/%00', expect: 400, json: true },
  { name: 'a NUL escaped in the kid of a device authorization', method: 'GET', path: '/api/device/challenges', headers: { authorization: `Device ${Buffer.from('{"alg":"ES256","kid":"\\u0000"}').toString('base64url')}.e30.AAAA` }, expect: 401, json: true },
  // Self-service and demo
  { name: 'self-service enroll without a session', method: 'POST', path: '/account/enroll', headers: form, body: 'csrf=x', expect: 401 },
  { name: 'self-service revoke without a session', method: 'POST', path: '/account/devices/dev_x/revoke', headers: form, body: 'csrf=x', expect: 401 },
  { name: 'self-service revoke with a NUL in the device id', method: 'POST', path: '/account/devices/dev_%00/revoke', headers: form, body: 'csrf=x', expect: 400 },
  { name: 'self-service callback without a sign-in', method: 'GET', path: '/account/callback?code=x&state=y', expect: 400 },
  { name: 'demo callback without a sign-in', method: 'GET', path: '/demo/callback?code=x&state=y', expect: 400 },
  { name: 'demo callback with a forged state cookie', method: 'GET', path: '/demo/callback?code=x&state=y', headers: { cookie: 'demo-app_tx=e30; demo-app_tx.sig=forged' }, expect: 400 },
];

describe('bad input is refused with a clear 4xx and changes nothing', () => {
  let w: PushWorld;
  let ctx: Ctx;
  let session: FormBrowser;
  const snapshot = async () => {
    const db = w.t.idp.db;
    const [counts] = await db.query<Record<string, string>>(`SELECT
      (SELECT count(*) FROM accounts) AS accounts, (SELECT count(*) FROM devices) AS devices,
      (SELECT count(*) FROM enrollment_codes) AS codes, (SELECT count(*) FROM oidc_payloads) AS oidc,
      (SELECT count(*) FROM keystore) AS keys`);
    // KEYS patterns are not prefixed by ioredis: ask for this IdP's own keys only.
    const prefix = w.t.idp.redis.options.keyPrefix ?? '';
    const keys = (await w.t.idp.redis.keys(`${prefix}*`)).filter((k) => !k.includes(':oidc:Interaction:') && !k.includes('rl:') && !k.includes(':thr:') && !k.includes(':resume:')).sort(); // resume: a finished sign-in's 15-s record, lapsing on its own
    return { counts, keys };
  };

  beforeAll(async () => {
    w = await PushWorld.start({ idp: { storage: 'postgres' } });
    session = new FormBrowser(w.t.url);
    const started = await w.startSignIn({ password: 'wrong password' });
    ctx = { uid: started.uid, csrf: started.next.body.match(/name="csrf" value="([^"]+)"/)![1]! };
    session = started.browser;
  });
  afterAll(() => w.close());

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const before = await snapshot();
    const path = typeof c.path === 'function' ? c.path(ctx) : c.path;
    const body = typeof c.body === 'function' ? c.body(ctx) : c.body;
    const init: RequestInit = { method: c.method, headers: c.headers ?? {}, ...(body !== undefined ? { body } : {}) };
    const res = c.withSession ? await session.request(path, init) : await fetch(new URL(path, w.t.url), { ...init, redirect: 'manual' });
    const text = await res.text();
    const expected = Array.isArray(c.expect) ? c.expect : [c.expect];
    // The body is in the message when the status is not one we expect.
    expect({ status: expected.includes(res.status) ? 'as expected' : res.status, text: text.slice(0, 300) })
      .toEqual({ status: 'as expected', text: expect.any(String) });
    if (c.json) {
      const parsed = JSON.parse(text) as { error?: string; error_description?: string };
      expect(typeof parsed.error).toBe('string');
      expect(parsed.error_description ?? parsed.error).toBeTruthy();
    } else {
      expect(text.length).toBeGreaterThan(0);
    }
    expect(await snapshot()).toEqual(before);
    expect((await fetch(`${w.t.url}/healthz`)).status).toBe(200);
  });
});
