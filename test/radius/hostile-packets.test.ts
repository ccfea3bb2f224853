import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from '@jest/globals';
import { PushWorld } from '../support/push-world.js';
import { addUser, auditEvents, enroll, newestChallenge, waitUntil } from '../signin/helpers.js';
import {
  accessRequest, attrBytes, CHAP_PASSWORD, expectAuthenticReply, HandNas, MESSAGE_AUTHENTICATOR, PROXY_STATE, REPLY_MESSAGE, replyAttributes,
  STATE, USER_NAME, USER_PASSWORD,
} from './packets.js';
import { startRadiusWorld, type RadiusWorld } from './world.js';

/**
 * What an attacker on the network (or a broken NAS) sends, with node's dgram: malformed packets
 * are dropped without a reply and without harm; authenticated packets with odd contents get an
 * Access-Reject; retransmissions get the first reply again without a second sign-in attempt
 * (RFC 5080); every reply starts with a Message-Authenticator that verifies.
 */
describe('RADIUS under hostile packets', () => {
  let r: RadiusWorld;
  let secret: string;
  let nas: HandNas;

  beforeAll(async () => {
    r = await startRadiusWorld([{ name: 'vpn', address: '127.0.0.1', mode: 'challenge', maxWaitSeconds: 20 }]);
    secret = r.secrets.vpn!;
  });
  afterAll(async () => { await r?.close(); });
  beforeEach(async () => { nas = await HandNas.open(r.port); });
  afterEach(async () => { await nas.close(); });

  /** A request that must be answered: proves the server is alive after what came before it. */
  // An unknown name each time: probes must not throttle anyone the other tests sign in as.
  const probe = () => accessRequest({ secret, user: `probe-${randomBytes(4).toString('hex')}`, password: 'wrong probe' });

  it('drops malformed datagrams silently and keeps serving', async () => {
    const good = accessRequest({ secret, user: 'alice', password: 'x' }).bytes;
    const setLength = (b: Buffer, n: number) => { const c = Buffer.from(b); c.writeUInt16BE(n, 2); return c; };
    const withAttr = (raw: Buffer) => { const b = Buffer.concat([good.subarray(0, 20), raw]); b.writeUInt16BE(b.length, 2); return b; };
    const malformed: Buffer[] = [
      Buffer.alloc(0),
      good.subarray(0, 19), // shorter than a header
      setLength(good, 19), // Length below the minimum
      setLength(good, good.length + 10), // Length beyond the datagram (truncated)
      setLength(Buffer.concat([good, Buffer.alloc(5000 - good.length)]), 5000), // above 4096
      withAttr(Buffer.from([USER_NAME, 0, 0x61])), // attribute length 0
      withAttr(Buffer.from([USER_NAME, 1, 0x61])), // attribute length 1
      withAttr(Buffer.from([USER_NAME, 40, 0x61, 0x62])), // attribute past the end
      withAttr(Buffer.from([USER_NAME])), // a lone type octet
      ...Array.from({ length: 20 }, () => randomBytes(20 + Math.floor(Math.random() * 100))),
    ];
    const before = r.server.counters();
    for (const m of malformed) await nas.send(m);
    const p = probe();
    const reply = await nas.ask(p);
    expect(reply[0]).toBe(3);
    expectAuthenticReply(reply, p, secret);
    expect(nas.replies).toHaveLength(1); // nothing but the probe was answered
    const after = r.server.counters();
    const dropped = (['malformed', 'bad_message_authenticator', 'missing_message_authenticator', 'not_access_request'] as const)
      .reduce((n, k) => n + after[k] - before[k], 0);
    expect(dropped).toBe(malformed.length);
    expect(after.malformed - before.malformed).toBeGreaterThanOrEqual(9);
  });

  it('drops what is not an Access-Request, and Message-Authenticators that are doubled, short or wrong', async () => {
    const doubled = accessRequest({ secret, user: 'alice', password: 'x', attrs: [[MESSAGE_AUTHENTICATOR, Buffer.alloc(16)]] });
    const short = accessRequest({ secret, user: 'alice', password: 'x', ma: 'none', attrs: [[MESSAGE_AUTHENTICATOR, Buffer.alloc(15)]] });
    const tampered = accessRequest({ secret, user: 'alice', password: 'x' });
    tampered.bytes[22]! ^= 1; // the user name changed after signing
    const dropped = [
      accessRequest({ secret, user: 'alice', password: 'x', code: 4 }).bytes, // Accounting-Request
      accessRequest({ secret, user: 'alice', password: 'x', code: 2 }).bytes, // an Access-Accept sent to the server
      accessRequest({ secret, code: 12, ma: 'none' }).bytes, // Status-Server without Message-Authenticator (RFC 5997 3)
      doubled.bytes, short.bytes, tampered.bytes,
    ];
    const before = r.server.counters();
    for (const d of dropped) await nas.send(d);
    const p = probe();
    expect((await nas.ask(p))[1]).toBe(p.identifier);
    expect(nas.replies).toHaveLength(1);
    const after = r.server.counters();
    expect(after.not_access_request - before.not_access_request).toBe(2);
    expect(after.bad_message_authenticator - before.bad_message_authenticator).toBe(3);
    expect(after.missing_message_authenticator - before.missing_message_authenticator).toBe(1);
  });

  it('answers authenticated requests with odd contents by Access-Reject, never a crash', async () => {
    const odd = [
      accessRequest({ secret, attrs: [[USER_NAME, Buffer.from([0xff, 0xfe, 0x41])]], password: PushWorld.password }), // not UTF-8
      accessRequest({ secret, attrs: [[USER_NAME, Buffer.from('ali\u0000ce')]], password: PushWorld.password }), // a NUL
      accessRequest({ secret, user: 'alice', attrs: [[USER_PASSWORD, randomBytes(17)]] }), // not a multiple of 16
      accessRequest({ secret, user: 'alice', attrs: [[USER_PASSWORD, randomBytes(144)]] }), // longer than 128
      accessRequest({ secret, password: PushWorld.password }), // no User-Name
      accessRequest({ secret, user: 'alice', password: PushWorld.password, attrs: [[USER_NAME, Buffer.from('bob')]] }), // two names
      accessRequest({ secret, user: 'alice', attrs: [[CHAP_PASSWORD, randomBytes(17)]] }), // CHAP
      accessRequest({ secret, user: 'alice', attrs: [[STATE, randomBytes(200)]] }), // a State we never gave
      accessRequest({ secret, user: 'alice', attrs: [[STATE, Buffer.from('A'.repeat(32))]] }), // one shaped like ours
      accessRequest({ secret, user: 'a'.repeat(253), password: PushWorld.password }), // the longest name
      accessRequest({ secret, user: 'alice', password: `${PushWorld.password}\u0000x` }), // a NUL inside the password
      accessRequest({ secret, user: '__proto__', password: PushWorld.password }),
      accessRequest({ secret, user: 'alice', password: '' }), // empty
      accessRequest({ secret, user: 'alice', password: ',123456' }), // a passcode and no password
    ];
    for (const req of odd) {
      const reply = await nas.ask(req);
      expect(reply[0]).toBe(3);
      expectAuthenticReply(reply, req, secret);
    }
  });

  it('answers Status-Server (RFC 5997) with an Access-Accept carrying Message-Authenticator and the request\'s Proxy-State', async () => {
    const status = accessRequest({ secret, code: 12 });
    const reply = await nas.ask(status);
    expect(reply[0]).toBe(2);
    expectAuthenticReply(reply, status, secret);
    expect(replyAttributes(reply).map(([t]) => t)).toEqual([MESSAGE_AUTHENTICATOR]);
    // RFC 2865 5.33 (red-team): a proxy's Proxy-State comes back, so it can match its health check.
    const proxied = accessRequest({ secret, code: 12, attrs: [[PROXY_STATE, Buffer.from('hop-1')]] });
    const back = await nas.ask(proxied);
    expectAuthenticReply(back, proxied, secret);
    expect(replyAttributes(back).map(([t, v]) => [t, t === PROXY_STATE ? v.toString() : null])).toEqual([[MESSAGE_AUTHENTICATOR, null], [PROXY_STATE, 'hop-1']]);
  });

  it('copies Proxy-State into the reply, after the Message-Authenticator (RFC 2865 5.33)', async () => {
    const req = accessRequest({ secret, user: `nobody-${randomBytes(4).toString('hex')}`, password: 'wrong', attrs: [[PROXY_STATE, Buffer.from('hop-1')], [PROXY_STATE, Buffer.from('hop-2')]] });
    const reply = await nas.ask(req);
    expectAuthenticReply(reply, req, secret);
    expect(replyAttributes(reply).map(([t, v]) => [t, t === PROXY_STATE ? v.toString() : null])).toEqual([
      [MESSAGE_AUTHENTICATOR, null], [REPLY_MESSAGE, null], [PROXY_STATE, 'hop-1'], [PROXY_STATE, 'hop-2'],
    ]);
  });

  // Red-team (headless round, 2026-12-05): a request refused before the sign-in (CHAP, EAP, a doubled
  // attribute, a User-Password of odd length) got its Access-Reject without the Proxy-State, which a
  // proxy in front forwarding CHAP or EAP could not match to its request.
  it.each([
    ['CHAP', [[CHAP_PASSWORD, randomBytes(17)]]],
    ['EAP-Message', [[79, Buffer.from([2, 1, 0, 6, 1, 0x61])]]],
    ['two User-Names', [[USER_NAME, Buffer.from('bob')], [USER_PASSWORD, randomBytes(16)]]],
    ['a User-Password of 17 octets', [[USER_PASSWORD, randomBytes(17)]]],
  ] as const)('a request refused before the sign-in (%s) gets its Proxy-State back too', async (_what, attrs) => {
    const req = accessRequest({ secret, user: 'alice', attrs: [...attrs.map(([t, v]) => [t, v] as [number, Buffer]), [PROXY_STATE, Buffer.from('hop-1')]] });
    const reply = await nas.ask(req);
    expect(reply[0]).toBe(3);
    expectAuthenticReply(reply, req, secret);
    expect(replyAttributes(reply).filter(([t]) => t === PROXY_STATE).map(([, v]) => v.toString())).toEqual(['hop-1']);
  });

  // Red-team: the reply (Proxy-State copied) did not fit in 4096 octets; the push had gone already,
  // no reply was sent, and each retransmission sent another push.
  it('a request whose Proxy-State leaves no room for the reply: Access-Reject before the sign-in, no push sent', async () => {
    const accountId = await addUser(r.w, 'pia');
    await enroll(r.w, { accountId });
    const pushes = async () => (await auditEvents(r.w, 'push.sent')).filter((e) => e.account_id === accountId).length;
    const filler = Array.from({ length: 15 }, (): [number, Buffer] => [PROXY_STATE, randomBytes(253)]);
    // Filled to the largest legal request: 4096 octets.
    const short = accessRequest({ secret, user: 'pia', password: PushWorld.password, attrs: filler }).bytes.length;
    const req = accessRequest({ secret, user: 'pia', password: PushWorld.password, attrs: [...filler, [PROXY_STATE, randomBytes(4096 - short - 2)]] });
    expect(req.bytes.length).toBe(4096);
    const reply = await nas.ask(req);
    expect(reply[0]).toBe(3);
    expectAuthenticReply(reply, req, secret);
    expect(replyAttributes(reply).some(([t]) => t === PROXY_STATE)).toBe(false);
    expect(await pushes()).toBe(0);
    // With fewer hops the same sign-in goes on to the phone.
    const fits = accessRequest({ secret, user: 'pia', password: PushWorld.password, attrs: filler.slice(0, 12) });
    const challenge = await nas.ask(fits);
    expect(challenge[0]).toBe(11);
    expect(replyAttributes(challenge).filter(([t]) => t === PROXY_STATE)).toHaveLength(12);
    await waitUntil(async () => (await pushes()) === 1, 5000, 'the push sent');
  });

  it('a retransmitted wrong password gets the same reply, counted as one failure', async () => {
    const accountId = await addUser(r.w, 'rita');
    const failures = async () => (await auditEvents(r.w, 'signin.failure')).filter((e) => e.account_id === accountId).length;
    const before = await failures();
    const retransmittedBefore = r.server.counters().retransmitted;
    const req = accessRequest({ secret, user: 'rita', password: 'a wrong one' });
    await nas.send(req.bytes);
    const [first] = await nas.until(1);
    await nas.send(req.bytes);
    const [, second] = await nas.until(2);
    expect(second!.equals(first!)).toBe(true);
    expectAuthenticReply(first!, req, secret);
    expect(await failures()).toBe(before + 1);
    expect(r.server.counters().retransmitted).toBe(retransmittedBefore + 1);
  });

  it('a retransmitted password,passcode gets the same Access-Accept, though the code works only once', async () => {
    const { phone } = await enroll(r.w, { push: false, accountId: await addUser(r.w, 'ron') });
    // One code for both requests: read twice, it could be the next step's (a flake at a step's end).
    const code = phone.currentTotp();
    const req = accessRequest({ secret, user: 'ron', password: `${PushWorld.password},${code}` });
    await nas.send(req.bytes);
    const [first] = await nas.until(1);
    expect(first![0]).toBe(2);
    await nas.send(req.bytes);
    const [, second] = await nas.until(2);
    expect(second!.equals(first!)).toBe(true);
    // The same code in a new request (new authenticator) is a replay: refused.
    const again = accessRequest({ secret, user: 'ron', password: `${PushWorld.password},${code}` });
    expect((await nas.ask(again))[0]).toBe(3);
  });

  it('copies of a request still waiting for the phone are dropped; the one reply comes on approval and is sent again to later copies', async () => {
    const { phone } = await enroll(r.w);
    const first = accessRequest({ secret, user: 'alice', password: PushWorld.password });
    const challenge = await nas.ask(first);
    expect(challenge[0]).toBe(11);
    const attrs = replyAttributes(challenge);
    const state = attrs.find(([t]) => t === STATE)![1];
    const number = Number(/number (\d{2})/.exec(attrs.find(([t]) => t === REPLY_MESSAGE)![1].toString())![1]);
    const enter = accessRequest({ secret, user: 'alice', attrs: [[STATE, state]] });
    const before = r.server.counters();
    await nas.send(enter.bytes);
    await waitUntil(async () => r.server.inFlight() === 1, 5000, 'the Enter held');
    await nas.send(enter.bytes);
    await nas.send(enter.bytes);
    await waitUntil(async () => r.server.counters().duplicate_in_progress === before.duplicate_in_progress + 2, 5000, 'copies dropped');
    expect(nas.replies).toHaveLength(1);
    const ch = await newestChallenge(phone);
    await phone.respond(ch.id, 'approve', { number });
    const [, accept] = await nas.until(2);
    expect(accept![0]).toBe(2);
    expectAuthenticReply(accept!, enter, secret);
    await nas.send(enter.bytes);
    const [, , again] = await nas.until(3);
    expect(again!.equals(accept!)).toBe(true);
    expect(r.server.counters().accept - before.accept).toBe(1);
  });

  it('twenty parallel password guesses for one user: the login page\'s throttle lets only the first few be checked', async () => {
    const accountId = await addUser(r.w, 'paul');
    const guesses = Array.from({ length: 20 }, (_, i) => accessRequest({ secret, user: 'paul', password: `guess ${i}`, identifier: i }));
    await Promise.all(guesses.map((g) => nas.send(g.bytes)));
    const replies = await nas.until(20);
    expect(replies.every((x) => x[0] === 3)).toBe(true);
    const throttled = replies.filter((x) => /Too many attempts/.test(replyAttributes(x).find(([t]) => t === REPLY_MESSAGE)![1].toString()));
    const checked = (await auditEvents(r.w, 'signin.failure')).filter((e) => e.account_id === accountId).length;
    expect(checked + throttled.length).toBe(20);
    expect(checked).toBeLessThanOrEqual(4);
  });

  it('the attribute bytes helper builds what the codec reads (guards this file\'s own packets)', () => {
    expect(attrBytes([[1, Buffer.from('ab')]])).toEqual(Buffer.from([1, 4, 0x61, 0x62]));
  });
});
