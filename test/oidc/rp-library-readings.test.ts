import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { freePort, startTestIdp, testRp, TEST_RP_SECRET, type TestIdp } from '../support/idp.js';
import { IDP_MAIN } from '../support/entry.js';
import { seedPglite } from '../support/pglite-template.js';

/**
 * Red-team (relying-party libraries, round 2, 2026-12-05), each fixed:
 * - private_key_jwt (advertised) failed for every app whose jwks_uri is on this host or a private
 *   network: oidc-provider's fetch refuses special-use addresses, so each assertion was invalid_client
 *   and the app's keys were never fetched. Only a spawned IdP shows it: inside jest's VM that guard
 *   cannot find undici's dispatcher and is off, so the in-process IdP fetched them.
 * - revocation answered its empty 200 as text/plain, which oidc-client-ts refuses (its
 *   signoutRedirect with revokeTokensOnSignout then never reached end_session);
 * - a response type the client is not registered for was invalid_request at /auth, where RFC 6749
 *   4.1.2.1 says unauthorized_client.
 */
const CB = 'http://127.0.0.1:1/cb';

describe('what relying-party libraries read', () => {
  let jwksServer: Server;
  let jwksHits = 0;
  let jwksUrl = '';
  let privateKey: CryptoKey;
  let child: ChildProcess | undefined;
  let childUrl = '';
  let t: TestIdp;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'idp-rplibs-'));
  const output: string[] = [];

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    privateKey = pair.privateKey as CryptoKey;
    const pub = { ...(await exportJWK(pair.publicKey)), kid: 'rp-key-1', alg: 'ES256', use: 'sig' };
    jwksServer = createServer((_req, res) => { jwksHits++; res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ keys: [pub] })); });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`;
    mkdirSync(path.join(dir, 'config', 'clients'), { recursive: true });
    writeFileSync(path.join(dir, 'config', 'clients', 'pkj-rp.json'), JSON.stringify({
      // Written without a path, as operators do: oidc-provider fetches "<origin>/" (red-team: the form the
      // operator wrote missed the allowance and failed as before).
      client_id: 'pkj-rp', token_endpoint_auth_method: 'private_key_jwt', jwks_uri: jwksUrl.replace(/\/jwks$/, ''), redirect_uris: [CB], login: { consent: 'implicit' },
    }));
    // The IdP as an operator runs it: its own process, so oidc-provider's fetch guard is on. Its
    // embedded database starts from the initialised copy (the first start's initdb is not under test).
    await seedPglite(path.join(dir, 'data', 'pg'));
    const port = await freePort();
    childUrl = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, [IDP_MAIN], {
      env: { ...process.env, NODE_OPTIONS: '', PORT: String(port), HOST: '127.0.0.1', ISSUER: childUrl, DATA_DIR: path.join(dir, 'data'), CONFIG_DIR: path.join(dir, 'config'), DEMO: 'false', LOG_LEVEL: 'warn', DATABASE_URL: '', REDIS_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => output.push(String(d)));
    child.stderr!.on('data', (d) => output.push(String(d)));
    for (let i = 0; i < 240; i++) {
      if (child.exitCode !== null) throw new Error(`the IdP exited: ${output.join('')}`);
      try { if ((await fetch(`${childUrl}/healthz`)).ok) break; } catch { /* starting */ }
      await new Promise((r) => setTimeout(r, 250));
    }
    t = await startTestIdp({ clients: [testRp({ login: { consent: 'implicit' } })] });
  }, 150_000);
  afterAll(async () => {
    if (child && child.exitCode === null) { const exited = new Promise((r) => child!.once('exit', r)); child.kill('SIGTERM'); await exited; }
    await t?.close();
    await new Promise((resolve) => jwksServer?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('private_key_jwt with the app\'s keys at a loopback address: the IdP fetches them and takes the assertion', async () => {
    const assertion = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'rp-key-1' })
      .setIssuer('pkj-rp').setSubject('pkj-rp').setAudience(childUrl).setJti(randomUUID()).setIssuedAt().setExpirationTime('60s').sign(privateKey);
    const res = await fetch(`${childUrl}/request`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        client_id: 'pkj-rp', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion,
        response_type: 'code', scope: 'openid', redirect_uri: CB, code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
      }).toString(),
    });
    expect({ status: res.status, output: res.status === 201 ? '' : output.join('') }).toEqual({ status: 201, output: '' });
    expect(await res.json()).toMatchObject({ request_uri: expect.stringMatching(/^urn:ietf:params:oauth:request_uri:/) });
    expect(jwksHits).toBeGreaterThan(0);
  }, 30_000);

  it('a response type pushed to PAR that the client is not registered for is unauthorized_client too', async () => {
    const res = await fetch(`${t.url}/request`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`test-rp:${TEST_RP_SECRET}`).toString('base64')}` },
      body: new URLSearchParams({ client_id: 'test-rp', response_type: 'id_token', scope: 'openid', redirect_uri: CB, nonce: 'n' }).toString(),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'unauthorized_client' });
  });

  it('revocation answers an empty 200 without a Content-Type', async () => {
    const res = await fetch(`${t.url}/token/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`test-rp:${TEST_RP_SECRET}`).toString('base64')}` },
      body: new URLSearchParams({ token: 'any-token', token_type_hint: 'access_token' }).toString(),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBeNull();
    expect(await res.text()).toBe('');
  });

  it('a response type the client is not registered for is unauthorized_client, in the fragment, the query and a form post', async () => {
    const ask = async (extra: Record<string, string>) => fetch(`${t.url}/auth?${new URLSearchParams({ client_id: 'test-rp', redirect_uri: CB, response_type: 'id_token', scope: 'openid', state: 'st', nonce: 'n', ...extra }).toString()}`, { redirect: 'manual' });
    const fragment = await ask({});
    expect(fragment.status).toBe(303);
    const answer = new URLSearchParams(new URL(fragment.headers.get('location')!).hash.slice(1));
    expect(Object.fromEntries(answer)).toMatchObject({ error: 'unauthorized_client', state: 'st', iss: t.url });
    // In the query: a response type that may use it (id_token may not: that is invalid_request, rightly).
    const query = new URL((await ask({ response_type: 'none', response_mode: 'query' })).headers.get('location')!);
    expect(query.searchParams.get('error')).toBe('unauthorized_client');
    const posted = await (await ask({ response_mode: 'form_post' })).text();
    expect(posted).toContain('<input type="hidden" name="error" value="unauthorized_client"/>');
    expect(posted).not.toContain('value="invalid_request"');
  });
});
