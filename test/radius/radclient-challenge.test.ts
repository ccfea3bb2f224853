import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { throttleKeys } from '../../src/defences/throttle-keys.js';
import { wrongTotp } from '../support/authenticator.js';
import { PushWorld } from '../support/push-world.js';
import { addUser, auditEvents, enroll, newestChallenge, waitUntil } from '../signin/helpers.js';
import { printTranscripts, radclient, request, startRadiusWorld, type RadiusWorld } from './world.js';

/**
 * A VPN gateway in challenge mode, played by Debian's radclient sending real Access-Requests over
 * 127.0.0.1 with Message-Authenticator: password -> Access-Challenge with the number to match and
 * a one-time State -> Enter (push approved) or a typed TOTP -> Access-Accept. Every refusal an
 * attacker can provoke: wrong password or unknown user (the same Access-Reject), wrong shared
 * secret or no Message-Authenticator (no answer at all), a replayed State.
 */
describe('RADIUS challenge mode, through radclient', () => {
  let r: RadiusWorld;
  let secret: string;
  const send = (attributes: string, label: string, timeoutSeconds?: number) =>
    radclient({ port: r.port, secret, attributes, label, ...(timeoutSeconds ? { timeoutSeconds } : {}) });

  beforeAll(async () => {
    r = await startRadiusWorld([{ name: 'vpn', displayName: 'Office VPN', address: '127.0.0.1', mode: 'challenge', maxWaitSeconds: 20 }]);
    secret = r.secrets.vpn!;
  });
  afterAll(async () => {
    printTranscripts('radclient exchanges (challenge mode)');
    await r?.close();
  });

  it('password -> Access-Challenge with the number; Enter after the phone approves -> Access-Accept (pwd otp swk)', async () => {
    const { phone } = await enroll(r.w);
    const first = await send(request({ user: 'alice', password: PushWorld.password }), 'password: a push goes out, the NAS shows the number');
    expect(first.code).toBe('Access-Challenge');
    const number = Number(/number (\d{2})/.exec(first.attributes['Reply-Message'] ?? '')?.[1]);
    expect(first.attributes['Reply-Message']).toBe(`Approve on your phone: number ${number}, then press Enter, or type the code.`);
    expect(first.attributes.State).toMatch(/^0x[0-9a-f]{64}$/);

    const challenge = await newestChallenge(phone);
    expect(challenge.app).toBe('Office VPN');
    expect(challenge.numberChoices).toContain(number);

    // The user presses Enter before tapping Approve: the request waits (without blocking) for the phone.
    const second = send(request({ user: 'alice', state: first.attributes.State! }), 'Enter while the phone is still to answer: held until it approves');
    await waitUntil(async () => r.server.inFlight() === 1, 5000, 'the Enter held at the server');
    expect((await phone.challenge(challenge.id)).status).toBe('pending');
    expect((await phone.respond(challenge.id, 'approve', { number })).body).toEqual({ status: 'approved' });
    const accepted = await second;
    expect(accepted.code).toBe('Access-Accept');
    expect(accepted.order[0]).toBe('Message-Authenticator');

    const success = (await auditEvents(r.w, 'signin.success')).at(-1)!;
    expect(success).toMatchObject({ client_id: 'radius:vpn', account_id: r.w.accountId, detail: { via: 'push', amr: ['pwd', 'otp', 'swk', 'mfa'] } });
  });

  it('challenge answered with a typed TOTP -> Access-Accept (pwd otp)', async () => {
    const { phone } = await enroll(r.w, { push: false });
    const first = await send(request({ user: 'alice', password: PushWorld.password }), 'password');
    expect(first.code).toBe('Access-Challenge');
    const second = await send(request({ user: 'alice', password: phone.currentTotp(), state: first.attributes.State! }), 'the typed code from the authenticator');
    expect(second.code).toBe('Access-Accept');
    const success = (await auditEvents(r.w, 'signin.success')).at(-1)!;
    expect(success).toMatchObject({ client_id: 'radius:vpn', detail: { via: 'passcode', amr: ['pwd', 'otp', 'mfa'] } });
  });

  it('a wrong code asks again with a new State; the right one then gets in', async () => {
    const { phone } = await enroll(r.w, { push: false });
    const first = await send(request({ user: 'alice', password: PushWorld.password }), 'password');
    const wrong = await send(request({ user: 'alice', password: wrongTotp(phone.totpSecret, Date.now()), state: first.attributes.State! }), 'a wrong code: challenged again');
    expect(wrong.code).toBe('Access-Challenge');
    expect(wrong.attributes['Reply-Message']).toMatch(/^Wrong code\. /);
    expect(wrong.attributes.State).not.toBe(first.attributes.State);
    const right = await send(request({ user: 'alice', password: phone.currentTotp(), state: wrong.attributes.State! }), 'the right code');
    expect(right.code).toBe('Access-Accept');
  });

  it('password,passcode in one request -> Access-Accept at once, no challenge', async () => {
    const { phone } = await enroll(r.w, { push: false });
    const reply = await send(request({ user: 'alice', password: `${PushWorld.password},${phone.currentTotp()}` }), 'password,passcode in one request');
    expect(reply.code).toBe('Access-Accept');
  });

  it('a wrong password and an unknown user get the same Access-Reject', async () => {
    const wrong = await send(request({ user: 'alice', password: 'not the password' }), 'wrong password');
    const unknown = await send(request({ user: 'nobody-here', password: 'not the password' }), 'unknown user');
    expect(wrong.code).toBe('Access-Reject');
    expect(unknown.code).toBe('Access-Reject');
    expect(unknown.attributes).toEqual({ ...wrong.attributes, 'Message-Authenticator': unknown.attributes['Message-Authenticator'] });
    expect(wrong.order).toEqual(['Message-Authenticator', 'Reply-Message']);
  });

  it('a wrong shared secret gets no answer at all (the Message-Authenticator does not verify)', async () => {
    const before = r.server.counters().bad_message_authenticator;
    const reply = await radclient({ port: r.port, secret: `${secret}x`, attributes: request({ user: 'alice', password: PushWorld.password }), timeoutSeconds: 1, label: 'wrong shared secret: no reply' });
    expect(reply.code).toBeNull();
    expect(reply.transcript).toMatch(/No reply from server/);
    expect(r.server.counters().bad_message_authenticator).toBe(before + 1);
  });

  it('no Message-Authenticator: no answer (BlastRADIUS, CVE-2024-3596), even with the right secret', async () => {
    const before = r.server.counters().missing_message_authenticator;
    const reply = await send(request({ user: 'alice', password: PushWorld.password, messageAuthenticator: false }), 'no Message-Authenticator: no reply', 1);
    expect(reply.code).toBeNull();
    expect(r.server.counters().missing_message_authenticator).toBe(before + 1);
  });

  it('a State works once: replayed, it is refused even with a valid code', async () => {
    const { phone } = await enroll(r.w, { push: false });
    const first = await send(request({ user: 'alice', password: PushWorld.password }), 'password');
    const state = first.attributes.State!;
    expect((await send(request({ user: 'alice', password: phone.currentTotp(), state }), 'the code with the State')).code).toBe('Access-Accept');
    const replay = await send(request({ user: 'alice', password: phone.currentTotp(), state }), 'the same State again: refused');
    expect(replay.code).toBe('Access-Reject');
    expect(replay.attributes['Reply-Message']).toBe('This sign-in has expired or was already answered: start again.');
  });

  it('an approved push finishes once: five parallel answers with its State get one Access-Accept', async () => {
    const { phone } = await enroll(r.w);
    const first = await send(request({ user: 'alice', password: PushWorld.password }), 'password');
    const number = Number(/number (\d{2})/.exec(first.attributes['Reply-Message']!)![1]);
    const challenge = await newestChallenge(phone);
    await phone.respond(challenge.id, 'approve', { number });
    const replies = await Promise.all(Array.from({ length: 5 }, () => send(request({ user: 'alice', state: first.attributes.State! }), 'parallel Enter with one State')));
    expect(replies.map((x) => x.code).sort()).toEqual(['Access-Accept', 'Access-Reject', 'Access-Reject', 'Access-Reject', 'Access-Reject']);
  });

  it('a State is bound to its user: presented for another, it is refused and spent', async () => {
    await enroll(r.w, { push: false });
    await addUser(r.w, 'mallory');
    const first = await send(request({ user: 'alice', password: PushWorld.password }), 'password');
    const stolen = await send(request({ user: 'mallory', state: first.attributes.State! }), 'State presented for another user');
    expect(stolen.code).toBe('Access-Reject');
    const late = await send(request({ user: 'alice', state: first.attributes.State! }), 'the spent State');
    expect(late.code).toBe('Access-Reject');
  });

  it('the login page\'s password throttle counts RADIUS guesses too', async () => {
    await addUser(r.w, 'bob');
    for (let i = 0; i < 3; i++) expect((await send(request({ user: 'bob', password: `guess ${i}` }), 'guessing bob')).code).toBe('Access-Reject');
    // The fourth try comes within the growing delay: even the right password is refused now.
    const throttled = await send(request({ user: 'bob', password: PushWorld.password }), 'right password, but throttled');
    expect(throttled.code).toBe('Access-Reject');
    expect(throttled.attributes['Reply-Message']).toMatch(/^Too many attempts: try again in \d+ seconds?\.$/);
    expect((await auditEvents(r.w, 'signin.throttled')).at(-1)).toMatchObject({ client_id: 'radius:vpn' });
  });

  it('passcodes capped after 100 wrong ones in a row (at any door): the right code is refused with the way out', async () => {
    const accountId = await addUser(r.w, 'carol');
    const { phone } = await enroll(r.w, { accountId, push: false });
    // As 100 wrong passcodes at the login page or the agent API leave it (test/security/passcode-cap.test.ts).
    await r.w.t.idp.redis.hset(throttleKeys.passcodes(accountId), 'f', '100', 'l', String(Date.now() - 3_600_000));
    const reply = await send(request({ user: 'carol', password: `${PushWorld.password},${phone.currentTotp()}` }), 'passcodes capped: the right code refused');
    expect(reply.code).toBe('Access-Reject');
    expect(reply.attributes['Reply-Message']).toBe('Codes are locked after too many wrong ones: approve on your phone, or ask your administrator.');
    expect((await auditEvents(r.w, 'signin.throttled')).at(-1)).toMatchObject({ account_id: accountId, client_id: 'radius:vpn', detail: { reason: 'capped', factor: 'otp' } });
  });
});
