import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { gzipSync } from 'node:zlib';
import { AGENT_ENV, AGENTS, VPN } from '../agent-api/helpers.js';
import { CIBA_SECRET, cibaClient } from '../ciba/world.js';
import { PushWorld } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';

/**
 * The hostile-input matrix: every endpoint of ours crossed with the ways a body, a method or an
 * encoding can be wrong (several hundred requests). Each must get a 4xx (JSON with `error` where the
 * endpoint speaks JSON), change nothing in PostgreSQL or Redis, and leave the process serving.
 */
type Body = string | Buffer | undefined;
interface Mutation { /** Adds junk to a valid body (so it only makes sense where a field is checked). */ junk?: boolean; name: string; method?: string; contentType?: string; body: (valid: Record<string, unknown>) => Body; headers?: Record<string, string> }
interface Endpoint { /** Needs no field but the CSRF token: junk beside a valid token is a valid request. */ csrfOnly?: boolean; /** Sent with every case (a gateway's or a client's credentials), under the mutation's own. */ headers?: Record<string, string>; name: string; method: string; path: (c: Ctx) => string; kind: 'form' | 'json' | 'oauth'; valid: (c: Ctx) => Record<string, unknown>; session?: boolean; methods: string[] }
interface Ctx { uid: string; csrf: string; accountCsrf: string }

const CIBA_BASIC = 'Basic ' + Buffer.from(`ciba-poll:${CIBA_SECRET}`).toString('base64');
const enc = (o: Record<string, unknown>) => new URLSearchParams(Object.entries(o).map(([k, v]) => [k, String(v)])).toString();
const huge = 'x'.repeat(300_000);
const deep = '['.repeat(20_000) + ']'.repeat(20_000);

/** A body labelled compressed that is not (a failed inflate was a 500), and one that really is: nothing of ours compresses a request. */
function encodingMutations(plain: (v: Record<string, unknown>) => string): Mutation[] {
  return [
    { name: 'gzip-labelled plain body', headers: { 'content-encoding': 'gzip' }, body: plain },
    { name: 'br-labelled plain body', headers: { 'content-encoding': 'br' }, body: plain },
    { name: 'really gzip-compressed body', headers: { 'content-encoding': 'gzip' }, body: (v) => gzipSync(plain(v)) },
  ];
}

