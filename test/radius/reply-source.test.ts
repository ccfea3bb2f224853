import { randomBytes } from 'node:crypto';
import { createSocket, type RemoteInfo } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RadiusServer } from '../../src/radius/index.js';
import { accessRequest, expectAuthenticReply, type BuiltRequest } from './packets.js';
import { printTranscripts, radclient, request, startRadiusWorld, type RadiusWorld } from './world.js';

/**
 * Red-team: with RADIUS_HOST 0.0.0.0 (the default), a request sent to one of the machine's
 * addresses was answered from another (the one the kernel routes back from), and the NAS threw the
 * reply away (RFC 2865 sections 3 and 4; radclient: "Received reply to request we did not send"):
 * a push approved, its Access-Accept discarded. RADIUS_HOST now takes a list of addresses, each
 * bound by a socket of its own, and a reply leaves from the socket its request arrived on
 * (src/radius/listeners.ts); a wildcard on such a machine warns at start.
 *
 * The NAS here is 127.0.0.1 sending to this machine's non-loopback IPv4 address: a wildcard socket
 * answers it from 127.0.0.1.
 */

/** This machine's first non-loopback IPv4 address; the test means nothing without one. */
function nonLoopbackIpv4(): string {
  const found = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
  if (!found) throw new Error('this test needs a non-loopback IPv4 address on this machine: os.networkInterfaces() lists none');
  return found.address;
}

/** Sends from a socket bound to `from` and resolves with the reply and the address it came from (null: none in time). */
async function askFrom(from: string, to: string, port: number, req: BuiltRequest, timeoutMs = 3000): Promise<{ reply: Buffer; rinfo: RemoteInfo } | null> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, from, resolve));
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      socket.on('message', (reply, rinfo) => { clearTimeout(timer); resolve({ reply, rinfo }); });
      socket.send(req.bytes, port, to, (err) => { if (err) { clearTimeout(timer); reject(err); } });
    });
  } finally {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}

describe('RADIUS replies leave from the address the NAS sent to (RADIUS_HOST a list)', () => {
  let r: RadiusWorld;
  let secret: string;
  let door: RadiusServer | undefined;
  let port: number;
  let address: string;

  beforeAll(async () => {
    address = nonLoopbackIpv4();
    r = await startRadiusWorld([{ name: 'vpn', address: '127.0.0.1', mode: 'challenge', maxWaitSeconds: 5 }]);
    secret = r.secrets.vpn!;
    // The first free port of 4610-4639 (the world's own door listens on 127.0.0.1 elsewhere).
    for (let p = 4610; !door; p++) {
      try {
        door = await r.w.t.idp.radius.listen(p, `127.0.0.1,${address}`);
      } catch (err) {
        if (p >= 4639 || !/already in use/.test(String(err))) throw err;
      }
    }
    port = door.address().port;
  });
  afterAll(async () => {
    printTranscripts('radclient exchanges (reply source)');
    await r?.close();
  });

  const unknownUser = () => accessRequest({ secret, user: `nobody-${randomBytes(4).toString('hex')}`, password: 'wrong' });

  it('binds each address of the list', () => {
    expect(door!.address()).toEqual({ address: '127.0.0.1', port });
    expect(door!.addresses()).toEqual(['127.0.0.1', address]);
  });

  it('a request from 127.0.0.1 to the non-loopback address is answered from that address', async () => {
    const req = unknownUser();
    const got = await askFrom('127.0.0.1', address, port, req);
    expect(got).not.toBeNull();
    expect(`${got!.rinfo.address}:${got!.rinfo.port}`).toBe(`${address}:${port}`);
    expect(got!.reply[0]).toBe(3); // Access-Reject, authentic
    expectAuthenticReply(got!.reply, req, secret);
  });

  it('and a request to 127.0.0.1 from 127.0.0.1', async () => {
    const req = unknownUser();
    const got = await askFrom('127.0.0.1', '127.0.0.1', port, req);
    expect(`${got?.rinfo.address}:${got?.rinfo.port}`).toBe(`127.0.0.1:${port}`);
    expectAuthenticReply(got!.reply, req, secret);
  });

  it('a retransmission is answered again from the address it was sent to', async () => {
    const req = unknownUser();
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const replies: RemoteInfo[] = [];
    socket.on('message', (_m, rinfo) => replies.push(rinfo));
    const before = door!.counters().retransmitted;
    for (let i = 0; i < 2; i++) {
      socket.send(req.bytes, port, address);
      const want = i + 1;
      for (let t = 0; t < 100 && replies.length < want; t++) await new Promise((res) => setTimeout(res, 20));
    }
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    expect(replies.map((x) => x.address)).toEqual([address, address]);
    expect(door!.counters().retransmitted).toBe(before + 1);
  });

  it('radclient (FreeRADIUS) from 127.0.0.1 to the non-loopback address gets its reply', async () => {
    // Packet-Src-IP-Address: radclient sends from 127.0.0.1, the NAS's registered address.
    const got = await radclient({
      port, secret, server: address, timeoutSeconds: 3, label: `radclient from 127.0.0.1 to ${address} (RADIUS_HOST 127.0.0.1,${address})`,
      attributes: request({ user: `nobody-${randomBytes(4).toString('hex')}`, password: 'wrong', extra: 'Packet-Src-IP-Address = 127.0.0.1' }),
    });
    expect(got.transcript).not.toMatch(/did not send/);
    expect(got.transcript).toMatch(new RegExp(`Received Access-Reject Id \\d+ from ${address.replace(/\./g, '\\.')}:${port} to 127\\.0\\.0\\.1:`));
    expect(got.code).toBe('Access-Reject');
  });
});
