import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import type { Logger } from '../log.js';
import { listenRefusal } from '../net/listen.js';

/**
 * The UDP sockets of the RADIUS front door, and which address each reply leaves from.
 *
 * A NAS matches a reply to its request by the server address it sent to (RFC 2865 sections 3 and
 * 4; radclient: "Received reply to request we did not send"). Node's dgram cannot read a
 * datagram's destination address (no IP_PKTINFO), so a socket bound to a wildcard (0.0.0.0, ::)
 * replies from whatever address the kernel routes back from: on a host with several addresses, or
 * a VRRP/keepalived virtual IP, not the one the NAS sent to, and the NAS discards the reply (red-team:
 * an approved push whose Access-Accept was thrown away). So every address is bound by a socket of
 * its own and a reply leaves from the socket its request arrived on:
 *
 * - RADIUS_HOST a wildcard: one socket per address of the machine (0.0.0.0: its IPv4 addresses;
 *   ::, dual-stack: its IPv4 and IPv6 ones, IPv6 link-local left out), re-read every few seconds
 *   (a virtual IP that comes on failover is bound when it appears, a socket whose address went is
 *   closed), plus the wildcard socket itself for addresses not (yet) bound. They share the port,
 *   hence SO_REUSEADDR; a plain bind of the wildcard first still refuses a port in use (another
 *   instance included).
 * - RADIUS_HOST a comma-separated list: exactly those addresses, one socket each.
 */

export type Interfaces = Record<string, NetworkInterfaceInfo[] | undefined>;

/** Sends a reply from the socket its request arrived on (done gets the error, if any). */
export type Reply = (datagram: Buffer, to: RemoteInfo, done: (err: Error | null) => void) => void;

export interface Listeners {
  /** The port they share (the real one when 0 was asked). */
  readonly port: number;
  /** Every address bound now, the wildcard first when there is one. */
  addresses(): string[];
  /** Closes every socket; nothing is received after it. */
  close(): Promise<void>;
}

/** The addresses of RADIUS_HOST (settings.ts has checked them). */
export const hostList = (host: string): string[] => host.split(',').map((h) => h.trim()).filter(Boolean);

/** 0.0.0.0 or :: (however spelled). */
export const isWildcard = (address: string): boolean => isIP(address) !== 0 && /^[0:.]+$/.test(address);

/** fe80::/10: needs a zone to bind, and no NAS is configured with one; the wildcard answers it. */
const linkLocal = (address: string) => /^fe[89ab]/i.test(address);

/**
 * Pure: the addresses to bind one socket each for RADIUS_HOST, besides the wildcard socket: the
 * list itself, or for a wildcard the machine's addresses of its family (for ::, both families).
 */
export function addressesToBind(host: string, interfaces: Interfaces): string[] {
  const hosts = hostList(host);
  if (hosts.length !== 1 || !isWildcard(hosts[0]!)) return hosts;
  const withV6 = isIPv6(hosts[0]!);
  const out = new Set<string>();
  for (const info of Object.values(interfaces).flat()) {
    if (!info) continue;
    if (isIPv4(info.address) || (withV6 && isIPv6(info.address) && !linkLocal(info.address))) out.add(info.address);
  }
  return [...out];
}

function bindSocket(address: string, port: number, reuseAddr: boolean): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4', reuseAddr });
    socket.once('error', (err) => {
      try { socket.close(); } catch { /* never bound */ }
      reject(err);
    });
    socket.bind(port, address, () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}

const closeSocket = (socket: Socket) => new Promise<void>((resolve) => {
  try { socket.close(() => resolve()); } catch { resolve(); }
});

interface Bound { address: string; socket: Socket; open: boolean }