const formMutations: Mutation[] = [
  { name: 'empty body', body: () => '' },
  { name: 'JSON body', contentType: 'application/json', body: (v) => JSON.stringify(v) },
  { name: 'text/plain body', contentType: 'text/plain', body: (v) => enc(v) },
  { name: 'multipart body', contentType: 'multipart/form-data; boundary=x', body: () => '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--' },
  { name: 'no content-type', contentType: '', body: (v) => enc(v) },
  { name: 'oversized body', body: (v) => enc({ ...v, pad: huge }) },
  { junk: true, name: 'broken percent-encoding', body: (v) => enc(v) + '&bad=%E0%A4%A&x=%' },
  { junk: true, name: 'invalid UTF-8 bytes', body: (v) => Buffer.concat([Buffer.from(enc(v) + '&username='), Buffer.from([0xff, 0xfe, 0xc0, 0x80])]) },
  { junk: true, name: 'NUL bytes in fields', body: (v) => enc({ ...v, username: 'ali\u0000ce', password: '\u0000', passcode: '12\u00003456', name: '\u0000' }) },
  { junk: true, name: 'duplicated fields (arrays)', body: (v) => enc(v) + '&username=a&username=b&passcode=1&passcode=2&name=a&name=b' },
  { name: 'very long fields', body: (v) => enc({ ...v, username: 'u'.repeat(5000), password: 'p'.repeat(5000), passcode: '9'.repeat(5000), name: 'n'.repeat(5000) }) },
  { name: 'missing CSRF token', body: (v) => enc({ ...v, csrf: undefined }).replace(/(^|&)csrf=undefined/, '') },
  { name: 'forged CSRF token', body: (v) => enc({ ...v, csrf: 'forged' }) },
  { name: 'CSRF token of the wrong kind', body: (v) => enc({ ...v, csrf: 'A'.repeat(43) }) },
  { junk: true, name: 'nested bracket fields', body: (v) => enc(v) + '&username[a]=1&password[]=2' },
  ...encodingMutations((v) => enc(v)),
];
const jsonMutations: Mutation[] = [
  { name: 'not JSON', body: () => 'hello' },
  { name: 'truncated JSON', body: (v) => JSON.stringify(v).slice(0, -3) },
  { name: 'JSON array', body: (v) => JSON.stringify([v]) },
  { name: 'JSON null', body: () => 'null' },
  { name: 'JSON number', body: () => '42' },
  { name: 'JSON string', body: () => '"x"' },
  { name: 'deeply nested JSON', body: () => deep },
  { name: 'oversized JSON', body: (v) => JSON.stringify({ ...v, pad: huge }) },
  { name: 'form body', contentType: 'application/x-www-form-urlencoded', body: (v) => enc(v) },
  { name: 'text/plain body', contentType: 'text/plain', body: (v) => JSON.stringify(v) },
  { name: 'no content-type', contentType: '', body: (v) => JSON.stringify(v) },
  { name: 'invalid UTF-8 bytes', body: () => Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]) },
  { name: 'UTF-8 BOM then JSON', body: (v) => '\ufeff' + JSON.stringify(v) },
  { name: 'every field a number', body: (v) => JSON.stringify(Object.fromEntries(Object.keys(v).map((k) => [k, 1]))) },
  { name: 'every field an object', body: (v) => JSON.stringify(Object.fromEntries(Object.keys(v).map((k) => [k, { $gt: '' }]))) },
  { name: 'every field null', body: (v) => JSON.stringify(Object.fromEntries(Object.keys(v).map((k) => [k, null]))) },
  { name: 'missing fields', body: () => '{}' },
  { name: 'extra fields only', body: () => JSON.stringify({ admin: true, __proto__: { polluted: 1 }, constructor: { prototype: { polluted: 1 } } }) },
  { name: 'prototype pollution', body: (v) => `{"__proto__":{"polluted":true},${JSON.stringify(v).slice(1)}` },
  { name: 'duplicate keys', body: (v) => `{"code":"a","code":"b",${JSON.stringify(v).slice(1)}` },
  { name: 'NUL bytes in strings', body: (v) => JSON.stringify(Object.fromEntries(Object.keys(v).map((k) => [k, '\u0000']))) },
  { name: 'very long strings', body: (v) => JSON.stringify(Object.fromEntries(Object.keys(v).map((k) => [k, 'z'.repeat(10_000)]))) },
  ...encodingMutations((v) => JSON.stringify(v)),
];
const oauthMutations: Mutation[] = [
  { name: 'empty body', body: () => '' },
  { name: 'JSON body', contentType: 'application/json', body: (v) => JSON.stringify(v) },
  { name: 'oversized body', body: (v) => enc({ ...v, pad: huge }) },
  { name: 'broken percent-encoding', body: (v) => enc(v) + '&x=%zz' },
  { name: 'duplicated parameters', body: (v) => enc(v) + '&grant_type=refresh_token&grant_type=authorization_code&token=a&token=b' },
  { name: 'unknown grant type', body: (v) => enc({ ...v, grant_type: 'urn:evil' }) },
  { name: 'forged tokens', body: (v) => enc({ ...v, token: 'forged', refresh_token: 'forged', code: 'forged' }) },
  { name: 'NUL bytes', body: (v) => enc({ ...v, token: '\u0000', client_id: '\u0000' }) },
  { name: 'wrong client secret', headers: { authorization: 'Basic ' + Buffer.from('test-rp:wrong').toString('base64') }, body: (v) => enc(v) },
  { name: 'malformed Basic auth', headers: { authorization: 'Basic %%%' }, body: (v) => enc(v) },
  { name: 'Bearer instead of Basic', headers: { authorization: 'Bearer x' }, body: (v) => enc(v) },
  { name: 'no client', body: (v) => enc({ ...v, client_id: '' }) },
  // With the client authenticated, the NUL reached oidc-provider's lookup in PostgreSQL (a 500).
  { name: 'NUL in the token of an authenticated client', headers: { authorization: 'Basic ' + Buffer.from('test-rp:test-rp-secret-0123456789abcdef0123456789').toString('base64') }, body: ({ client_id: _id, ...v }) => enc({ ...v, token: '\u0000', refresh_token: 'a\u0000' }) },
  ...encodingMutations((v) => enc(v)),
];
// WebDAV and other methods nothing of ours serves answered 500 (fetch cannot send TRACE; test/security/hostile-requests.test.ts does).
const methodMutations = (methods: string[]): Mutation[] =>
  ['GET', 'PUT', 'PATCH', 'DELETE', 'PROPFIND', 'MKCOL', 'LOCK'].filter((m) => !methods.includes(m)).map((m) => ({ name: `method ${m}`, method: m, body: () => undefined }));

