import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestIdp, type TestIdp } from '../support/idp.js';
import { raw } from '../support/raw-http.js';

/**
 * CONNECT never reaches Koa: Node gives it to the server's 'connect' listener or, without one,
 * drops the socket with no answer. The IdP's server (src/http/server.ts, as src/main.ts serves)
 * answers it 405 like any other method it does not serve.
 */
describe('CONNECT', () => {
  let t: TestIdp;
  beforeAll(async () => { t = await startTestIdp(); });
  afterAll(() => t.close());

  it('is answered 405 with an Allow header and an error body, and the server goes on serving', async () => {
    const answer = await raw(t.url, `CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 405 Method Not Allowed\r\n/);
    expect(answer).toMatch(/\r\nAllow: GET, HEAD, POST, PUT, DELETE, OPTIONS\r\n/);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({ error: 'method_not_allowed', error_description: 'CONNECT is not served here.' });
    const many = await Promise.all(Array.from({ length: 50 }, () => raw(t.url, `CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n`)));
    expect(many.every((a) => a.startsWith('HTTP/1.1 405 '))).toBe(true);
    expect((await fetch(`${t.url}/.well-known/openid-configuration`)).status).toBe(200);
  });
});

/** The status line and the JSON body of a raw answer. */
function parsed(answer: string): { status: number; body: unknown } {
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(answer)?.[1]);
  const at = answer.indexOf('\r\n\r\n');
  return { status, body: at < 0 ? null : JSON.parse(answer.slice(at + 4)) };
}

/**
 * What Node's HTTP parser refuses never reaches Koa: without a 'clientError' listener Node wrote a
 * bare 400 or 431 with no body, on /token and /me too (hostile-input red-team). And an absolute-form
 * target the legacy URL parser chokes on (`GET http://[::1/x`) was a plain-text 500 no log recorded.
 */
describe('requests the HTTP parser or the URL parser refuses', () => {
  let t: TestIdp;
  beforeAll(async () => { t = await startTestIdp(); });
  afterAll(() => t.close());

  const cases: Array<[string, string, number, string]> = [
    ['an unknown method', 'FOO /token HTTP/1.1\r\nHost: x\r\n\r\n', 405, 'method_not_allowed'],
    ['bad chunking', 'POST /token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\nzz\r\nabc\r\n0\r\n\r\n', 400, 'invalid_request'],
    ['both Content-Length and chunked', 'POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'invalid_request'],
    ['a space in a header name', 'GET /me HTTP/1.1\r\nHost: x\r\nX Y: 1\r\n\r\n', 400, 'invalid_request'],
    ['headers over 16 KiB', `GET /session/end?id_token_hint=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431, 'invalid_request'],
    ['an absolute target with a broken IPv6 host', 'GET http://[::1/x HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n', 400, 'invalid_request'],
    ['an absolute target with a broken host, at /token', 'POST https://[/token HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n', 400, 'invalid_request'],
    ['an absolute target with a zone id', 'GET http://[fe80::1%25en0]/jwks HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'invalid_request'],
  ];

  it.each(cases)('%s: a 4xx with an OAuth error body, and the server goes on serving', async (_name, request, status, error) => {
    const { status: got, body } = parsed(await raw(t.url, request));
    expect(got).toBe(status);
    expect(body).toEqual({ error, error_description: expect.any(String) });
    expect((await fetch(`${t.url}/.well-known/openid-configuration`)).status).toBe(200);
  });

  it('50 broken targets at once get 50 answers of 400, none a 500', async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => raw(t.url, `GET http://[::1/x${i} HTTP/1.1\r\nHost: x\r\n\r\n`)));
    expect(answers.map((a) => parsed(a).status)).toEqual(Array(50).fill(400));
  });

  it('an absolute target that parses is served as its path', async () => {
    const { status, body } = parsed(await raw(t.url, 'GET http://elsewhere.example:81/.well-known/openid-configuration HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    expect(status).toBe(200);
    expect((body as { issuer: string }).issuer).toBe(t.url);
  });
});


/**
 * A body sent in chunks that grows past oidc-provider's 56 KiB cap (hostile-input red-team: the
 * edge destroyed the request stream, which closed the socket, so the client got an empty reply
 * while the access log said 413). Now the answer is a 413 OAuth error with `Connection: close`,
 * whether the client waits after the chunk or finishes its body.
 */
describe('a chunked body past the limit', () => {
  let t: TestIdp;
  beforeAll(async () => { t = await startTestIdp(); });
  afterAll(() => t.close());

  const big = 'a'.repeat(60 * 1024);
  const head = (path: string) => `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n`;
  const chunk = (body: string) => `${body.length.toString(16)}\r\n${body}\r\n`;

  it.each(['/token', '/token/introspection', '/token/revocation', '/request', '/auth', '/session/end', '/me'])(
    'POST %s: one 60 KiB chunk and then silence, or the whole body, or a thousand small chunks: 413 invalid_request, and the connection closes',
    async (path) => {
      const shapes = [
        head(path) + chunk(big),
        head(path) + chunk(big) + '0\r\n\r\n',
        head(path) + Array.from({ length: 1000 }, () => chunk('a'.repeat(64))).join(''),
      ];
      for (const request of shapes) {
        const answer = await raw(t.url, request);
        const { status, body } = parsed(answer);
        expect(status).toBe(413);
        expect(body).toEqual({ error: 'invalid_request', error_description: 'The body is too large.' });
        expect(answer).toMatch(/\r\nConnection: close\r\n/i);
      }
      expect((await fetch(`${t.url}/.well-known/openid-configuration`)).status).toBe(200);
    },
  );

  it('fifty at once, each one chunk past the limit: fifty 413s, and the server goes on serving', async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, () => raw(t.url, head('/token') + chunk(big))));
    expect(answers.map((a) => parsed(a).status)).toEqual(Array(50).fill(413));
    expect((await fetch(`${t.url}/.well-known/openid-configuration`)).status).toBe(200);
  });
});

/**
 * A body that never finishes arriving (hostile-input red-team): Node's defaults held such a request
 * for 300 s. The IdP's server bounds how long a request may take to arrive (REQUEST_TIMEOUTS, 30 s;
 * here shortened) and answers a JSON 408; an answer that takes long (a held long-poll) is not a
 * request that takes long, and is not cut.
 */
describe('a request whose body never finishes arriving', () => {
  let t: TestIdp;
  let quick: import('node:http').Server;
  let url: string;
  beforeAll(async () => {
    t = await startTestIdp();
    const { createIdpServer } = await import('../../src/http/server.js');
    quick = createIdpServer(t.idp.callback(), { requestMs: 1500, headersMs: 1000, checkEveryMs: 250 });
    await new Promise<void>((resolve) => quick.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(quick.address() as import('node:net').AddressInfo).port}`;
  });
  afterAll(async () => {
    quick.closeAllConnections();
    await new Promise((resolve) => quick.close(resolve));
    await t.close();
  });

  it('is answered 408 in the OAuth error format once the time is up, and the server goes on serving', async () => {
    const began = Date.now();
    const answer = await raw(url, 'POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=');
    expect(parsed(answer)).toEqual({ status: 408, body: { error: 'invalid_request', error_description: 'The request took too long to arrive.' } });
    expect(Date.now() - began).toBeLessThan(10_000);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('the IdP as served by npm start bounds it at 30 s for the whole request, 20 s for its headers', async () => {
    const { REQUEST_TIMEOUTS } = await import('../../src/http/server.js');
    expect(t.server.requestTimeout).toBe(REQUEST_TIMEOUTS.requestMs);
    expect(t.server.headersTimeout).toBe(REQUEST_TIMEOUTS.headersMs);
    expect(REQUEST_TIMEOUTS.requestMs).toBeLessThanOrEqual(30_000);
  });
});

/**
 * Hostile-input red-team: an HTTP/1.1 request without Host got Node's own bare 400 (no body, no
 * Content-Type), the OAuth endpoints too; it is now answered as every other refusal.
 */
describe('an HTTP/1.1 request without a Host header', () => {
  let t: TestIdp;
  beforeAll(async () => { t = await startTestIdp(); });
  afterAll(() => t.close());

  it.each([['POST', '/token'], ['GET', '/me'], ['POST', '/token/introspection'], ['GET', '/.well-known/openid-configuration'], ['POST', '/api/device/enroll']])(
    '%s %s is a JSON 400 invalid_request; with a Host, or in HTTP/1.0, the app answers', async (method, path) => {
      const body = method === 'POST' ? 'a=1' : '';
      const headers = (body ? `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n` : '') + 'Connection: close\r\n';
      const answer = await raw(t.url, `${method} ${path} HTTP/1.1\r\n${headers}\r\n${body}`);
      expect(answer).toMatch(/\r\nContent-Type: application\/json/i);
      expect(parsed(answer)).toEqual({ status: 400, body: { error: 'invalid_request', error_description: 'An HTTP/1.1 request must carry a Host header.' } });
      for (const request of [`${method} ${path} HTTP/1.1\r\nHost: x\r\n${headers}\r\n${body}`, `${method} ${path} HTTP/1.0\r\n${headers}\r\n${body}`]) {
        expect(parsed(await raw(t.url, request)).body).not.toEqual(expect.objectContaining({ error_description: 'An HTTP/1.1 request must carry a Host header.' }));
      }
    });
});

/** Writes `head` and then one byte a second; what came back and when the IdP closed the connection. */
function trickle(url: string, head: string, limitMs: number): Promise<{ statuses: string[]; closedAfterMs: number }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const t0 = Date.now();
    let got = '';
    const s = connect(Number(port), hostname, () => s.write(head));
    const drip = setInterval(() => { if (!s.destroyed) s.write('a'); }, 1000);
    const stop = setTimeout(() => s.destroy(), limitMs);
    s.on('data', (d: Buffer) => { got += d.toString('latin1'); });
    s.on('error', () => {});
    s.on('close', () => {
      clearInterval(drip);
      clearTimeout(stop);
      resolve({ statuses: [...got.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]!), closedAfterMs: Date.now() - t0 });
    });
  });
}

/**
 * Hostile-input red-team: a request answered before its body was read (a form over its limit, a
 * wrong Content-Type, a method a path does not serve) kept its connection open while the client
 * trickled the body, and at the request timeout (30 s) the IdP wrote a second, unasked-for 408 on it.
 * Such an answer now ends the connection, as /token's 413 always did.
 */
describe('an answer given before the body was read', () => {
  let t: TestIdp;
  beforeAll(async () => { t = await startTestIdp(); });
  afterAll(() => t.close());

  it('is the only answer on its connection, which closes right after it', async () => {
    const head = (method: string, path: string, type: string) => `${method} ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: ${type}\r\nContent-Length: 100000\r\n\r\n`;
    const form = 'application/x-www-form-urlencoded';
    const results = await Promise.all([
      trickle(t.url, head('POST', '/account/logout', form), 40_000),
      trickle(t.url, head('POST', '/interaction/abcdefghijkl/login', form), 40_000),
      trickle(t.url, head('POST', '/account/logout', 'text/plain'), 40_000),
      trickle(t.url, head('POST', '/healthz', form), 40_000),
      trickle(t.url, head('POST', '/token', form), 40_000),
    ]);
    expect(results.map((r) => r.statuses)).toEqual([['413'], ['413'], ['415'], ['405'], ['413']]);
    for (const r of results) expect(r.closedAfterMs).toBeLessThan(5_000);
  }, 60_000);
});
