import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { CIBA_GRANT, CibaWorld, idClaims } from './world.js';

/**
 * OpenID CIBA 7.3 / 11 (RFC 8628 3.5): a client that polls sooner than `interval` gets slow_down,
 * and the interval grows by 5 s. oidc-provider does not enforce it; src/ciba/poll-pace.ts does,
 * atomically per auth_req_id, so a burst of parallel polls is served once.
 */
describe('CIBA polling pace', () => {
  let w: CibaWorld;
  let rp: oidc.Configuration;

  beforeAll(async () => {
    w = await CibaWorld.start({ env: { CIBA_POLL_INTERVAL: '2' } });
    rp = await w.rp();
  });
  afterAll(async () => {
    await w?.close();
  });

  const poll = (authReqId: string) => w.post('/token', { grant_type: CIBA_GRANT, auth_req_id: authReqId });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('the first poll is served at once; a second one sooner than the interval is slow_down, and the interval grows by 5 s', async () => {
    await w.user('fay');
    const started = await oidc.initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint: 'fay' });
    expect(started.interval).toBe(2);
    const first = await poll(started.auth_req_id);
    expect(first.status).toBe(400);
    expect(first.json).toMatchObject({ error: 'authorization_pending' });
    expect((await poll(started.auth_req_id)).json).toMatchObject({ error: 'slow_down' });
    // The interval is now 2 + 5 s: a poll 2.5 s later is still too soon.
    await sleep(2500);
    expect((await poll(started.auth_req_id)).json).toMatchObject({ error: 'slow_down' });
  }, 30_000);

  it('a client that keeps the interval is never slowed down', async () => {
    await w.user('gus');
    const started = await oidc.initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint: 'gus' });
    expect((await poll(started.auth_req_id)).json).toMatchObject({ error: 'authorization_pending' });
    for (let i = 0; i < 2; i++) {
      await sleep(2100);
      expect((await poll(started.auth_req_id)).json).toMatchObject({ error: 'authorization_pending' });
    }
  }, 30_000);

  it('of 12 parallel polls, exactly one is served and eleven slow down, first and again after the interval', async () => {
    await w.user('hal');
    const started = await oidc.initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint: 'hal' });
    const burst = await Promise.all(Array.from({ length: 12 }, () => poll(started.auth_req_id)));
    expect(burst.filter((a) => a.json?.error === 'authorization_pending')).toHaveLength(1);
    expect(burst.filter((a) => a.json?.error === 'slow_down')).toHaveLength(11);
    // Eleven slow_downs raised the interval to 2 + 55 s: wait it out on a fresh request instead.
    const fresh = await oidc.initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint: 'hal' });
    await poll(fresh.auth_req_id);
    await sleep(2100);
    const answers = await Promise.all(Array.from({ length: 12 }, () => poll(fresh.auth_req_id)));
    const errors = answers.map((a) => a.json?.error).sort();
    expect(errors.filter((e) => e === 'authorization_pending')).toHaveLength(1);
    expect(errors.filter((e) => e === 'slow_down')).toHaveLength(11);
    expect(answers.every((a) => a.status === 400)).toBe(true);
  }, 30_000);

  it('a request approved after a slow_down still gives openid-client its tokens (slow_down only ever replaces authorization_pending)', async () => {
    const ivy = await w.user('ivy');
    const a = await oidc.initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint: 'ivy' });
    const pushA = await w.pushService.waitForMessage(ivy.subscription.id);
    await poll(a.auth_req_id);
    expect((await poll(a.auth_req_id)).json).toMatchObject({ error: 'slow_down' });
    await ivy.phone.respond(pushA.payload.cid, 'approve');
    // The approval is waiting when openid-client polls (after its interval): tokens, not slow_down.
    const tokens = await oidc.pollBackchannelAuthenticationGrant(rp, a);
    expect(idClaims(tokens).sub).toBe(ivy.accountId);
  }, 40_000);
});
