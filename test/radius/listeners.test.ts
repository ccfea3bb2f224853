import { createSocket, type RemoteInfo } from 'node:dgram';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { afterEach, describe, expect, it } from '@jest/globals';
import { SETTINGS } from '../../src/config/settings.js';
import { createLogger } from '../../src/log.js';
import { parseRadiusClient } from '../../src/radius/clients.js';
import { addressesToBind, hostList, isWildcard, openListeners, type Interfaces, type Listeners, type Reply } from '../../src/radius/listeners.js';
import { startRadiusServer, type RadiusServer } from '../../src/radius/server.js';
import { accessRequest } from './packets.js';
import { newSecret } from './world.js';

/**
 * Which addresses the RADIUS door binds (src/radius/listeners.ts): the pure choice from the
 * interface list, RADIUS_HOST's reading, and the sockets following the machine's addresses (a VRRP
 * virtual IP that comes and goes), with the interface reader injected. The end-to-end reply source
 * through the IdP is test/radius/reply-source.test.ts.
 */

const iface = (address: string, extra: Partial<NetworkInterfaceInfo> = {}): NetworkInterfaceInfo => (address.includes(':')
  ? { address, family: 'IPv6', netmask: 'ffff:ffff:ffff:ffff::', mac: '02:00:00:00:00:01', internal: false, cidr: `${address}/64`, scopeid: 0, ...extra }
  : { address, family: 'IPv4', netmask: '255.255.255.0', mac: '02:00:00:00:00:01', internal: false, cidr: `${address}/24`, ...extra }) as NetworkInterfaceInfo;

const machine: Interfaces = {
  lo: [iface('127.0.0.1', { internal: true }), iface('::1', { internal: true })],
  eth0: [iface('192.0.2.10'), iface('192.0.2.99'), iface('2001:db8::10'), iface('fe80::1', { scopeid: 2 })],
  eth1: [iface('198.51.100.7')],
  vrrp: [iface('192.0.2.10')], // the same address on two interfaces: one socket
  down: undefined,
};

describe('addressesToBind (pure)', () => {
  it('0.0.0.0: every IPv4 address of the machine, once', () => {
    expect(addressesToBind('0.0.0.0', machine)).toEqual(['127.0.0.1', '192.0.2.10', '192.0.2.99', '198.51.100.7']);
  });

  it(':: (dual-stack): every IPv4 and IPv6 address, link-local left to the wildcard', () => {
    expect(addressesToBind('::', machine)).toEqual(['127.0.0.1', '::1', '192.0.2.10', '192.0.2.99', '2001:db8::10', '198.51.100.7']);
  });

  it('a list: exactly its addresses, whatever the machine has', () => {
    expect(addressesToBind('192.0.2.10, 2001:db8::10', machine)).toEqual(['192.0.2.10', '2001:db8::10']);
    expect(addressesToBind('203.0.113.5', {})).toEqual(['203.0.113.5']);
    expect(addressesToBind('0.0.0.0', {})).toEqual([]);
  });

  it('wildcards however spelled; lists trimmed', () => {
    expect(['0.0.0.0', '::', '0:0:0:0:0:0:0:0', '::0'].every(isWildcard)).toBe(true);
    expect(['127.0.0.1', '::1', '10.0.0.0', 'nonsense', ''].some(isWildcard)).toBe(false);
    expect(hostList(' 192.0.2.1 ,192.0.2.2')).toEqual(['192.0.2.1', '192.0.2.2']);
  });
});

describe('RADIUS_HOST', () => {
  const read = (raw: string | undefined) => SETTINGS.radiusHost.read(raw);
  it('one address, a wildcard, or a comma-separated list', () => {
    expect(read(undefined)).toBe('0.0.0.0');
    expect(read('')).toBe('0.0.0.0');
    expect(read('::')).toBe('::');
    expect(read('192.0.2.1, 192.0.2.2 ,2001:db8::1')).toBe('192.0.2.1,192.0.2.2,2001:db8::1');
  });
  it('refuses what is not an address, a wildcard in a list, and an address twice', () => {
    expect(() => read('radius.example.com')).toThrow(/IP address/);
    expect(() => read('192.0.2.1,')).toThrow(/IP address/);
    expect(() => read('0.0.0.0,192.0.2.1')).toThrow(/stands alone/);
    expect(() => read('0.0.0.0,::')).toThrow(/stands alone/);
    expect(() => read('192.0.2.1,192.0.2.1')).toThrow(/twice/);
  });
});

