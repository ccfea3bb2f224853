import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import * as oidc from 'openid-client';
import { createLogger } from '../../src/log.js';
import { TEST_RP_SECRET } from '../support/idp.js';
import { PushWorld, RP_CALLBACK } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';

/**
 * Audit item 9: requests no client of ours sends, each of which answered 500 (and logged a stack
 * trace) before the edge filter (src/http/hostile.ts). Sent byte for byte with node:http, as an
 * attacker would, since fetch normalises methods and encodes what it is given. Each must get a 4xx
 * in the format of its endpoint, change nothing in PostgreSQL or Redis, and log no error.
 */
interface Sent { method: string; path: string; headers?: Record<string, string>; body?: string | Buffer }
interface Got { status: number; headers: Record<string, string | string[] | undefined>; text: string }

const basic = 'Basic ' + Buffer.from(`test-rp:${TEST_RP_SECRET}`).toString('base64');
const form = { 'content-type': 'application/x-www-form-urlencoded' };
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
/** A Device authorization whose JWS header names a kid; the signature does not matter, the kid is looked up first. */
const deviceAuth = (kidJson: string) => `Device ${Buffer.from(`{"alg":"ES256","typ":"device-auth+jwt","kid":${kidJson}}`).toString('base64url')}.${b64({})}.AAAA`;
const authQuery = (extra: string) => `/auth?client_id=test-rp&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(RP_CALLBACK)}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256&${extra}`;

/** The OIDC endpoints answer in OAuth's error format; so does every JSON answer of ours. */
const OAUTH = /^\/(?:auth|token|me|request|session\/end|jwks|\.well-known)/;

