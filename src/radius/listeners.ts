import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import type { Logger } from '../log.js';
import { listenRefusal } from '../net/listen.js';
import { isUnspecifiedAddress } from '../net/ip.js';

/**
 * The UDP sockets of the RADIUS front door, and which address each reply leaves from.
 *
 * A NAS matches a reply to its request by the server address it sent to (RFC 2865 sections 3 and
 * 4; radclient: "Received reply to request we did not send"). Node's dgram cannot read a
 * datagram's destination address (no IP_PKTINFO), so a socket bound to a wildcard (0.0.0.0, ::)
 * replies from whatever address the kernel routes back from: on a host with several addresses, or
 * with a keepalived/VRRP virtual IP, maybe not the one the NAS sent to, and the NAS discards the
 * reply (red-team: an approved push whose Access-Accept was thrown away).
 *
 * - RADIUS_HOST a comma-separated list of addresses: one socket each, and a reply leaves from the
 *   socket its request arrived on. The way to serve several addresses or a virtual IP.
 * - RADIUS_HOST a wildcard: one socket, as before; the start warns when the machine has several
 *   addresses of its family, naming them and the list to set.
 *
 * Every socket is bound plainly (no SO_REUSEADDR), so no other program, of any user, can bind the
 * port beside it and take its datagrams (review: with the wildcard and a socket per address sharing
 * the port through SO_REUSEADDR, which Linux grants any user who sets it too, an unprivileged
 * process bound 127.0.0.1 on the RADIUS port and received the Access-Requests, PAP-hidden passwords
 * and all). Sockets per address beside a wildcard cannot be had without that sharing.
 */

export type Interfaces = Record<string, NetworkInterfaceInfo[] | undefined>;

/** Sends a reply from the socket its request arrived on (done gets the error, if any). */
export type Reply = (datagram: Buffer, to: RemoteInfo, done: (err: Error | null) => void) => void;

export interface Listeners {
  /** The port they share (the real one when 0 was asked). */
  readonly port: number;
  /** Every address bound, in RADIUS_HOST's order. */
  addresses(): string[];
  /** Closes every socket; nothing is received after it. */
  close(): Promise<void>;
}

/** The addresses of RADIUS_HOST (settings.ts has checked them). */
export const hostList = (host: string): string[] => host.split(',').map((h) => h.trim()).filter(Boolean);

/** 0.0.0.0 or :: (however spelled, `::ffff:0.0.0.0` too). */
export const isWildcard = (address: string): boolean => isIP(address) !== 0 && isUnspecifiedAddress(address);

/**
 * Pure: for a wildcard RADIUS_HOST, the machine's addresses a NAS could send to that the wildcard
 * may answer from another of (its family's, or both for ::, loopback and IPv6 link-local left out),
 * when there are two or more; else none (one address: the kernel answers from it).
 */
export function ambiguousAddresses(host: string, interfaces: Interfaces): string[] {
  const hosts = hostList(host);
  if (hosts.length !== 1 || !isWildcard(hosts[0]!)) return [];
  const withV6 = isIPv6(hosts[0]!);
  const out = new Set<string>();
  for (const info of Object.values(interfaces).flat()) {
    if (!info || info.internal) continue;
    if (isIPv4(info.address) || (withV6 && isIPv6(info.address) && !/^fe[89ab]/i.test(info.address))) out.add(info.address);
  }
  return out.size > 1 ? [...out] : [];
}

function bindSocket(address: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4' });
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

export async function openListeners(opts: {
  host: string;
  port: number;
  logger: Logger;
  onMessage: (datagram: Buffer, from: RemoteInfo, reply: Reply) => void;
  /** Reads the machine's addresses for the wildcard's warning (os.networkInterfaces; tests inject their own). */
  interfaces?: (() => Interfaces) | undefined;
}): Promise<Listeners> {
  const { logger } = opts;
  const bound: { address: string; socket: Socket }[] = [];
  let port = opts.port;
  for (const address of hostList(opts.host)) {
    try {
      const socket = await bindSocket(address, port);
      // The first socket's port is every other's (0 asked: the one the kernel chose).
      port = socket.address().port;
      const reply: Reply = (datagram, to, done) => {
        try {
          socket.send(datagram, to.port, to.address, (err) => done(err ?? null));
        } catch (err) {
          done(err as Error);
        }
      };
      socket.on('message', (datagram, from) => opts.onMessage(datagram, from, reply));
      socket.on('error', (err) => logger.error({ err, address }, 'RADIUS socket error'));
      bound.push({ address, socket });
    } catch (err) {
      await Promise.all(bound.map((b) => closeSocket(b.socket)));
      throw listenRefusal(err, { host: address, port, hostSetting: 'RADIUS_HOST', portSetting: 'RADIUS_PORT' });
    }
  }
  let ambiguous: string[] = [];
  try {
    ambiguous = ambiguousAddresses(opts.host, (opts.interfaces ?? networkInterfaces)());
  } catch (err) {
    logger.warn({ err }, 'RADIUS could not read the network interfaces');
  }
  if (ambiguous.length > 0) {
    logger.warn({ host: opts.host, addresses: ambiguous, port },
      `RADIUS_HOST ${opts.host} on a machine with several addresses: a reply leaves from the address the kernel routes back from, and a NAS that sent to another discards it. Set RADIUS_HOST to the addresses NASes send to (e.g. RADIUS_HOST=${ambiguous.join(',')}; a virtual IP too, with net.ipv4.ip_nonlocal_bind=1).`);
  }
  let closed = false;
  return {
    port,
    addresses: () => bound.map((b) => b.address),
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(bound.map((b) => closeSocket(b.socket)));
    },
  };
}
