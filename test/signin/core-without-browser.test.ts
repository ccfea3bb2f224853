import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DEFAULT_POLICY } from '../../src/config/clients.js';
import type { SignInRef } from '../../src/signin/index.js';
import { PushWorld } from '../support/push-world.js';
import { auditEvents, enroll, newestChallenge, startWorld } from './helpers.js';

/**
 * The sign-in core driven as a gateway would drive it (the agent API or RADIUS, DESIGN "Surfaces"):
 * username + password + passcode in one call, no browser, no OIDC interaction, its own sign-in id.
 * Guards the layering: if the core needed a page, a cookie or an interaction, these could not run.
 */
describe('the sign-in core without a browser', () => {
  let w: PushWorld;
  beforeAll(async () => { w = await startWorld(); });
  afterAll(async () => { await w.close(); });

  // A gateway cannot show a number to match, so its app asks for none.
  const gateway = (): SignInRef => ({
    id: `gw-${randomUUID()}`,
    requester: { ip: '203.0.113.9', userAgent: 'vpn-gateway/1.0', app: { clientId: 'vpn', name: 'VPN', policy: { ...DEFAULT_POLICY, form: 'single-form', numberMatching: false } } },
    ttlSeconds: 120,
  });

  it('password and a 6-digit passcode finish at once, with pwd + otp', async () => {
    const { phone } = await enroll(w, { push: false });
    const ref = gateway();
    const result = await w.t.idp.signin.password(ref, { username: 'alice', password: PushWorld.password, passcode: phone.currentTotp() });
    expect(result).toEqual({ kind: 'passcode', passcode: { kind: 'finished', login: { accountId: w.accountId, amr: ['pwd', 'otp', 'mfa'], acr: DEFAULT_POLICY.acr.mfa, firstFactorAt: expect.any(Number) } } });
    expect(await w.t.idp.signin.state(ref.id)).toBeNull(); // finished: nothing left to replay
    const success = (await auditEvents(w, 'signin.success')).at(-1)!;
    expect(success).toMatchObject({ client_id: 'vpn', detail: { via: 'passcode' } });
  });

  it('an empty passcode sends a push; the approval wakes the waiter and finishes with otp + swk', async () => {
    const { phone } = await enroll(w, { push: false });
    const ref = gateway();
    const result = await w.t.idp.signin.password(ref, { username: 'alice', password: PushWorld.password, passcode: '' });
    expect(result).toMatchObject({ kind: 'push', push: { kind: 'sent' } });
    const state = (await w.t.idp.signin.state(ref.id))!;
    const watched = await w.t.idp.signin.watch(ref.id, state, true);
    if (!('later' in watched)) throw new Error('a pending push should be waited on');
    const challenge = await newestChallenge(phone);
    expect(challenge.app).toBe('VPN');
    expect(challenge.browser).not.toMatch(/Chrome|Firefox|Safari/);
    expect((await phone.respond(challenge.id, 'approve')).body).toEqual({ status: 'approved' });
    expect(await watched.later).toEqual({ status: 'approved', reason: null });
    expect(await w.t.idp.signin.wait({ ...ref, state })).toEqual({
      // No number was matched (a door without a screen of ours): said, so an SSO session it made would not open a number-matching app.
      kind: 'finished', login: { accountId: w.accountId, amr: ['pwd', 'otp', 'swk', 'mfa'], acr: DEFAULT_POLICY.acr.mfa, firstFactorAt: expect.any(Number), unmatchedPush: true },
    });
  });

  it('a wrong password is the same answer for a gateway as for a page', async () => {
    const result = await w.t.idp.signin.password(gateway(), { username: 'alice', password: 'not it', passcode: '' });
    expect(result).toEqual({ kind: 'failed' });
  });
});
