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