export async function openListeners(opts: {
  host: string;
  port: number;
  logger: Logger;
  onMessage: (datagram: Buffer, from: RemoteInfo, reply: Reply) => void;
  /** Reads the machine's addresses (os.networkInterfaces; tests inject their own). */
  interfaces?: (() => Interfaces) | undefined;
  /** How often a wildcard's addresses are read again. */
  rescanMs?: number | undefined;
}): Promise<Listeners> {
  const { host, logger } = opts;
  const readInterfaces = opts.interfaces ?? networkInterfaces;
  const refusal = (err: unknown, address: string, port: number) =>
    listenRefusal(err, { host: address, port, hostSetting: 'RADIUS_HOST', portSetting: 'RADIUS_PORT' });
  const bound = new Map<string, Bound>();
  let wildcard: Bound | null = null;
  let closed = false;

  const serve = (entry: Bound) => {
    // The request's own socket; once its address has gone, the wildcard's (the best there is).
    const reply: Reply = (datagram, to, done) => {
      const via = entry.open ? entry : wildcard?.open ? wildcard : null;
      if (!via) return done(new Error(`${entry.address} is no longer bound`));
      const address = isIPv6(via.address) && isIPv4(to.address) ? `::ffff:${to.address}` : to.address;
      try {
        via.socket.send(datagram, to.port, address, (err) => done(err ?? null));
      } catch (err) {
        done(err as Error);
      }
    };
    entry.socket.on('message', (datagram, from) => opts.onMessage(datagram, from, reply));
    entry.socket.on('error', (err) => logger.error({ err, address: entry.address }, 'RADIUS socket error'));
    return entry;
  };

  let port = opts.port;
  const hosts = hostList(host);
  if (hosts.length === 1 && isWildcard(hosts[0]!)) {
    // A plain bind first: SO_REUSEADDR alone would share the port with another instance in silence.
    const probe = await bindSocket(hosts[0]!, port, false).catch((err: unknown) => { throw refusal(err, hosts[0]!, port); });
    port = probe.address().port;
    await closeSocket(probe);
    const socket = await bindSocket(hosts[0]!, port, true).catch((err: unknown) => { throw refusal(err, hosts[0]!, port); });
    wildcard = serve({ address: hosts[0]!, socket, open: true });
  } else {
    for (const address of hosts) {
      try {
        const socket = await bindSocket(address, port, false);
        port = socket.address().port;
        bound.set(address, serve({ address, socket, open: true }));
      } catch (err) {
        await Promise.all([...bound.values()].map((b) => closeSocket(b.socket)));
        throw refusal(err, address, port);
      }
    }
  }

  // A wildcard's addresses, now and every rescanMs: bind the new ones, close those that went.
  const failing = new Set<string>();
  const rescan = async (atStart = false) => {
    let wanted: Set<string>;
    try {
      wanted = new Set(addressesToBind(host, readInterfaces()));
    } catch (err) {
      logger.error({ err }, 'RADIUS could not read the network interfaces');
      return;
    }
    for (const [address, entry] of bound) {
      if (wanted.has(address)) continue;
      bound.delete(address);
      entry.open = false;
      void closeSocket(entry.socket);
      logger.info({ address, port }, 'RADIUS address gone: its socket closed');
    }
    for (const address of failing) if (!wanted.has(address)) failing.delete(address);
    for (const address of wanted) {
      if (bound.has(address) || closed) continue;
      try {
        const socket = await bindSocket(address, port, true);
        if (closed) { await closeSocket(socket); return; }
        bound.set(address, serve({ address, socket, open: true }));
        failing.delete(address);
        if (!atStart) logger.info({ address, port }, 'RADIUS listening on a new address');
      } catch (err) {
        // A new IPv6 address is unusable until its duplicate detection ends, for one: tried again next time.
        if (!failing.has(address)) logger.warn({ err, address, port }, 'RADIUS could not bind an address (the wildcard answers it meanwhile; tried again)');
        failing.add(address);
      }
    }
  };
  let scanning: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;
  if (wildcard) {
    await rescan(true);
    timer = setInterval(() => { scanning ??= rescan(false).finally(() => { scanning = null; }); }, opts.rescanMs ?? 2000);
    timer.unref();
  }

  return {
    port,
    addresses: () => [...(wildcard ? [wildcard.address] : []), ...bound.keys()],
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      await scanning;
      const all = [...(wildcard ? [wildcard] : []), ...bound.values()];
      for (const entry of all) entry.open = false;
      await Promise.all(all.map((entry) => closeSocket(entry.socket)));
    },
  };
}