const endpoints: Endpoint[] = [
  { name: 'login', method: 'POST', kind: 'form', session: true, path: (c) => `/interaction/${c.uid}/login`, valid: (c) => ({ csrf: c.csrf, username: 'alice', password: 'x' }), methods: ['POST'] },
  { name: 'consent', method: 'POST', kind: 'form', session: true, path: (c) => `/interaction/${c.uid}/confirm`, valid: (c) => ({ csrf: c.csrf }), methods: ['POST'] },
  { name: 'send push', method: 'POST', kind: 'form', session: true, path: (c) => `/interaction/${c.uid}/push`, valid: (c) => ({ csrf: c.csrf }), methods: ['POST'] },
  { name: 'passcode', method: 'POST', kind: 'form', session: true, path: (c) => `/interaction/${c.uid}/passcode`, valid: (c) => ({ csrf: c.csrf, passcode: '123456' }), methods: ['GET', 'POST'] },
  { csrfOnly: true, name: 'abort', method: 'POST', kind: 'form', session: true, path: (c) => `/interaction/${c.uid}/abort`, valid: (c) => ({ csrf: c.csrf }), methods: ['POST'] },
  { csrfOnly: true, name: 'self-service enroll', method: 'POST', kind: 'form', session: true, path: () => '/account/enroll', valid: (c) => ({ csrf: c.accountCsrf }), methods: ['POST'] },
  { name: 'self-service rename', method: 'POST', kind: 'form', session: true, path: () => '/account/devices/dev_nope/rename', valid: (c) => ({ csrf: c.accountCsrf, name: 'x' }), methods: ['POST'] },
  { name: 'self-service revoke', method: 'POST', kind: 'form', session: true, path: () => '/account/devices/dev_nope/revoke', valid: (c) => ({ csrf: c.accountCsrf }), methods: ['POST'] },
  { name: 'device enroll', method: 'POST', kind: 'json', path: () => '/api/device/enroll', valid: () => ({ code: 'AAAA-BBBB-CCCC-DDDD', name: 'x', publicJwk: { kty: 'EC', crv: 'P-256', x: 'a', y: 'b' }, push: null }), methods: ['POST'] },
  { name: 'device WebAuthn options', method: 'POST', kind: 'json', path: () => '/api/device/enroll/webauthn-options', valid: () => ({ code: 'AAAA-BBBB-CCCC-DDDD' }), methods: ['POST'] },
  { name: 'device response', method: 'POST', kind: 'json', path: () => '/api/device/challenges/abc/response', valid: () => ({ response: 'a.b.c' }), methods: ['POST'] },
  { name: 'device push update', method: 'PUT', kind: 'json', path: () => '/api/device/push-subscription', valid: () => ({ push: null }), methods: ['PUT'] },
  { name: 'token', method: 'POST', kind: 'oauth', path: () => '/token', valid: () => ({ grant_type: 'refresh_token', refresh_token: 'x', client_id: 'test-rp' }), methods: ['POST'] },
  { name: 'introspection', method: 'POST', kind: 'oauth', path: () => '/token/introspection', valid: () => ({ token: 'x', client_id: 'test-rp' }), methods: ['POST'] },
  { name: 'revocation', method: 'POST', kind: 'oauth', path: () => '/token/revocation', valid: () => ({ token: 'x', client_id: 'test-rp' }), methods: ['POST'] },
  // The front doors without a browser (docs/agent-api.md, docs/ciba.md), with their callers' credentials.
  { name: 'agent authenticate', method: 'POST', kind: 'json', headers: { authorization: VPN }, path: () => '/api/agent/authenticate', valid: () => ({ username: 'alice', password: 'x', passcode: '' }), methods: ['POST'] },
  { name: 'agent transaction', method: 'GET', kind: 'json', headers: { authorization: VPN }, path: () => '/api/agent/transactions/abc', valid: () => ({}), methods: ['GET', 'DELETE'] },
  // Its base request names no user of ours (unknown_user_id), so that parameters it may ignore (a
  // stray grant_type, token or malformed extra) cannot turn a case into a push; every case must be 4xx.
  { name: 'CIBA backchannel', method: 'POST', kind: 'oauth', headers: { authorization: CIBA_BASIC }, path: () => '/backchannel', valid: () => ({ scope: 'openid', login_hint: 'nobody-here', binding_message: 'W1' }), methods: ['POST'] },
];

