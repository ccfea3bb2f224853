import type { RemoteInfo } from 'node:dgram';
import type { Logger } from '../log.js';
import { answerAccessRequest, type AccessDeps, type Verdict } from './access.js';
import { readAccessRequest } from './access-request.js';
import { encodeReply, verifyMessageAuthenticator } from './authenticators.js';
import { formatIp, parseIp } from '../net/ip.js';
import { clientFor, type RadiusClient } from './clients.js';
import { ATTR, CODE, decodePacket, type Attribute } from './codec.js';
import { createDuplicateCache, duplicateKey } from './duplicates.js';
import { openListeners, type Interfaces, type Reply } from './listeners.js';
import { staleEventTimestamp, type ReplayGuard } from './replays.js';

/**
 * The RADIUS front door on UDP (RFC 2865 Access-Request / -Accept / -Reject / -Challenge, and
 * RFC 5997 Status-Server for the NAS's health checks). In
 * packet order: the client by source address, the packet's structure, then Message-Authenticator
 * (BlastRADIUS: before anything in the packet is used), duplicate detection (RFC 5080), replays
 * (a Request Authenticator used before, from any port: replays.ts), and only then the request's
 * attributes and the sign-in (access.ts). Whatever fails before the sign-in is
 * dropped silently, counted and logged: an answer would tell an attacker what was wrong. A reply
 * leaves from the socket its request arrived on, one per address (listeners.ts), so its source is
 * the address the NAS sent to.
 */
export type DropReason =
  | 'unknown_client'
  | 'malformed'
  | 'not_access_request'
  | 'missing_message_authenticator'
  | 'bad_message_authenticator'
  | 'proxy_state_without_message_authenticator'
  | 'duplicate_in_progress'
  | 'replayed'
  | 'busy'
  | 'error';

export type Counter = DropReason | 'accept' | 'reject' | 'challenge' | 'retransmitted' | 'status';

export interface RadiusServer {
  /** Where it listens: RADIUS_HOST's first address (the port is the real one when 0 was asked). */
  address(): { address: string; port: number };
  /** Every address a socket is bound to (RADIUS_HOST's, in its order). */
  addresses(): string[];
  /** What happened to the packets so far (metrics, tests). */
  counters(): Readonly<Record<Counter, number>>;
  /** Requests being answered now (some waiting for a phone). */
  inFlight(): number;
  close(): Promise<void>;
}

export interface RadiusServerOptions extends AccessDeps {
  clients: readonly RadiusClient[];
  replays: ReplayGuard;
  logger: Logger;
  /** Requests being answered at once (each may wait for a phone); more are dropped and counted. */
  maxInFlight?: number;
  /** Answered requests remembered for retransmissions. */
  duplicateCacheSize?: number;
  duplicateTtlMs?: number;
  /** For a wildcard RADIUS_HOST's warning: reads the machine's addresses (tests). */
  interfaces?: () => Interfaces;
}

const COUNTERS: readonly Counter[] = [
  'unknown_client', 'malformed', 'not_access_request', 'missing_message_authenticator', 'bad_message_authenticator',
  'proxy_state_without_message_authenticator', 'duplicate_in_progress', 'replayed', 'busy', 'error', 'accept', 'reject', 'challenge', 'retransmitted', 'status',
];

const REPLY_CODE = { accept: CODE.accessAccept, reject: CODE.accessReject, challenge: CODE.accessChallenge } as const;

function replyAttributes(verdict: Verdict, proxyStates: readonly Buffer[]): Attribute[] {
  const out: Attribute[] = [];
  if (verdict.code !== 'accept') out.push({ type: ATTR.replyMessage, value: Buffer.from(verdict.message, 'utf8') });
  if (verdict.code === 'challenge') out.push({ type: ATTR.state, value: Buffer.from(verdict.state, 'latin1') });
  // RFC 2865 5.33: Proxy-State is copied unmodified, in order, into the reply.
  for (const p of proxyStates) out.push({ type: ATTR.proxyState, value: p });
  return out;
}

