import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { startTestIdp, testRp, TEST_RP_SECRET, type TestIdp } from '../support/idp.js';

/**
 * Hostile input, round 4 (red-team): each of these was a 500, or an HTML page where a relying app
 * reads JSON. Now a 4xx in the OAuth format, and the IdP keeps serving.
 */
describe('hostile input round 4', () => {
  let t: TestIdp;
  beforeAll(async () => {
    t = await startTestIdp({ clients: [testRp({ login: { consent: 'implicit' } })] });
  });
  afterAll(() => t.close());

  const basic = `Basic ${Buffer.from(`test-rp:${TEST_RP_SECRET}`).toString('base64')}`;
  const json = async (res: Response) => ({ status: res.status, type: res.headers.get('content-type') ?? '', body: await res.json().catch(() => null) as { error?: string } | null });

  it('JSON nested 5,000 deep in any parameter is a 400 (it overflowed the check\'s stack: a 500 on every path)', async () => {
    const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    const health = await json(await fetch(`${t.url}/healthz?x=${deep(5000)}`));
    expect(health).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    const token = await json(await fetch(`${t.url}/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
      body: `grant_type=refresh_token&refresh_token=x&claims=${encodeURIComponent(deep(8000))}`, // 48 KB: under the form limit
    }));
    expect(token).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    const objects = await json(await fetch(`${t.url}/healthz?x=${encodeURIComponent('{"a":'.repeat(100) + '1' + '}'.repeat(100))}`));
    expect(objects.status).toBe(400);
    // What protocols send still passes: the claims parameter is a few levels deep.
    expect((await fetch(`${t.url}/healthz?x=${encodeURIComponent(JSON.stringify({ id_token: { acr: { essential: true, values: ['a'] } } }))}`)).status).toBe(200);
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  });

  it('a DPoP proof with an empty nonce is invalid_dpop_proof, not a 500', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = await exportJWK(publicKey);
    const proof = (nonce: string) => new SignJWT({ htm: 'POST', htu: `${t.url}/token`, jti: crypto.randomUUID(), iat: Math.floor(Date.now() / 1000), nonce })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).sign(privateKey);
    for (const nonce of ['', 'abc']) {
      const res = await json(await fetch(`${t.url}/token`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic, dpop: await proof(nonce) },
        body: 'grant_type=refresh_token&refresh_token=not-a-token',
      }));
      expect({ nonce, status: res.status, error: res.body?.error }).toEqual({ nonce, status: 400, error: 'invalid_dpop_proof' });
    }
  });

  it('a Device credential that is not token68 reaches the device API\'s own 401 invalid_token with WWW-Authenticate (docs/device-api.md 2)', async () => {
    for (const credential of ['"eyJh.eyJi.c2ln"', '{"protected":"eyJh","payload":"eyJi","signature":"c2ln"}']) {
      const res = await fetch(`${t.url}/api/device/challenges`, { headers: { authorization: `Device ${credential}`, accept: 'application/json' } });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: 'invalid_token' });
      expect(res.headers.get('www-authenticate')).toMatch(/^Device/);
    }
  });

  it('endpoints no browser is sent to answer errors in JSON even to Accept: text/html; the authorization endpoint shows its page', async () => {
    const asBrowser = { accept: 'text/html,application/xhtml+xml' };
    const token = await json(await fetch(`${t.url}/token`, {
      method: 'POST', headers: { ...asBrowser, 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
      body: 'grant_type=refresh_token&refresh_token=not-a-token',
    }));
    expect(token).toMatchObject({ status: 400, type: expect.stringMatching(/^application\/json/), body: { error: 'invalid_grant' } });
    const me = await fetch(`${t.url}/me`, { headers: { ...asBrowser, authorization: 'Bearer not-a-token' } });
    expect(me.status).toBe(401);
    expect(me.headers.get('content-type')).toMatch(/^application\/json/);
    const intro = await json(await fetch(`${t.url}/token/introspection`, { method: 'POST', headers: { ...asBrowser, 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=x' }));
    expect(intro).toMatchObject({ status: 400, type: expect.stringMatching(/^application\/json/), body: { error: 'invalid_request' } });
    const auth = await fetch(`${t.url}/auth?client_id=nobody&response_type=code&scope=openid`, { headers: asBrowser, redirect: 'manual' });
    expect(auth.status).toBe(400);
    expect(auth.headers.get('content-type')).toMatch(/^text\/html/);
  });

  // Hostile-input red-team: these answered a bare text/plain "Method Not Allowed".
  it('a method the static files, the PWA, /healthz and /readyz do not take: 405 method_not_allowed in JSON, with Allow', async () => {
    for (const [method, path] of [['POST', '/static/idp.css'], ['DELETE', '/pwa/sw.js'], ['POST', '/healthz'], ['PUT', '/readyz'], ['POST', '/pwa/']]) {
      const res = await fetch(`${t.url}${path}`, { method });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, HEAD');
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.json()).toEqual({ error: 'method_not_allowed', error_description: `${method} is not served here.` });
    }
  });

  // Hostile-input red-team: POST on discovery or the key set was oidc-provider's 404 not_found.
  it('a method discovery and the key set do not take: 405 with Allow: GET, HEAD, OPTIONS; GET and a CORS preflight still served', async () => {
    for (const path of ['/.well-known/openid-configuration', '/jwks']) {
      for (const method of ['POST', 'PUT', 'DELETE']) {
        const res = await fetch(`${t.url}${path}`, { method, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: method === 'DELETE' ? null : 'a=b' });
        expect(res.status).toBe(405);
        expect(res.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
        expect(await res.json()).toEqual({ error: 'method_not_allowed', error_description: `${method} is not served here.` });
      }
      expect((await fetch(`${t.url}${path}`)).status).toBe(200);
      const preflight = await fetch(`${t.url}${path}`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' } });
      expect(preflight.status).toBeLessThan(300);
      expect(preflight.headers.get('access-control-allow-origin')).toBeTruthy();
    }
  });

  // Red-team (hostile-input run, 2026-12-06): a wrong method on oidc-provider's other endpoints was
  // its 404 not_found, as if the endpoint did not exist; a plain OPTIONS there was a 404 though the
  // 405 lists it; an unknown Expect was Node's bare 417 with no body.
  it.each([
    ['GET', '/token', 'POST, OPTIONS'], ['PUT', '/token', 'POST, OPTIONS'], ['GET', '/token/introspection', 'POST, OPTIONS'],
    ['GET', '/token/revocation', 'POST, OPTIONS'], ['GET', '/request', 'POST, OPTIONS'], ['GET', '/backchannel', 'POST, OPTIONS'],
    ['DELETE', '/me', 'GET, HEAD, POST, OPTIONS'], ['PUT', '/auth', 'GET, HEAD, POST, OPTIONS'], ['DELETE', '/auth/some-uid', 'GET, HEAD, OPTIONS'],
    ['GET', '/session/end/confirm', 'POST, OPTIONS'], ['POST', '/session/end/success', 'GET, HEAD, OPTIONS'], ['PUT', '/session/end', 'GET, HEAD, POST, OPTIONS'],
  ])('%s %s: 405 with the endpoint\'s Allow, in JSON', async (method, path, allow) => {
    const res = await fetch(`${t.url}${path}`, { method, headers: { authorization: basic } });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe(allow);
    expect(await json(res)).toMatchObject({ type: expect.stringMatching(/^application\/json/), body: { error: 'method_not_allowed' } });
  });

  it('an OPTIONS that is no CORS preflight is answered 204 with the endpoint\'s Allow; a preflight is still oidc-provider\'s', async () => {
    for (const [path, allow] of [['/jwks', 'GET, HEAD, OPTIONS'], ['/.well-known/openid-configuration', 'GET, HEAD, OPTIONS'], ['/token', 'POST, OPTIONS'], ['/auth', 'GET, HEAD, POST, OPTIONS']] as const) {
      for (const headers of [{}, { origin: 'https://app.example' }] as Record<string, string>[]) {
        const res = await fetch(`${t.url}${path}`, { method: 'OPTIONS', headers });
        expect({ path, status: res.status, allow: res.headers.get('allow') }).toEqual({ path, status: 204, allow });
      }
    }
    const preflight = await fetch(`${t.url}/token`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBeLessThan(300);
    expect(preflight.headers.get('access-control-allow-methods')).toMatch(/POST/);
  });

  it.each(['/token', '/healthz', '/api/device/enroll', '/account'])('an Expect other than 100-continue on %s: 417 with a JSON error, and the IdP keeps serving', async (path) => {
    const { request } = await import('node:http');
    const answer = await new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
      const req = request(`${t.url}${path}`, { method: 'POST', headers: { expect: 'x-something', 'content-type': 'application/x-www-form-urlencoded', 'content-length': '3' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => { body += c; });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
      });
      req.on('error', reject);
      req.end('a=b');
    });
    expect(answer.status).toBe(417);
    expect(answer.type).toMatch(/^application\/json/);
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'invalid_request' });
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  });
});