const cases = endpoints.flatMap((e) => {
  const ms = e.kind === 'form' ? formMutations : e.kind === 'json' ? jsonMutations : oauthMutations;
  return [...ms.filter((m) => !(m.junk && e.csrfOnly)), ...methodMutations(e.methods)].map((m) => ({ label: `${e.name}: ${m.name}`, e, m }));
});

describe('hostile-input matrix', () => {
  let w: PushWorld;
  let ctx: Ctx;
  let browser: FormBrowser;
  const snapshot = async () => {
    const [counts] = await w.t.idp.db.query<Record<string, string>>(`SELECT
      (SELECT count(*) FROM accounts) AS accounts, (SELECT count(*) FROM devices) AS devices,
      (SELECT count(*) FROM enrollment_codes) AS codes, (SELECT count(*) FROM oidc_payloads) AS oidc,
      (SELECT string_agg(name || status, ',') FROM devices) AS names`);
    const prefix = w.t.idp.redis.options.keyPrefix ?? '';
    // Transient keys that lapse on their own are left out: a sign-in's interaction, counters, and the
    // 15-s record of a finished sign-in's answer (src/oidc/resume-once.ts), which may expire mid-run.
    const keys = (await w.t.idp.redis.keys(`${prefix}*`)).filter((k) => !k.includes(':oidc:Interaction:') && !k.includes('rl:') && !k.includes(':thr:') && !k.includes(':resume:')).sort();
    return { counts, keys };
  };

  beforeAll(async () => {
    w = await PushWorld.start({ clients: [cibaClient('ciba-poll', 'poll')], idp: { storage: 'postgres', agents: AGENTS, env: { ...AGENT_ENV, CIBA_SECRET } } });
    // A browser signed in to /account (password only: no phone yet) lends its session cookie to
    // one whose sign-in is left at its login page.
    const other = new FormBrowser(w.t.url);
    const acct = await other.go('/account');
    const page = await other.submit(acct.body, /\/login$/, { username: 'alice', password: PushWorld.password });
    const accountCsrf = page.body.match(/name="csrf" value="([^"]+)"/)![1]!;
    await w.enrollPhone({ push: false });
    browser = new FormBrowser(w.t.url);
    browser.adoptCookies(other, 'account_session');
    const started = await w.startSignIn({ password: 'not the password' }, browser);
    ctx = { uid: started.uid, csrf: started.next.body.match(/name="csrf" value="([^"]+)"/)![1]!, accountCsrf };
  });
  afterAll(() => w.close());

  it('has several hundred cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(250);
  });

  it.each(cases.map((c) => [c.label, c] as const))('%s', async (_label, { e, m }) => {
    const before = await snapshot();
    const method = m.method ?? e.method;
    const contentType = m.contentType ?? (e.kind === 'json' ? 'application/json' : 'application/x-www-form-urlencoded');
    const body = method === 'GET' || method === 'HEAD' ? undefined : m.body(e.valid(ctx));
    const headers: Record<string, string> = { accept: e.kind === 'form' ? 'text/html' : 'application/json', ...(contentType ? { 'content-type': contentType } : {}), ...e.headers, ...m.headers };
    const init: RequestInit = { method, headers, ...(body !== undefined ? { body: body as BodyInit } : {}) };
    const res = e.session ? await browser.request(e.path(ctx), init) : await fetch(new URL(e.path(ctx), w.t.url), { ...init, redirect: 'manual' });
    const text = await res.text();
    expect({ status: res.status >= 400 && res.status < 500 ? '4xx' : res.status, text: text.slice(0, 200) }).toEqual({ status: '4xx', text: expect.any(String) });
    if (e.kind !== 'form') expect(typeof (JSON.parse(text) as { error?: unknown }).error).toBe('string');
    expect(await snapshot()).toEqual(before);
  });

  it('still serves after all of it', async () => {
    expect((await fetch(`${w.t.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${w.t.url}/.well-known/openid-configuration`)).status).toBe(200);
  });
});