/** This machine's first non-loopback IPv4 address. */
function nonLoopbackIpv4(): string {
  const found = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
  if (!found) throw new Error('this test needs a non-loopback IPv4 address on this machine: os.networkInterfaces() lists none');
  return found.address;
}

/** Sends `bytes` from 127.0.0.1 and resolves with where the answer came from (null: none in time). */
async function askFrom127(to: string, port: number, bytes: Buffer, timeoutMs = 2000): Promise<{ reply: Buffer; rinfo: RemoteInfo } | null> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  try {
    return await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      socket.on('message', (reply, rinfo) => { clearTimeout(timer); resolve({ reply, rinfo }); });
      socket.send(bytes, port, to);
    });
  } finally {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}

async function until(what: string, check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Ports 4640-4699, the first free one each time (tests in other files use others). */
let nextPort = 4640;
async function onFreePort<T>(start: (port: number) => Promise<T>): Promise<T> {
  for (;;) {
    const port = nextPort++;
    try {
      return await start(port);
    } catch (err) {
      if (port >= 4699 || !/already in use/.test(String(err))) throw err;
    }
  }
}

const logger = createLogger('silent');

describe('the sockets follow the machine\'s addresses (RADIUS_HOST 0.0.0.0, interfaces injected)', () => {
  const real = nonLoopbackIpv4();
  let listeners: Listeners | null = null;
  afterEach(async () => { await listeners?.close(); listeners = null; });

  /** Echoes each datagram back through the reply it came with; `held` keeps the replies instead. */
  const open = (interfaces: () => Interfaces, held?: Reply[], host = '0.0.0.0') => onFreePort((port) => openListeners({
    host, port, logger, interfaces, rescanMs: 20,
    onMessage: (datagram, from, reply) => (held ? held.push(reply) : reply(datagram, from, () => {})),
  }));

  it('an address that appears is bound at the next scan, one that goes is closed; the wildcard answers meanwhile', async () => {
    let now: Interfaces = { lo: [iface('127.0.0.1', { internal: true })] };
    listeners = await open(() => now);
    const { port } = listeners;
    expect(listeners.addresses()).toEqual(['0.0.0.0', '127.0.0.1']);
    // Not bound yet: the wildcard answers, from the address the kernel routes back from.
    expect((await askFrom127(real, port, Buffer.from('before')))?.rinfo.address).toBe('127.0.0.1');

    // Failover: the virtual IP comes up here (and one this machine cannot bind, which is retried quietly).
    now = { lo: [iface('127.0.0.1', { internal: true })], eth0: [iface(real), iface('203.0.113.77')] };
    await until(`${real} bound`, () => listeners!.addresses().includes(real));
    expect(listeners.addresses()).toEqual(['0.0.0.0', '127.0.0.1', real]);
    const got = await askFrom127(real, port, Buffer.from('after'));
    expect(`${got?.rinfo.address}:${got?.rinfo.port}`).toBe(`${real}:${port}`);
    expect(got?.reply.toString()).toBe('after');

    // And goes away again: its socket is closed, the wildcard is still there.
    now = { lo: [iface('127.0.0.1', { internal: true })] };
    await until(`${real} closed`, () => !listeners!.addresses().includes(real));
    expect(listeners.addresses()).toEqual(['0.0.0.0', '127.0.0.1']);
    expect((await askFrom127(real, port, Buffer.from('gone')))?.rinfo.address).toBe('127.0.0.1');
  });

  it.each(['0.0.0.0', '::'])('a request whose address went while it was answered is answered through the wildcard (%s)', async (host) => {
    let now: Interfaces = { eth0: [iface(real)] };
    const held: Reply[] = [];
    listeners = await open(() => now, held, host);
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const replies: RemoteInfo[] = [];
    socket.on('message', (_m, rinfo) => replies.push(rinfo));
    socket.send('waiting for the phone', listeners.port, real);
    await until('the request', () => held.length === 1);
    now = {};
    await until(`${real} closed`, () => listeners!.addresses().length === 1);
    const sent = await new Promise<Error | null>((resolve) => held[0]!(Buffer.from('answer'), { address: '127.0.0.1', port: socket.address().port, family: 'IPv4', size: 0 }, resolve));
    expect(sent).toBeNull();
    await until('the reply', () => replies.length === 1);
    expect(replies[0]!.address).toBe('127.0.0.1');
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  });

  it(':: binds the IPv4 addresses too (udp4 sockets beside the dual-stack wildcard)', async () => {
    listeners = await open(() => ({ lo: [iface('127.0.0.1', { internal: true }), iface('::1', { internal: true })], eth0: [iface(real)] }), undefined, '::');
    expect(listeners.addresses()).toEqual(['::', '127.0.0.1', '::1', real]);
    const got = await askFrom127(real, listeners.port, Buffer.from('v4'));
    expect(`${got?.rinfo.address}:${got?.rinfo.port}`).toBe(`${real}:${listeners.port}`);
  });

  it('a reader that throws changes nothing', async () => {
    let fail = false;
    listeners = await open(() => { if (fail) throw new Error('getifaddrs failed'); return { lo: [iface('127.0.0.1', { internal: true })] }; });
    fail = true;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(listeners.addresses()).toEqual(['0.0.0.0', '127.0.0.1']);
  });
});

describe('the RADIUS server on its sockets (Status-Server, no sign-in)', () => {
  const real = nonLoopbackIpv4();
  const secret = newSecret();
  const client = parseRadiusClient('nas.json', { name: 'nas', address: '127.0.0.1', secretEnv: 'NAS_SECRET' }, { NAS_SECRET: secret });
  const start = (host: string, port: number, interfaces?: () => Interfaces): Promise<RadiusServer> => startRadiusServer({
    host, port, logger, clients: [client],
    replays: { first: async () => true, answered: async () => {}, forget: async () => {} },
    signin: {} as never, continuations: {} as never, challengeTtlSeconds: 60, now: Date.now,
    ...(interfaces ? { interfaces, rescanMs: 20 } : {}),
  });
  const status = () => accessRequest({ secret, code: 12 }).bytes;
  let server: RadiusServer | null = null;
  afterEach(async () => { await server?.close(); server = null; });

  it('a list binds exactly its addresses, each answering from itself', async () => {
    server = await onFreePort((port) => start(`127.0.0.1,${real}`, port));
    const { port } = server.address();
    expect(server.address().address).toBe('127.0.0.1');
    expect(server.addresses()).toEqual(['127.0.0.1', real]);
    for (const to of ['127.0.0.1', real]) {
      const got = await askFrom127(to, port, status());
      expect({ code: got?.reply[0], from: `${got?.rinfo.address}:${got?.rinfo.port}` }).toEqual({ code: 2, from: `${to}:${port}` });
    }
    expect(server.counters().status).toBe(2);
  });

  it('close() closes every socket, and a wildcard port in use (even by another instance) is refused', async () => {
    server = await onFreePort((port) => start('0.0.0.0', port, () => ({ lo: [iface('127.0.0.1')], eth0: [iface(real)] })));
    const { port } = server.address();
    expect(server.addresses()).toEqual(['0.0.0.0', '127.0.0.1', real]);
    // Every socket of the first shares the port with SO_REUSEADDR; the second is still told.
    await expect(start('0.0.0.0', port)).rejects.toThrow(`RADIUS_PORT: 0.0.0.0:${port} is already in use`);
    await expect(start(real, port)).rejects.toThrow(/already in use/);
    expect((await askFrom127(real, port, status()))?.rinfo.address).toBe(real);
    await server.close();
    server = null;
    // Nothing of it is left: a plain (exclusive) bind of the wildcard on its port succeeds.
    const probe = createSocket('udp4');
    await new Promise<void>((resolve, reject) => { probe.once('error', reject); probe.bind(port, '0.0.0.0', resolve); });
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  });

  it('an address of the list that is not this machine\'s stops the start, naming it', async () => {
    await expect(onFreePort((port) => start('127.0.0.1,203.0.113.77', port))).rejects.toThrow('RADIUS_HOST: 203.0.113.77 is not an address of this machine');
  });
});
