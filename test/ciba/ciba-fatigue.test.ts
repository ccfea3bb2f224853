import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { CibaWorld, idClaims } from './world.js';
import { uniquePrefix } from '../support/env.js';

/**
 * Push bombing through CIBA: the same per-account gate as the login page (src/signin/push.ts). A
 * CIBA request has no login page to show a number, so when unanswered pushes force number matching
 * (PUSH_FORCE_MATCH_AFTER) only a request with a binding_message (the text the asking app shows,
 * which the phone shows too) may still push; past PUSH_LIMIT none may.
 */
describe('CIBA under push fatigue', () => {
  let w: CibaWorld;
  let rp: oidc.Configuration;
  const prefix = uniquePrefix('ciba-fatigue');
  /** The sign-in core's states of CIBA requests (src/signin/backchannel.ts) in this IdP's Redis. */
  const cibaStates = () => (w.t.idp.redis as unknown as { keys(p: string): Promise<string[]> }).keys(`${prefix}signin:{ciba:*`);

  beforeAll(async () => {
    w = await CibaWorld.start({ env: { PUSH_FORCE_MATCH_AFTER: '2', PUSH_LIMIT: '4' }, idp: { redisPrefix: prefix } });
    rp = await w.rp();
  });
  afterAll(async () => {
    await w?.close();
  });

  it('after two denials a request without binding_message is refused (access_denied), one with it still pushes and can be approved', async () => {
    const max = await w.user('max');
    // Each phone uses each TOTP step once (denials too): three phones answer without waiting for a step.
    const phones = [max, await w.secondPhone(max), await w.secondPhone(max)];
    for (const phone of phones.slice(0, 2)) {
      await oidc.initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint: 'max' });
      // Every push reaches every phone; the first phone's queue holds them in order.
      const push = await w.pushService.waitForMessage(max.subscription.id);
      expect((await phone.phone.respond(push.payload.cid, 'deny')).status).toBe(200);
    }
    await expect(oidc.initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint: 'max' })).rejects.toMatchObject({ error: 'access_denied' });
    // That refusal counted as an unanswered push too (3 of 4): one with a binding message still goes.
    const started = await oidc.initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint: 'max', binding_message: 'Ticket 99' });
    const push = await w.pushService.waitForMessage(max.subscription.id);
    expect(push.payload.bindingMessage).toBe('Ticket 99');
    expect((await phones[2]!.phone.respond(push.payload.cid, 'approve')).body).toEqual({ status: 'approved' });
    expect(idClaims(await oidc.pollBackchannelAuthenticationGrant(rp, started)).sub).toBe(max.accountId);
  }, 40_000);

  it('twelve parallel requests for one user: no more pushes than PUSH_LIMIT allows, and a refused request leaves no state behind', async () => {
    const ned = await w.user('ned');
    const before = await cibaStates();
    const answers = await Promise.allSettled(Array.from({ length: 12 }, () =>
      oidc.initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint: 'ned', binding_message: 'Burst' })));
    const sent = answers.filter((a) => a.status === 'fulfilled').length;
    expect(sent).toBeLessThanOrEqual(4);
    expect(sent).toBeGreaterThanOrEqual(1);
    for (const a of answers) if (a.status === 'rejected') expect(a.reason).toMatchObject({ error: 'access_denied' });
    expect((await ned.phone.pending()).length).toBe(sent);
    // Only the requests that pushed keep a sign-in in Redis: a refused one was forgotten whole.
    expect((await cibaStates()).filter((k) => !before.includes(k))).toHaveLength(sent);
  }, 40_000);
});