/** One form per address: a dual-stack socket reports an IPv4 NAS as ::ffff:a.b.c.d. */
function nasAddress(address: string): string {
  const ip = parseIp(address);
  return ip ? formatIp(ip) : address;
}

/** Binds the sockets (listeners.ts; `host` is RADIUS_HOST) and serves until close(). */
export async function startRadiusServer(opts: RadiusServerOptions & { port: number; host: string }): Promise<RadiusServer> {
  const { logger, clients } = opts;
  const maxInFlight = opts.maxInFlight ?? 1000;
  const duplicates = createDuplicateCache({ max: opts.duplicateCacheSize ?? 10_000, ttlMs: opts.duplicateTtlMs ?? 60_000, now: opts.now });
  const counts = Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Record<Counter, number>;
  const lastLogged = new Map<DropReason, number>();
  let inFlight = 0;
  const pending = new Set<Promise<void>>();
  const stopping = new AbortController();
  const deps: AccessDeps = { ...opts, signal: stopping.signal };

  for (const c of clients) {
    if (!c.requireMessageAuthenticator) {
      logger.warn({ client: c.name, file: c.file }, 'RADIUS client accepts Access-Requests without Message-Authenticator (requireMessageAuthenticator: false): open to BlastRADIUS (CVE-2024-3596) forgeries; turn it back on once the NAS sends it');
    }
  }

  const drop = (reason: DropReason, from: RemoteInfo, detail: Record<string, unknown> = {}) => {
    counts[reason]++;
    // Logged at most once a second per reason: a flood must not become a flood of log lines.
    const now = Date.now();
    if ((lastLogged.get(reason) ?? 0) + 1000 <= now) {
      lastLogged.set(reason, now);
      logger.warn({ reason, from: `${from.address}:${from.port}`, dropped: counts[reason], ...detail }, 'RADIUS packet dropped');
    }
  };

  async function handle(datagram: Buffer, from: RemoteInfo, via: Reply): Promise<void> {
    // From the socket the request arrived on: its source is the address the NAS sent to.
    const send = (reply: Buffer, to: RemoteInfo) => {
      if (stopping.signal.aborted) return;
      via(reply, to, (err) => { if (err) logger.warn({ err, to: to.address }, 'RADIUS reply not sent'); });
    };

    const client = clientFor(clients, from.address);
    if (!client) return drop('unknown_client', from);
    const decoded = decodePacket(datagram);
    if (!decoded.ok) return drop('malformed', from, { client: client.name, why: decoded.reason });
    const { packet, bytes } = decoded;
    const isStatus = packet.code === CODE.statusServer;
    if (packet.code !== CODE.accessRequest && !isStatus) return drop('not_access_request', from, { client: client.name, code: packet.code });
    // BlastRADIUS (CVE-2024-3596): the HMAC over the whole packet is checked before anything in it is used.
    const mas = packet.attributes.filter((a) => a.type === ATTR.messageAuthenticator);
    if (mas.length > 1 || (mas[0] && !verifyMessageAuthenticator(bytes, mas[0], client.secret))) {
      return drop('bad_message_authenticator', from, { client: client.name });
    }
    if (mas.length === 0) {
      // RFC 5997 section 3: a Status-Server without Message-Authenticator is silently discarded.
      if (client.requireMessageAuthenticator || isStatus) return drop('missing_message_authenticator', from, { client: client.name });
      // A relaxed client still gets no reply echoing an unauthenticated Proxy-State (the attack's carrier).
      if (packet.attributes.some((a) => a.type === ATTR.proxyState)) return drop('proxy_state_without_message_authenticator', from, { client: client.name });
    }
    if (isStatus) {
      // RFC 5997: the NAS asks whether we are alive; an Access-Accept with Message-Authenticator says so,
      // and copies its Proxy-State (RFC 2865 5.33; red-team: a proxy could not match its health checks).
      counts.status++;
      const proxyStates = packet.attributes.filter((a) => a.type === ATTR.proxyState).map((a) => ({ type: ATTR.proxyState, value: a.value }));
      return send(encodeReply({ code: CODE.accessAccept, identifier: packet.identifier, attributes: proxyStates }, packet.authenticator, client.secret), from);
    }
    const seen = duplicates.lookup(client.name, duplicateKey(from.address, from.port, packet.identifier, packet.authenticator));
    if (seen.kind === 'in-progress') return drop('duplicate_in_progress', from, { client: client.name });
    if (seen.kind === 'answered') {
      counts.retransmitted++;
      return send(seen.reply, from);
    }
    if (inFlight >= maxInFlight) {
      seen.done(null);
      return drop('busy', from, { client: client.name });
    }
    inFlight++;
    let reply: Buffer | null = null;
    let recorded = false;
    try {
      // A copy of a request answered before (sent again from another port, or to another instance):
      // no second sign-in. An authenticated Event-Timestamp dates it too.
      const stamp = mas.length === 1 ? packet.attributes.find((a) => a.type === ATTR.eventTimestamp)?.value : undefined;
      if (staleEventTimestamp(stamp, opts.now())) return drop('replayed', from, { client: client.name, why: 'event_timestamp' });
      // Held as long as this request may take (a wait for the phone, and some), until it is answered.
      if (!(await opts.replays.first(client.name, packet.authenticator, client.maxWaitSeconds + 30))) return drop('replayed', from, { client: client.name });
      recorded = true;
      const read = readAccessRequest(packet, client.secret);
      const verdict: Verdict = read.ok
        ? await answerAccessRequest(deps, client, read.request, nasAddress(from.address))
        : { code: 'reject', message: 'Authentication failed.' };
      if (!read.ok) logger.info({ client: client.name, why: read.refusal }, 'RADIUS Access-Request refused');
      counts[verdict.code]++;
      reply = encodeReply(
        { code: REPLY_CODE[verdict.code], identifier: packet.identifier, attributes: replyAttributes(verdict, read.ok ? read.request.proxyStates : read.proxyStates) },
        packet.authenticator, client.secret,
      );
      send(reply, from);
      // Stopping, nothing was sent: the NAS's retry of the same request at another server goes on
      // (access.ts gives its State back; failover-on-stop.test.ts).
      if (stopping.signal.aborted) await opts.replays.forget(client.name, packet.authenticator).catch(() => {});
      // Not awaited: the request is done once its reply is sent (inFlight); should it fail, the hold lapses.
      else void opts.replays.answered(client.name, packet.authenticator).catch(() => {});
    } catch (err) {
      // Storage trouble and the like: no answer, so the NAS retransmits (and the caches let it try again).
      counts.error++;
      logger.error({ err, client: client.name }, 'RADIUS Access-Request failed');
      if (recorded) await opts.replays.forget(client.name, packet.authenticator).catch(() => {});
    } finally {
      inFlight--;
      seen.done(reply);
    }
  }

  const listeners = await openListeners({
    host: opts.host, port: opts.port, logger, interfaces: opts.interfaces,
    onMessage: (datagram, from, via) => {
      const p = handle(datagram, from, via).catch((err: unknown) => logger.error({ err }, 'RADIUS packet handling failed'));
      pending.add(p);
      void p.finally(() => pending.delete(p));
    },
  });
  const { port } = listeners;
  const first = listeners.addresses()[0]!;
  logger.info({ address: first, addresses: listeners.addresses(), port, clients: clients.map((c) => c.name) }, 'RADIUS listening');

  return {
    address: () => ({ address: first, port }),
    addresses: () => listeners.addresses(),
    counters: () => ({ ...counts }),
    inFlight: () => inFlight,
    async close() {
      if (stopping.signal.aborted) return;
      // Requests waiting for a phone stop waiting (their pushes are withdrawn); nothing is sent after this.
      stopping.abort();
      await listeners.close();
      await Promise.allSettled([...pending]);
    },
  };
}
