import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PushWorld } from '../support/push-world.js';
import { addUser, auditEvents, enroll, newestChallenge, waitUntil } from '../signin/helpers.js';
import { printTranscripts, radclient, request, startRadiusWorld, type RadiusWorld } from './world.js';

/**
 * A NAS that cannot do Access-Challenge (single-request mode), played by radclient: the password
 * alone (or with an empty passcode after a comma) sends a push and the one Access-Request is
 * answered when the phone answers, within the client's wait; "password,123456" is checked at once.
 * Each test has its own user, so one test's unanswered pushes do not raise another's fatigue.
 */
describe('RADIUS single-request mode, through radclient', () => {
  let r: RadiusWorld;
  const send = (attributes: string, label: string, timeoutSeconds = 20) =>
    radclient({ port: r.port, secret: r.secrets['vpn-single']!, attributes, label, timeoutSeconds });
  const newUser = async (name: string) => {
    const accountId = await addUser(r.w, name);
    const { phone } = await enroll(r.w, { accountId });
    return phone;
  };

  beforeAll(async () => {
    r = await startRadiusWorld([{
      name: 'vpn-single', displayName: 'Legacy VPN', address: '127.0.0.1', mode: 'single', maxWaitSeconds: 5,
      login: { numberMatching: false, noDevice: 'refuse' },
    }]);
  });
  afterAll(async () => {
    printTranscripts('radclient exchanges (single-request mode)');
    await r?.close();
  });

  it.each([
    ['the password alone', ''],
    ['password and an empty passcode', ','],
    ['password and a one-character passcode', ',p'],
  ])('%s sends a push; the approval answers the same request with Access-Accept', async (_label, suffix) => {
    const user = `u${Math.random().toString(36).slice(2, 8)}`;
    const phone = await newUser(user);
    const reply = send(request({ user, password: `${PushWorld.password}${suffix}` }), `single mode: "password${suffix}" held until the phone approves`);
    const challenge = await newestChallenge(phone);
    expect(challenge).toMatchObject({ app: 'Legacy VPN', numberMatching: false });
    await waitUntil(async () => r.server.inFlight() === 1, 5000, 'the request held at the server');
    expect((await phone.respond(challenge.id, 'approve')).body).toEqual({ status: 'approved' });
    const accepted = await reply;
    expect(accepted.code).toBe('Access-Accept');
    expect(accepted.order[0]).toBe('Message-Authenticator');
    expect((await auditEvents(r.w, 'signin.success')).at(-1)).toMatchObject({ client_id: 'radius:vpn-single', detail: { via: 'push', amr: ['pwd', 'otp', 'swk', 'mfa'] } });
  });

  it('a request held for a phone blocks nothing: others are answered meanwhile', async () => {
    const phone = await newUser('ivan');
    const held = send(request({ user: 'ivan', password: PushWorld.password }), 'single mode: held while others are served');
    const challenge = await newestChallenge(phone);
    await waitUntil(async () => r.server.inFlight() === 1, 5000, 'the request held at the server');
    const other = await send(request({ user: 'nobody', password: 'x' }), 'single mode: another NAS user meanwhile');
    expect(other.code).toBe('Access-Reject');
    expect(r.server.inFlight()).toBe(1);
    await phone.respond(challenge.id, 'approve');
    expect((await held).code).toBe('Access-Accept');
  });

  it('password,123456 is checked at once', async () => {
    const phone = await newUser('dave');
    const reply = await send(request({ user: 'dave', password: `${PushWorld.password},${phone.currentTotp()}` }), 'single mode: password,passcode');
    expect(reply.code).toBe('Access-Accept');
  });

  it('a denial on the phone answers Access-Reject', async () => {
    const phone = await newUser('erin');
    const reply = send(request({ user: 'erin', password: PushWorld.password }), 'single mode: denied on the phone');
    const challenge = await newestChallenge(phone);
    await phone.respond(challenge.id, 'deny');
    const rejected = await reply;
    expect(rejected.code).toBe('Access-Reject');
    expect(rejected.attributes['Reply-Message']).toBe('The request was denied on your phone.');
  });

  it('no answer within the wait: Access-Reject, and the request on the phone is withdrawn', async () => {
    const phone = await newUser('frank');
    const reply = send(request({ user: 'frank', password: PushWorld.password }), 'single mode: the phone never answers');
    const challenge = await newestChallenge(phone);
    const rejected = await reply;
    expect(rejected.code).toBe('Access-Reject');
    expect(rejected.attributes['Reply-Message']).toBe('No answer from your phone in time: start again.');
    // Approving it now changes nothing: it stands for no sign-in any more.
    expect((await phone.respond(challenge.id, 'approve')).status).not.toBe(200);
  });

  it('when push fatigue forces number matching, which this NAS cannot show, no push goes to the phone: the passcode is asked for', async () => {
    const phone = await newUser('grace');
    for (let i = 0; i < 2; i++) {
      const reply = send(request({ user: 'grace', password: PushWorld.password }), 'single mode: an unwanted push, denied');
      const challenge = await newestChallenge(phone);
      await phone.respond(challenge.id, 'deny');
      expect((await reply).code).toBe('Access-Reject');
    }
    const delivered = r.w.pushService.messages.length;
    const third = await send(request({ user: 'grace', password: PushWorld.password }), 'single mode: number matching forced, cannot be shown');
    expect(third.code).toBe('Access-Reject');
    expect(third.attributes['Reply-Message']).toBe('Too many unanswered requests: add a comma and the code from your authenticator to your password.');
    expect(await phone.pending()).toEqual([]);
    // Not even one sent and then withdrawn: the phone did not ring (delivery runs in the background, so give it time).
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(r.w.pushService.messages.length).toBe(delivered);
    expect((await auditEvents(r.w, 'push.refused')).at(-1)).toMatchObject({ client_id: 'radius:vpn-single', detail: { reason: 'needs_binding_message' } });
    const withCode = await send(request({ user: 'grace', password: `${PushWorld.password},${phone.currentTotp()}` }), 'single mode: password,passcode still works');
    expect(withCode.code).toBe('Access-Accept');
  });

  it('a user without a device is refused (login.noDevice "refuse"), a wrong password as ever', async () => {
    await addUser(r.w, 'heidi');
    const refused = await send(request({ user: 'heidi', password: PushWorld.password }), 'single mode: no authenticator enrolled');
    expect(refused.code).toBe('Access-Reject');
    expect(refused.attributes['Reply-Message']).toBe('No authenticator is enrolled for this account.');
    const wrong = await send(request({ user: 'heidi', password: 'nope' }), 'single mode: wrong password');
    expect(wrong.attributes['Reply-Message']).toBe('Authentication failed.');
  });
});