describe('hostile methods, encodings and bytes get a 4xx, change nothing and log no stack trace', () => {
  let w: PushWorld;
  let accountCsrf = '';
  let accountCookies = '';
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });

  const send = (s: Sent): Promise<Got> => new Promise((resolve, reject) => {
    const u = new URL(w.t.url);
    const req = httpRequest({ host: u.hostname, port: u.port, method: s.method, path: s.path, headers: { accept: 'application/json', ...s.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(s.body);
  });

  const snapshot = async () => {
    const [counts] = await w.t.idp.db.query<Record<string, string>>(`SELECT
      (SELECT count(*) FROM accounts) AS accounts, (SELECT count(*) FROM devices) AS devices,
      (SELECT count(*) FROM enrollment_codes) AS codes, (SELECT count(*) FROM oidc_payloads) AS oidc,
      (SELECT string_agg(name || status, ',') FROM devices) AS names`);
    const prefix = w.t.idp.redis.options.keyPrefix ?? '';
    const keys = (await w.t.idp.redis.keys(`${prefix}*`)).filter((k) => !k.includes('rl:') && !k.includes(':thr:') && !k.includes(':resume:')).sort(); // resume: a finished sign-in's 15-s record, lapsing on its own
    return { counts, keys };
  };
  /** Error lines (pino level 50 and up) or anything with a stack, written since `from`. */
  const errorsSince = (from: number) => lines.slice(from).filter((l) => /"level":(5|6)\d/.test(l) || l.includes('"stack"'));

  /** The attacker's view: a 4xx, a readable refusal, nothing changed, nothing logged as a fault. */
  const expectRefused = async (s: Sent, statuses: number[] = [400]) => {
    const before = await snapshot();
    const from = lines.length;
    const got = await send(s);
    // The body is in the message when the status is not one we expect.
    expect({ status: statuses.includes(got.status) ? 'as expected' : got.status, text: got.text.slice(0, 200) }).toEqual({ status: 'as expected', text: expect.any(String) });
    const body = JSON.parse(got.text) as { error?: unknown; error_description?: unknown };
    expect(typeof body.error).toBe('string');
    expect(typeof body.error_description).toBe('string');
    expect(got.text).not.toMatch(/ at |node_modules|\.ts:\d/);
    expect(await snapshot()).toEqual(before);
    expect(errorsSince(from)).toEqual([]);
    return got;
  };

  beforeAll(async () => {
    // Several cases enroll a phone of their own for alice: room for them under the device cap.
    w = await PushWorld.start({ idp: { storage: 'postgres', env: { MAX_DEVICES_PER_ACCOUNT: '20' }, idp: { logger: createLogger('debug', sink) } } });
    // A session on /account (alice has no phone yet: the password is enough), to reach the device routes.
    const browser = new FormBrowser(w.t.url);
    const acct = await browser.go('/account');
    const page = await browser.submit(acct.body, /\/login$/, { username: 'alice', password: PushWorld.password });
    accountCsrf = page.body.match(/name="csrf" value="([^"]+)"/)![1]!;
    accountCookies = browser.cookieHeader();
    await w.enrollPhone({ push: false });
  });
  afterAll(() => w.close());

  describe('methods the app does not serve: 405 with Allow, never a 500', () => {
    const paths = ['/', '/auth', '/token', '/me', '/jwks', '/session/end', '/.well-known/openid-configuration', '/interaction/abc', '/account', '/account/devices/dev_x/revoke', '/api/device/enroll', '/static/idp.css', '/pwa/', '/healthz', '/demo'];
    // The device API's router answers with each path's own methods (RFC 9110 15.5.6; red-team:
    // PATCH on /api/device/enroll listed six, while GET there said `Allow: POST`).
    const own: Record<string, string> = { '/api/device/enroll': 'POST', '/api/device': 'DELETE', '/api/device/push-subscription': 'PUT' };
    // A device API path that does not exist: the app's methods (review: a 404 there became a router's 501, a 500).
    const unknownDevicePaths = ['/api/device/nope', '/api/device/challenges/x/y', '/api/device/'];
    it.each(['TRACE', 'PROPFIND', 'MKCOL', 'LOCK', 'PATCH', 'COPY', 'SEARCH'].flatMap((m) => [...paths, ...Object.keys(own).filter((p) => !paths.includes(p)), ...unknownDevicePaths].map((p) => [m, p] as const)))('%s %s', async (method, path) => {
      const got = await expectRefused({ method, path }, [405]);
      expect(got.headers.allow).toBe(own[path] ?? 'GET, HEAD, POST, PUT, DELETE, OPTIONS');
    });
  });

  describe('a body with a Content-Encoding: 415 naming identity, also where oidc-provider parses the body', () => {
    const bodies: Array<[string, string, Sent]> = [];
    const targets: Array<[string, string, string]> = [
      ['/token', 'application/x-www-form-urlencoded', 'grant_type=refresh_token&refresh_token=x'],
      ['/token/introspection', 'application/x-www-form-urlencoded', 'token=x'],
      ['/request', 'application/x-www-form-urlencoded', 'response_type=code&scope=openid'],
      ['/api/device/enroll', 'application/json', '{"code":"AAAA-BBBB-CCCC-DDDD"}'],
      ['/account/enroll', 'application/x-www-form-urlencoded', 'csrf=x'],
      ['/interaction/abc/login', 'application/x-www-form-urlencoded', 'csrf=x&username=alice&password=x'],
    ];
    for (const [path, type, plain] of targets) {
      for (const [label, encoding, body] of [
        ['gzip-labelled plain text', 'gzip', plain], ['br-labelled plain text', 'br', plain], ['deflate-labelled plain text', 'deflate', plain],
        ['gzip-labelled truncated gzip', 'gzip', gzipSync(plain).subarray(0, 12)], ['real gzip', 'gzip', gzipSync(plain)],
        ['real br', 'br', brotliCompressSync(plain)], ['unknown coding', 'x-unknown', plain],
      ] as const) {
        bodies.push([label, path, { method: 'POST', path, headers: { 'content-type': type, 'content-encoding': encoding, authorization: basic }, body }]);
      }
    }
    // The error code is the surface's own: invalid_request on oidc-provider's endpoints (an OAuth
    // error code, RFC 6749 5.2) and the device API (docs/device-api.md; red-team: it was
    // unsupported_media_type, a code neither defines), unsupported_media_type on our pages.
    it.each(bodies)('%s to %s', async (_label, path, sent) => {
      const got = await expectRefused(sent, [415]);
      expect(got.headers['accept-encoding']).toBe('identity');
      const oauthOrDevice = /^\/(?:token|request|api\/device)(?:\/|$)/.test(path);
      expect(JSON.parse(got.text)).toMatchObject({ error: oauthOrDevice ? 'invalid_request' : 'unsupported_media_type' });
    });
  });

  describe('NUL, lone surrogates and bytes that are not UTF-8', () => {
    const cases: Array<[string, Sent, number[]?]> = [
      // Audit: "in state on /session/end" (saved in the session row: PostgreSQL refused the NUL).
      ['NUL in state on /session/end', { method: 'GET', path: '/session/end?state=%00' }],
      ['CESU-8 lone surrogate in state on /session/end', { method: 'GET', path: '/session/end?state=%ED%A0%80' }],
      ['invalid UTF-8 in state on /session/end', { method: 'GET', path: '/session/end?state=%FF' }],
      ['NUL in state on POST /session/end', { method: 'POST', path: '/session/end', headers: form, body: 'state=a%00b' }],
      // Audit: "in nonce/claims/acr_values carried into the code exchange".
      ['NUL in nonce at /auth', { method: 'GET', path: authQuery('nonce=a%00b') }],
      ['NUL in acr_values at /auth', { method: 'GET', path: authQuery('acr_values=x%00') }],
      ['CESU-8 surrogate in acr_values at /auth', { method: 'GET', path: authQuery('acr_values=%ED%B0%80') }],
      ['escaped NUL inside the claims JSON at /auth', { method: 'GET', path: authQuery(`claims=${encodeURIComponent('{"id_token":{"email":{"value":"x\\u0000"}}}')}`) }],
      ['escaped lone surrogate as a claim name at /auth', { method: 'GET', path: authQuery(`claims=${encodeURIComponent('{"userinfo":{"e\\ud800":null}}')}`) }],
      ['NUL in nonce in a form POST to /auth', { method: 'POST', path: '/auth', headers: form, body: authQuery('nonce=%00').split('?')[1]! }],
      ['NUL in nonce of a pushed authorization request', { method: 'POST', path: '/request', headers: { ...form, authorization: basic }, body: authQuery('nonce=%00').split('?')[1]! }],
      ['escaped NUL in claims of a pushed authorization request', { method: 'POST', path: '/request', headers: { ...form, authorization: basic }, body: authQuery(`claims=${encodeURIComponent('{"id_token":{"name":{"value":"\\u0000"}}}')}`).split('?')[1]! }],
      // Form fields oidc-provider looks up by id in PostgreSQL.
      ['NUL in a refresh token', { method: 'POST', path: '/token', headers: { ...form, authorization: basic }, body: 'grant_type=refresh_token&refresh_token=%00' }],
      ['NUL in a token to introspect', { method: 'POST', path: '/token/introspection', headers: { ...form, authorization: basic }, body: 'token=%00' }],
      ['NUL in a token to revoke', { method: 'POST', path: '/token/revocation', headers: { ...form, authorization: basic }, body: 'token=%00' }],
      ['invalid UTF-8 in a token form', { method: 'POST', path: '/token', headers: { ...form, authorization: basic }, body: Buffer.concat([Buffer.from('grant_type=refresh_token&refresh_token='), Buffer.from([0xff, 0xfe])]) }],
      ['NUL in Basic client credentials', { method: 'POST', path: '/token', headers: { ...form, authorization: 'Basic ' + Buffer.from('test-rp%00:x').toString('base64') }, body: 'grant_type=refresh_token&refresh_token=x' }],
      ['raw high bytes in a Bearer token', { method: 'GET', path: '/me', headers: { authorization: Buffer.from([0x42, 0x65, 0x61, 0x72, 0x65, 0x72, 0x20, 0xed, 0xa0, 0x80]).toString('latin1') } }],
      // Audit: "in a device Authorization header" (the JWS kid was looked up in PostgreSQL).
      ['escaped NUL as the kid of a device authorization', { method: 'GET', path: '/api/device/challenges', headers: { authorization: deviceAuth('"dev_\\u0000"') } }, [401]],
      ['escaped lone surrogate as the kid of a device authorization', { method: 'GET', path: '/api/device/challenges', headers: { authorization: deviceAuth('"dev_\\ud800"') } }, [401]],
      ['CESU-8 bytes in a device authorization', { method: 'GET', path: '/api/device/challenges', headers: { authorization: Buffer.from([0x44, 0x65, 0x76, 0x69, 0x63, 0x65, 0x20, 0xed, 0xa0, 0x80]).toString('latin1') } }],
      // Audit: "in a device id in /account/devices/:id/..." (and every other id in a path).
      ['NUL in a device id on /account', { method: 'POST', path: '/account/devices/dev_%00/revoke', headers: form, body: 'csrf=' }],
      ['CESU-8 surrogate in a device id on /account', { method: 'POST', path: '/account/devices/dev_%ED%A0%80/rename', headers: form, body: 'csrf=&name=x' }],
      ['NUL in a challenge id of the device API', { method: 'GET', path: '/api/device/challenges/ch_%00' }],
      ['NUL in an interaction id', { method: 'GET', path: '/interaction/%00/wait' }],
    ];
    // Each row as [name, case]: a row one element short would make jest pass `done` in its place.
    it.each(cases.map(([name, sent, statuses]) => [name, { sent, statuses: statuses ?? [400] }] as const))('%s', async (_name, { sent, statuses }) => {
      // The account routes need the session: without it they answer 401 before reaching the id.
      const s = sent.path.startsWith('/account/')
        ? { ...sent, headers: { ...sent.headers, cookie: accountCookies }, body: String(sent.body).replace('csrf=', `csrf=${encodeURIComponent(accountCsrf)}`) }
        : sent;
      const got = await expectRefused(s, statuses);
      if (OAUTH.test(sent.path)) expect(JSON.parse(got.text)).toMatchObject({ error: 'invalid_request' });
    });
  });

  it('a browser gets a page, not JSON, for a refused address', async () => {
    const got = await send({ method: 'GET', path: '/session/end?state=%00', headers: { accept: 'text/html' } });
    expect(got.status).toBe(400);
    expect(got.headers['content-type']).toMatch(/^text\/html/);
    expect(got.text).toContain('holds a character that is not allowed');
  });

  // Red-team: oidc-provider's own errors at /auth it cannot send back to the app (an unknown client)
  // were its HTML page for a caller that asked for JSON, where the edge's refusals answer JSON.
  it.each([
    ['an unknown client', '/auth?client_id=__proto__&response_type=code&scope=openid'],
    ['a repeated parameter', '/auth?client_id=test-rp&client_id=test-rp&response_type=code&scope=openid'],
  ])('%s at /auth: the OAuth error as JSON to a JSON caller, a page to a browser', async (_name, path) => {
    const json = await send({ method: 'GET', path, headers: { accept: 'application/json' } });
    expect(json.status).toBe(400);
    expect(json.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(json.text)).toEqual({ error: expect.stringMatching(/^invalid_(client|request)$/), error_description: expect.any(String) });
    const page = await send({ method: 'GET', path, headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(page.status).toBe(400);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
  });

  /**
   * The audit's path to the 500: values /auth took were kept in the code and written to PostgreSQL
   * with the refresh token at the code exchange. Walk the whole flow as a relying app and a user
   * would, as far as the IdP lets it go: every answer must be below 500 and no error logged.
   */
  it.each([
    ['NUL in nonce', 'nonce=a%00b'],
    ['NUL in acr_values', 'acr_values=urn%3Apushotp%3Aacr%3Amfa%00'],
    ['escaped NUL in a claims value', `claims=${encodeURIComponent('{"id_token":{"email":{"value":"x\\u0000"}}}')}`],
    ['escaped lone surrogate in a claims value', `claims=${encodeURIComponent('{"userinfo":{"name":{"value":"\\udc00"}}}')}`],
  ])('%s never makes the code exchange or userinfo fail with a 500', async (_name, extra) => {
    const from = lines.length;
    const { phone } = await w.enrollPhone({ push: false });
    const verifier = oidc.randomPKCECodeVerifier();
    const challenge = await oidc.calculatePKCECodeChallenge(verifier);
    const browser = new FormBrowser(w.t.url);
    const login = await browser.go(authQuery(extra).replace('a'.repeat(43), challenge), { headers: { accept: 'application/json' } });
    const seen = [login.res.status];
    if (login.res.status < 400) {
      const uid = login.url.match(/\/interaction\/([^/?]+)/)![1]!;
      await browser.submit(login.body, /\/login$/, { username: 'alice', password: PushWorld.password });
      const page = await browser.go(`/interaction/${uid}/passcode`);
      const done = await browser.submit(page.body, /\/passcode$/, { passcode: phone.currentTotp() });
      seen.push(done.res.status);
      const code = new URL(done.url).searchParams.get('code');
      if (code) {
        const token = await send({ method: 'POST', path: '/token', headers: { ...form, authorization: basic }, body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: RP_CALLBACK, code_verifier: verifier }).toString() });
        seen.push(token.status);
        const accessToken = (JSON.parse(token.text) as { access_token?: string }).access_token;
        if (accessToken) seen.push((await send({ method: 'GET', path: '/me', headers: { authorization: `Bearer ${accessToken}` } })).status);
      }
    } else {
      expect(JSON.parse(login.body)).toMatchObject({ error: 'invalid_request' });
    }
    expect(seen.filter((status) => status >= 500)).toEqual([]);
    expect(errorsSince(from)).toEqual([]);
  });

  it('text that is merely unusual still signs in end to end: nonce, state and claims survive to the token and userinfo', async () => {
    const from = lines.length;
    const { phone } = await w.enrollPhone({ push: false, name: 'Passcode phone' });
    const verifier = oidc.randomPKCECodeVerifier();
    const nonce = 'n\u00e9-\u{1f511}-\u4e2d\t';
    const state = 'st\u00e4te \u{1f600}';
    const url = oidc.buildAuthorizationUrl(w.rp, {
      redirect_uri: RP_CALLBACK, scope: 'openid', nonce, state,
      claims: JSON.stringify({ userinfo: { preferred_username: { essential: true } } }),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const browser = new FormBrowser(w.t.url);
    const login = await browser.go(url.href);
    const uid = login.url.match(/\/interaction\/([^/?]+)/)![1]!;
    await browser.submit(login.body, /\/login$/, { username: 'alice', password: PushWorld.password });
    const page = await browser.go(`/interaction/${uid}/passcode`);
    const done = await browser.submit(page.body, /\/passcode$/, { passcode: phone.currentTotp() });
    expect(done.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
    const tokens = await oidc.authorizationCodeGrant(w.rp, new URL(done.url), { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
    expect(tokens.claims()!.nonce).toBe(nonce);
    const info = await oidc.fetchUserInfo(w.rp, tokens.access_token, tokens.claims()!.sub);
    expect(info.preferred_username).toBe('alice');
    expect(errorsSince(from)).toEqual([]);
  });

  it('clean forms still reach oidc-provider whole after the edge has read them (PAR, introspection)', async () => {
    const par = await send({ method: 'POST', path: '/request', headers: { ...form, authorization: basic }, body: authQuery('nonce=n%C3%A9%F0%9F%94%91&state=x').split('?')[1]! });
    expect(par.status).toBe(201);
    expect((JSON.parse(par.text) as { request_uri: string }).request_uri).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    const introspected = await send({ method: 'POST', path: '/token/introspection', headers: { ...form, authorization: basic }, body: 'token=unknown-token' });
    expect({ status: introspected.status, body: JSON.parse(introspected.text) as unknown }).toEqual({ status: 200, body: { active: false } });
  });

  it('a client hanging up in the middle of a token request body leaves no error in the log', async () => {
    const from = lines.length;
    const u = new URL(w.t.url);
    const socket = connect(Number(u.port), u.hostname);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(`POST /token HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ngrant_type=refresh_to`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(errorsSince(from)).toEqual([]);
  });

  it('still serves after all of it', async () => {
    expect((await send({ method: 'GET', path: '/healthz' })).status).toBe(200);
    expect((await send({ method: 'GET', path: '/.well-known/openid-configuration' })).status).toBe(200);
  });
});
