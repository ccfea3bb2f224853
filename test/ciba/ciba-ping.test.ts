import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { CibaWorld, idClaims } from './world.js';

interface Ping {
  authorization: string | undefined;
  contentType: string | undefined;
  body: unknown;
}

/**
 * OpenID CIBA ping mode (CIBA Core 10.2): when the phone answers, the IdP POSTs
 * `{ "auth_req_id": ... }` to the client's registered notification endpoint with the client's
 * client_notification_token as a Bearer token; the client then fetches the result once.
 */
describe('CIBA ping mode', () => {
  let w: CibaWorld;
  let rp: oidc.Configuration;
  let endpoint: Server;
  const pings: Ping[] = [];
  const waiting: Array<(p: Ping) => void> = [];

  const nextPing = (timeoutMs = 5000) => new Promise<Ping>((resolve, reject) => {
    const queued = pings.shift();
    if (queued) { resolve(queued); return; }
    const timer = setTimeout(() => reject(new Error('no ping')), timeoutMs);
    waiting.push((p) => { clearTimeout(timer); resolve(p); });
  });

  beforeAll(async () => {
    endpoint = createServer((req: IncomingMessage, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => { raw += c.toString('utf8'); });
      req.on('end', () => {
        let body: unknown = raw;
        try { body = JSON.parse(raw); } catch { /* kept as text */ }
        const ping = { authorization: req.headers.authorization, contentType: req.headers['content-type'], body };
        const waiter = waiting.shift();
        if (waiter) waiter(ping); else pings.push(ping);
        res.statusCode = 204;
        res.end();
      });
    });
    await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
    const { port } = endpoint.address() as AddressInfo;
    w = await CibaWorld.start({ pingEndpoint: `http://127.0.0.1:${port}/ciba/notify` });
    rp = await w.rp('ciba-ping');
  });
  afterAll(async () => {
    await w?.close();
    await new Promise((r) => endpoint?.close(r));
  });

  it('approved: the endpoint gets a ping with the bearer client_notification_token, then the token request gives tokens', async () => {
    const jan = await w.user('jan');
    const token = 'notify-token-jan-0123456789';
    const started = await oidc.initiateBackchannelAuthentication(rp, { scope: 'openid email', login_hint: 'jan', client_notification_token: token, binding_message: 'Desk 7' });
    const push = await w.pushService.waitForMessage(jan.subscription.id);
    expect(push.payload.bindingMessage).toBe('Desk 7');
    expect(pings).toHaveLength(0); // nothing before the answer
    await jan.phone.respond(push.payload.cid, 'approve');
    const ping = await nextPing();
    expect(ping.authorization).toBe(`Bearer ${token}`);
    expect(ping.contentType).toMatch(/^application\/json/);
    expect(ping.body).toEqual({ auth_req_id: started.auth_req_id });
    const tokens = await oidc.pollBackchannelAuthenticationGrant(rp, started);
    const claims = idClaims(tokens);
    expect(claims.sub).toBe(jan.accountId);
    expect(claims.amr).toEqual(['otp', 'swk']);
  });

  it('denied: the ping still comes, and the token request answers access_denied', async () => {
    const kim = await w.user('kim');
    const started = await oidc.initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint: 'kim', client_notification_token: 'notify-token-kim' });
    const push = await w.pushService.waitForMessage(kim.subscription.id);
    await kim.phone.respond(push.payload.cid, 'deny');
    const ping = await nextPing();
    expect(ping).toMatchObject({ authorization: 'Bearer notify-token-kim', body: { auth_req_id: started.auth_req_id } });
    await expect(oidc.pollBackchannelAuthenticationGrant(rp, started)).rejects.toMatchObject({ error: 'access_denied' });
  });

  it('a ping client must send a client_notification_token: invalid_request, and no push', async () => {
    const res = await w.post('/backchannel', { scope: 'openid', login_hint: 'kim' }, { clientId: 'ciba-ping' });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: 'invalid_request' });
  });
});
