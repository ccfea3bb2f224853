import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { testRp, TEST_RP_SECRET } from '../support/idp.js';
import { CibaWorld, cibaClient, idClaims, type CibaUser } from './world.js';

/**
 * OpenID CIBA poll mode end to end (docs/ciba.md): openid-client asks for a user by login_hint,
 * the simulated phone receives the push (decrypting it as the PWA would) and answers; the client's
 * polling then gets tokens, access_denied or expired_token, as CIBA Core 11 names them.
 */
describe('CIBA poll mode', () => {
  let w: CibaWorld;
  let rp: oidc.Configuration;
  let bob: CibaUser;

  beforeAll(async () => {
    // Beside the CIBA client, a browser app not registered for the CIBA grant.
    w = await CibaWorld.start({ idp: { clients: [cibaClient('ciba-poll', 'poll'), testRp({ login: { consent: 'implicit' } })] } });
    rp = await w.rp();
    bob = await w.user('bob');
  });
  afterAll(async () => {
    await w?.close();
  });

  it('discovery advertises the backchannel endpoint, both delivery modes and the grant', async () => {
    const meta = rp.serverMetadata();
    expect(meta.backchannel_authentication_endpoint).toBe(`${w.t.url}/backchannel`);
    expect(meta.backchannel_token_delivery_modes_supported).toEqual(expect.arrayContaining(['poll', 'ping']));
    expect(meta.grant_types_supported).toContain('urn:openid:params:grant-type:ciba');
    // No user code is taken (ciba/door.ts): discovery does not offer one (red-team: it said true).
    expect(meta.backchannel_user_code_parameter_supported).toBe(false);
  });

  // OIDC Core 5.5.1.1 (red-team: an essential mfa acr got tokens with the phone-only acr).
  const essential = (...values: string[]) => JSON.stringify({ id_token: { acr: values.length === 1 ? { essential: true, value: values[0] } : { essential: true, values } } });

  it('an essential mfa acr that a bare approval does not reach: the poll gets access_denied, no tokens', async () => {
    const cara = await w.user('cara');
    const started = await oidc.initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint: 'cara', claims: essential('urn:pushotp:acr:mfa') });
    const push = await w.pushService.waitForMessage(cara.subscription.id);
    expect((await cara.phone.respond(push.payload.cid, 'approve')).body).toEqual({ status: 'approved' });
    await expect(oidc.pollBackchannelAuthenticationGrant(rp, started)).rejects.toMatchObject({ error: 'access_denied' });
  });

  it('the same essential mfa acr sent with acr_values (which oidc-provider puts in its place): access_denied too', async () => {
    const ivy = await w.user('ivy');
    const started = await oidc.initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint: 'ivy', acr_values: 'urn:pushotp:acr:mfa', claims: essential('urn:pushotp:acr:mfa') });
    const push = await w.pushService.waitForMessage(ivy.subscription.id);
    await ivy.phone.respond(push.payload.cid, 'approve');
    await expect(oidc.pollBackchannelAuthenticationGrant(rp, started)).rejects.toMatchObject({ error: 'access_denied' });
  });

  // RFC 6749 5.2, OpenID CIBA 13 (red-team: oidc-provider answered invalid_request).
  it('a client not registered for the CIBA grant is unauthorized_client at /backchannel and at /token', async () => {
    await w.user('hal');
    const auth = { authorization: `Basic ${Buffer.from(`test-rp:${TEST_RP_SECRET}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' };
    const asked = await fetch(`${w.t.url}/backchannel`, { method: 'POST', headers: auth, body: 'scope=openid&login_hint=hal' });
    expect(asked.status).toBe(400);
    expect(await asked.json()).toMatchObject({ error: 'unauthorized_client' });
    const polled = await fetch(`${w.t.url}/token`, { method: 'POST', headers: auth, body: 'grant_type=urn%3Aopenid%3Aparams%3Agrant-type%3Aciba&auth_req_id=x' });
    expect(polled.status).toBe(400);
    expect(await polled.json()).toMatchObject({ error: 'unauthorized_client' });
  });

  it('an essential acr no phone answer can reach is refused at once (invalid_request), and nothing reaches the phone', async () => {
    await w.user('dora');
    const before = w.pushService.accepted;
    await expect(oidc.initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint: 'dora', claims: essential('urn:other:acr:gold') }))
      .rejects.toMatchObject({ error: 'invalid_request' });
    await new Promise((r) => setTimeout(r, 300));
    expect(w.pushService.accepted).toBe(before);
  });

  it('an essential acr among values the approval reaches (the phone-only one) gives tokens with it', async () => {
    const gus = await w.user('gus');
    const started = await oidc.initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint: 'gus', claims: essential('urn:pushotp:acr:mfa', 'urn:pushotp:acr:phone') });
    const push = await w.pushService.waitForMessage(gus.subscription.id);
    await gus.phone.respond(push.payload.cid, 'approve');
    expect(idClaims(await oidc.pollBackchannelAuthenticationGrant(rp, started)).acr).toBe('urn:pushotp:acr:phone');
  });

  it('approved on the phone: the poll gets tokens for that user, with the push amr and no pwd', async () => {
    const started = await oidc.initiateBackchannelAuthentication(rp, { scope: 'openid profile', login_hint: 'bob', binding_message: 'Order 4711' });
    expect(started.interval).toBe(1);
    expect(started.expires_in).toBeGreaterThan(0);
    const push = await w.pushService.waitForMessage(bob.subscription.id);
    expect(push.payload.bindingMessage).toBe('Order 4711');
    expect(push.payload.body).toContain('Order 4711');
    expect(push.payload.app).toBe('Call Centre');
    expect(push.payload.numberMatching).toBe(false);
    const view = await bob.phone.challenge(push.payload.cid);
    expect(view.bindingMessage).toBe('Order 4711');
    expect(view.numberChoices).toBeNull();
    expect((await bob.phone.respond(push.payload.cid, 'approve')).body).toEqual({ status: 'approved' });

    const tokens = await oidc.pollBackchannelAuthenticationGrant(rp, started);
    const claims = idClaims(tokens);
    expect(claims.sub).toBe(bob.accountId);
    expect(claims.amr).toEqual(['otp', 'swk']);
    expect(claims.acr).toBe('urn:pushotp:acr:phone');
    expect(typeof claims.auth_time).toBe('number');
    expect(tokens.access_token).toBeTruthy();
    const info = await oidc.fetchUserInfo(rp, tokens.access_token, bob.accountId);
    expect(info.preferred_username).toBe('bob');
  });

  it('the e-mail address works as login_hint too, and the same auth_req_id gives tokens only once', async () => {
    const tablet = await w.secondPhone(bob);
    const started = await oidc.initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint: 'BOB@example.test' });
    const push = await w.pushService.waitForMessage(tablet.subscription.id);
    expect(push.payload.bindingMessage).toBeUndefined();
    await tablet.phone.respond(push.payload.cid, 'approve');
    const tokens = await oidc.pollBackchannelAuthenticationGrant(rp, started);
    expect(idClaims(tokens).sub).toBe(bob.accountId);
    await expect(oidc.pollBackchannelAuthenticationGrant(rp, started)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('id_token_hint (one of our own ID tokens) names the user', async () => {
    const erin = await w.user('erin');
    const first = await oidc.initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint: 'erin' });
    const push1 = await w.pushService.waitForMessage(erin.subscription.id);
    await erin.phone.respond(push1.payload.cid, 'approve');
    const idToken = (await oidc.pollBackchannelAuthenticationGrant(rp, first)).id_token!;

    const tablet = await w.secondPhone(erin);
    const started = await oidc.initiateBackchannelAuthentication(rp, { scope: 'openid', id_token_hint: idToken });
    const push = await w.pushService.waitForMessage(tablet.subscription.id);
    expect((await tablet.phone.respond(push.payload.cid, 'approve')).body).toEqual({ status: 'approved' });
    expect(idClaims(await oidc.pollBackchannelAuthenticationGrant(rp, started)).sub).toBe(erin.accountId);
  });

  it('an ID token of another issuer is no hint: invalid_request, and no push', async () => {
    const forged = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: 'https://evil.example', sub: bob.accountId, aud: 'ciba-poll' })).toString('base64url')}.`;
    const res = await w.post('/backchannel', { scope: 'openid', id_token_hint: forged });
    expect(res.status).toBe(400);
    expect(res.json?.error).toMatch(/^invalid_request$/);
  });

  it('denied on the phone: the poll gets access_denied', async () => {
    const carol = await w.user('carol');
    const started = await oidc.initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint: 'carol' });
    const push = await w.pushService.waitForMessage(carol.subscription.id);
    expect((await carol.phone.respond(push.payload.cid, 'deny')).body).toMatchObject({ status: 'denied' });
    await expect(oidc.pollBackchannelAuthenticationGrant(rp, started)).rejects.toMatchObject({ error: 'access_denied' });
  });

  it('left unanswered past requested_expiry: the poll gets expired_token, and a late approval changes nothing', async () => {
    const dave = await w.user('dave');
    const started = await oidc.initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint: 'dave', requested_expiry: '2' });
    expect(started.expires_in).toBeLessThanOrEqual(2);
    const push = await w.pushService.waitForMessage(dave.subscription.id);
    await new Promise((r) => setTimeout(r, 2500));
    expect((await dave.phone.respond(push.payload.cid, 'approve')).status).toBe(410);
    await expect(oidc.pollBackchannelAuthenticationGrant(rp, started)).rejects.toMatchObject({ error: 'expired_token' });
  });
});

describe('CIBA: an account disabled between the approval and the poll', () => {
  let w: CibaWorld;
  let rp: oidc.Configuration;
  beforeAll(async () => {
    w = await CibaWorld.start({ idp: { clients: [cibaClient('ciba-poll', 'poll')] } });
    rp = await w.rp();
  });
  afterAll(async () => {
    await w?.close();
  });

  it('the disabled flag alone (its sessions not ended) stops the tokens at once: invalid_grant, none issued', async () => {
    const erin = await w.user('erin');
    // The account is read (and cached for its next 5 s) by an earlier CIBA grant of its own.
    const first = await oidc.initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint: 'erin' });
    const firstPush = await w.pushService.waitForMessage(erin.subscription.id);
    await erin.phone.respond(firstPush.payload.cid, 'approve');
    await expect(oidc.pollBackchannelAuthenticationGrant(rp, first)).resolves.toMatchObject({ access_token: expect.any(String) });
    const started = await oidc.initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint: 'erin', binding_message: 'Second' });
    const push = await w.pushService.waitForMessage(erin.subscription.id);
    expect((await erin.phone.respond(push.payload.cid, 'approve')).body).toEqual({ status: 'approved' });
    // Red-team: the token endpoint took the account from a 5-second cache and gave tokens.
    await w.t.idp.accounts.setDisabled(erin.accountId, true);
    await expect(oidc.pollBackchannelAuthenticationGrant(rp, started)).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});
