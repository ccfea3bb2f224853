import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestIdp, type TestIdp } from '../support/idp.js';

/** Sends raw bytes and reads until the server closes the connection (or 5 s pass). */
function raw(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(request));
    let got = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => { got += d; });
    socket.on('close', () => resolve(got));
    socket.on('error', reject);
    socket.setTimeout(5000, () => { socket.destroy(); resolve(got); });
  });
}

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

