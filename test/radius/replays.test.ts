import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createReplayGuard } from '../../src/radius/replays.js';
import { PushWorld } from '../support/push-world.js';
import { addUser, auditEvents, enroll, waitUntil } from '../signin/helpers.js';
import { accessRequest, expectAuthenticReply, HandNas, REPLY_MESSAGE, replyAttributes, type Attr } from './packets.js';
import { startRadiusWorld, type RadiusWorld } from './world.js';

/**
 * Replayed Access-Requests (red-team, RADIUS round): an attacker on the network who has neither a
 * password nor the shared secret captures one request and sends the very datagram again from
 * another source port. It is no retransmission (those come from the NAS's own port and get the
 * first reply again, duplicates.test.ts), and it used to be a new sign-in: a second push to the
 * phone, or, for `password,TOTP`, a password and a passcode attempt counted against the user.
 * Now a Request Authenticator is taken once per NAS (src/radius/replays.ts), across ports and
 * instances, and an authenticated Event-Timestamp older than the window is dropped too.
 */
const CALLING_STATION_ID = 31;
const EVENT_TIMESTAMP = 55;
const ipAttr = (ip: string): Attr => [CALLING_STATION_ID, Buffer.from(ip)];
const stampAttr = (secondsAgo: number): Attr => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(Math.floor(Date.now() / 1000) - secondsAgo);
  return [EVENT_TIMESTAMP, b];
};
const messageOf = (reply: Buffer) => replyAttributes(reply).find(([t]) => t === REPLY_MESSAGE)?.[1].toString() ?? '';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('RADIUS: a captured request sent again from another port', () => {
  let r: RadiusWorld;
  let secret: string;
  beforeAll(async () => {
    r = await startRadiusWorld([{ name: 'vpn', address: '127.0.0.1', mode: 'challenge', maxWaitSeconds: 20 }]);
    secret = r.secrets.vpn!;
  });
  afterAll(async () => { await r?.close(); });

  const pushesFor = async (accountId: string) => (await auditEvents(r.w, 'push.sent')).filter((e) => e.account_id === accountId).length;

  it('challenge mode: the copy gets no reply and sends no second push; the NAS\'s own retransmission still gets its reply', async () => {
    const accountId = await addUser(r.w, 'replay-push');
    await enroll(r.w, { accountId });
    const nas = await HandNas.open(r.port);
    const attacker = await HandNas.open(r.port);
    try {
      const req = accessRequest({ secret, user: 'replay-push', password: PushWorld.password, attrs: [ipAttr('198.51.100.21')] });
      const first = await nas.ask(req);
      expect(first[0]).toBe(11);
      await waitUntil(async () => (await pushesFor(accountId)) === 1, 5000, 'the first push');
      const dropped = () => { const c = r.server.counters(); return c.replayed + c.duplicate_in_progress; };
      const before = dropped();
      // In parallel, as an attacker would: 20 copies from the other port (those that meet one still
      // being checked are that one's duplicates).
      await Promise.all(Array.from({ length: 20 }, () => attacker.send(req.bytes)));
      await waitUntil(async () => dropped() === before + 20 || null, 5000, 'the copies dropped');
      expect(r.server.counters().replayed).toBeGreaterThan(0);
      await sleep(300);
      expect(attacker.replies).toEqual([]);
      expect(await pushesFor(accountId)).toBe(1);
      // RFC 5080: the same datagram from the NAS's own port is its retransmission: the same reply.
      const again = await nas.ask(req);
      expect(again.equals(first)).toBe(true);
    } finally {
      await nas.close();
      await attacker.close();
    }
  });

  it('password,TOTP: copies of an accepted request count no failure against the user, whose next sign-in is not held up', async () => {
    const accountId = await addUser(r.w, 'replay-totp');
    const { phone } = await enroll(r.w, { accountId, push: false });
    const nas = await HandNas.open(r.port);
    const attackers = await Promise.all(Array.from({ length: 5 }, () => HandNas.open(r.port)));
    try {
      const req = accessRequest({ secret, user: 'replay-totp', password: `${PushWorld.password},${phone.currentTotp()}`, attrs: [ipAttr('198.51.100.22')] });
      const accepted = await nas.ask(req);
      expect(accepted[0]).toBe(2);
      expectAuthenticReply(accepted, req, secret);
      for (const a of attackers) await a.send(req.bytes);
      await sleep(800);
      for (const a of attackers) expect(a.replies).toEqual([]);
      const rows = await r.w.t.idp.db.query<{ type: string }>('SELECT type FROM audit_events WHERE account_id = $1 ORDER BY id', [accountId]);
      expect(rows.map((x) => x.type).filter((t) => /failure|throttled/.test(t))).toEqual([]);
      expect(rows.filter((x) => x.type === 'signin.success')).toHaveLength(1);
      // The user's own next sign-in goes through at once (a push: the code's step is spent).
      const next = await nas.ask(accessRequest({ secret, user: 'replay-totp', password: PushWorld.password, attrs: [ipAttr('198.51.100.22')] }));
      expect(next[0]).toBe(11);
      expect(messageOf(next)).not.toMatch(/Too many/);
    } finally {
      await nas.close();
      for (const a of attackers) await a.close();
    }
  });

  it('an authenticated Event-Timestamp older than the window is dropped before any sign-in; a fresh one is answered', async () => {
    const accountId = await addUser(r.w, 'replay-stamp');
    await enroll(r.w, { accountId });
    const nas = await HandNas.open(r.port);
    try {
      const before = r.server.counters().replayed;
      await nas.send(accessRequest({ secret, user: 'replay-stamp', password: PushWorld.password, attrs: [ipAttr('198.51.100.23'), stampAttr(2 * 3600)] }).bytes);
      await waitUntil(async () => r.server.counters().replayed === before + 1 || null, 5000, 'the old request dropped');
      expect(nas.replies).toEqual([]);
      expect(await pushesFor(accountId)).toBe(0);
      const fresh = await nas.ask(accessRequest({ secret, user: 'replay-stamp', password: PushWorld.password, attrs: [ipAttr('198.51.100.23'), stampAttr(2)] }));
      expect(fresh[0]).toBe(11);
    } finally {
      await nas.close();
    }
  });

  it('the guard on Redis: an authenticator is taken once per NAS, by one of many callers at once; forgotten, it may be taken again', async () => {
    const guard = createReplayGuard(r.w.t.idp.redis, 60);
    const authenticator = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const nas = `guard-${Date.now()}`;
    const takes = await Promise.all(Array.from({ length: 50 }, () => guard.first(nas, authenticator, 30)));
    expect(takes.filter(Boolean)).toHaveLength(1);
    // Another NAS's requests are its own.
    expect(await guard.first(`${nas}-other`, authenticator, 30)).toBe(true);
    await guard.forget(nas, authenticator);
    expect(await guard.first(nas, authenticator, 30)).toBe(true);
  });

  it('a request is held only as long as it may take until it is answered, then for the hour (red-team review: a server that died mid-request locked its NAS\'s failover out for an hour)', async () => {
    const guard = createReplayGuard(r.w.t.idp.redis);
    const authenticator = Buffer.from('ffeeddccbbaa99887766554433221100', 'hex');
    const nas = `hold-${Date.now()}`;
    const ttl = async () => {
      const keys = await r.w.t.idp.redis.keys(`*radius:ra:${Buffer.from(nas).toString('hex')}:*`);
      expect(keys).toHaveLength(1);
      return r.w.t.idp.redis.ttl(keys[0]!.slice(keys[0]!.indexOf('radius:ra:')));
    };
    expect(await guard.first(nas, authenticator, 50)).toBe(true);
    expect(await ttl()).toBeLessThanOrEqual(50);
    await guard.answered(nas, authenticator);
    expect(await ttl()).toBeGreaterThan(3500);
  });
});
