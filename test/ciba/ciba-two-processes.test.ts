import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { uniquePrefix } from '../support/env.js';
import { freePort, freshSchemaUrl } from '../support/idp.js';
import { startPushService, type PushServiceDouble } from '../support/push-service.js';
import { CibaWorld, idClaims } from './world.js';

/**
 * DESIGN step 9 for CIBA: two IdP processes behind one issuer share Redis and PostgreSQL (as in
 * test/signin/two-processes.test.ts). The relying app talks to process A only; the phone answers
 * process B; B's resolution hook settles the request (provider.backchannelResult) that A serves.
 */
describe('CIBA across two IdP processes', () => {
  const schema = `t_ciba2_${Date.now()}_${Math.random().toString(36).slice(2, 8)}`;
  const redisPrefix = uniquePrefix('ciba2');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'idp-ciba2-'));
  let pushService: PushServiceDouble;
  let a: CibaWorld;
  let b: CibaWorld;
  let bUrl: string;
  let rp: oidc.Configuration;

  beforeAll(async () => {
    pushService = await startPushService();
    const portA = await freePort();
    const issuer = `http://127.0.0.1:${portA}`;
    const idp = { schema, redisPrefix, dataDir, env: { ISSUER: issuer } };
    a = await CibaWorld.start({ pushService, idp: { ...idp, port: portA } });
    b = await CibaWorld.start({ pushService, idp });
    bUrl = `http://127.0.0.1:${b.t.settings.port}`;
    expect(b.t.url).toBe(a.t.url);
    rp = await a.rp();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await pushService?.close();
    await (await freshSchemaUrl(schema)).drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** A user made through A whose phone enrolled through B and talks only to B. */
  async function userWithPhoneAtB(username: string) {
    const { accountId } = await a.user(username); // also enrolls a phone at A; the one used below is B's
    const offer = await a.t.idp.deviceService.issueEnrollment(accountId, 'test');
    const subscription = pushService.createSubscription();
    const phone = await SimulatedAuthenticator.enroll(bUrl, offer.code, { push: { endpoint: subscription.endpoint, keys: subscription.keys } });
    expect(phone.baseUrl).toBe(bUrl);
    return { accountId, phone, subscription };
  }

  it('requested and polled at A, approved at B: A hands out the tokens', async () => {
    const olga = await userWithPhoneAtB('olga');
    const started = await oidc.initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint: 'olga', binding_message: 'Two 2' });
    const push = await pushService.waitForMessage(olga.subscription.id);
    expect(push.payload.bindingMessage).toBe('Two 2');
    expect((await olga.phone.respond(push.payload.cid, 'approve')).body).toEqual({ status: 'approved' });
    const tokens = await oidc.pollBackchannelAuthenticationGrant(rp, started);
    expect(idClaims(tokens).sub).toBe(olga.accountId);
    expect(idClaims(tokens).iss).toBe(a.t.url);
  });

  it('denied at B: the poll at A answers access_denied; a poll at A then one at B at once is slow_down', async () => {
    const pia = await userWithPhoneAtB('pia');
    const started = await oidc.initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint: 'pia' });
    // Polled at A, then at once at B: the pace lives in Redis, not in A's memory.
    expect((await a.post('/token', { grant_type: 'urn:openid:params:grant-type:ciba', auth_req_id: started.auth_req_id })).json).toMatchObject({ error: 'authorization_pending' });
    const early = await b.post('/token', { grant_type: 'urn:openid:params:grant-type:ciba', auth_req_id: started.auth_req_id });
    expect(early.json).toMatchObject({ error: 'slow_down' });
    const push = await pushService.waitForMessage(pia.subscription.id);
    await pia.phone.respond(push.payload.cid, 'deny');
    await expect(oidc.pollBackchannelAuthenticationGrant(rp, started)).rejects.toMatchObject({ error: 'access_denied' });
  });
});
