import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createSocket } from 'node:dgram';
import { PushWorld } from '../support/push-world.js';
import { addUser, enroll, waitUntil } from '../signin/helpers.js';
import { accessRequest, HandNas, replyAttributes, STATE, USER_NAME } from './packets.js';
import { startRadiusWorld, type RadiusWorld } from './world.js';

/**
 * Red-team (non-browser doors): the duplicate cache (RFC 5080) was one bounded map for every NAS,
 * and its oldest entries made way first: exactly the requests held waiting for a phone. After
 * 10,000 answered requests in a minute (a busy NAS, or anyone with one NAS's secret sending
 * requests refused at once), a retransmission of a held request was taken as new: a second sign-in
 * and a second push; after a challenge, its State spent and an Access-Reject the NAS took while the
 * user was still approving. Now a held request never makes way, and each NAS has its own share.
 */
const ACCESS_ACCEPT = 2;
const ACCESS_CHALLENGE = 11;
const FLOOD = 10_000;

/** `count` Access-Requests without a User-Name (refused before any sign-in), sent in batches, each batch's replies awaited. */
async function flood(send: (bytes: Buffer) => Promise<void>, replies: () => number, secret: string): Promise<void> {
  const start = replies();
  for (let sent = 0; sent < FLOOD; sent += 250) {
    for (let i = 0; i < 250; i++) await send(accessRequest({ secret, attrs: [[USER_NAME + 30, Buffer.from('x')]], identifier: (sent + i) % 256 }).bytes);
    await waitUntil(async () => replies() - start >= sent + 250 || null, 20_000, 'flood replies');
  }
}

describe('RADIUS retransmissions of a held request, after 10,000 other requests', () => {
  let r: RadiusWorld;
  beforeAll(async () => {
    r = await startRadiusWorld([
      { name: 'vpn', displayName: 'Office VPN', address: '127.0.0.1', mode: 'single', maxWaitSeconds: 60, login: { numberMatching: false } },
    ]);
  });
  afterAll(async () => { await r?.close(); });

  it('the same NAS\'s flood does not make a held request\'s copy a second sign-in: one push, one Access-Accept', async () => {
    const user = `d${Math.random().toString(36).slice(2, 8)}`;
    const accountId = await addUser(r.w, user);
    const { phone } = await enroll(r.w, { accountId });
    const nas = await HandNas.open(r.port);
    const other = await HandNas.open(r.port);
    try {
      const held = accessRequest({ secret: r.secrets.vpn!, user, password: PushWorld.password, identifier: 7 });
      await nas.send(held.bytes);
      await waitUntil(async () => (await phone.pending()).length === 1 || null, 10_000, 'the push');
      await flood((b) => other.send(b), () => other.replies.length, r.secrets.vpn!);
      const droppedBefore = r.server.counters().duplicate_in_progress;
      await nas.send(held.bytes); // the NAS retransmits
      await waitUntil(async () => r.server.counters().duplicate_in_progress > droppedBefore || null, 5000, 'the copy dropped');
      expect(r.server.inFlight()).toBe(1);
      const pending = await phone.pending();
      expect(pending).toHaveLength(1);
      await phone.respond(pending[0]!.id, 'approve');
      const [reply] = await nas.until(1, 10_000);
      expect(reply![0]).toBe(ACCESS_ACCEPT);
      expect(reply![1]).toBe(7);
      await new Promise((res) => setTimeout(res, 300));
      expect(nas.replies).toHaveLength(1);
    } finally {
      await nas.close();
      await other.close();
    }
  }, 120_000);
});

describe('RADIUS: one NAS\'s traffic does not reach another\'s retransmissions', () => {
  let r: RadiusWorld;
  beforeAll(async () => {
    r = await startRadiusWorld([
      { name: 'vpn', displayName: 'Office VPN', address: '127.0.0.1', mode: 'challenge', maxWaitSeconds: 60, login: { numberMatching: false } },
      { name: 'wifi', displayName: 'Wi-Fi', address: '127.0.0.2' },
    ]);
  });
  afterAll(async () => { await r?.close(); });

  it('a retransmitted Enter waiting for the phone is still dropped after 10,000 of another NAS\'s requests; the approval answers it Accept', async () => {
    const user = `e${Math.random().toString(36).slice(2, 8)}`;
    const accountId = await addUser(r.w, user);
    const { phone } = await enroll(r.w, { accountId });
    const nas = await HandNas.open(r.port);
    const wifi = createSocket('udp4');
    await new Promise<void>((res) => wifi.bind(0, '127.0.0.2', res));
    let wifiReplies = 0;
    wifi.on('message', () => { wifiReplies++; });
    try {
      const first = await nas.ask(accessRequest({ secret: r.secrets.vpn!, user, password: PushWorld.password }));
      expect(first[0]).toBe(ACCESS_CHALLENGE);
      const state = replyAttributes(first).find(([t]) => t === STATE)![1];
      const enter = accessRequest({ secret: r.secrets.vpn!, user, attrs: [[STATE, Buffer.from(state)]], identifier: 9 });
      const before = nas.replies.length;
      await nas.send(enter.bytes);
      await waitUntil(async () => r.server.inFlight() === 1 || null, 5000, 'Enter held');
      await flood((b) => new Promise<void>((res, rej) => wifi.send(b, r.port, '127.0.0.1', (e) => (e ? rej(e) : res()))), () => wifiReplies, r.secrets.wifi!);
      const droppedBefore = r.server.counters().duplicate_in_progress;
      await nas.send(enter.bytes); // vpn's NAS retransmits its Enter
      await waitUntil(async () => r.server.counters().duplicate_in_progress > droppedBefore || null, 5000, 'the copy dropped');
      expect(nas.replies).toHaveLength(before); // no Access-Reject while the user has not answered
      const [ch] = await phone.pending();
      await phone.respond(ch!.id, 'approve');
      const replies = await nas.until(before + 1, 10_000);
      expect(replies[before]![0]).toBe(ACCESS_ACCEPT);
      expect(replies[before]![1]).toBe(9);
    } finally {
      await nas.close();
      await new Promise<void>((res) => wifi.close(() => res()));
    }
  }, 120_000);
});
