import { formatIp, inCidr, parseCidr, parseIp, type Cidr } from '../net/ip.js';

/**
 * Which address is the client's. X-Forwarded-For is a list each proxy appends to: the client
 * writes what it likes on the left, and only the entries added by proxies we trust are true. So
 * the list is read from the right (the socket peer, then the last entry, ...), and the client is
 * the first address that a trusted proxy reported and that is not itself a trusted proxy: the
 * address the nearest trusted proxy saw. Same walk as Express's proxy-addr.
 */

export type TrustProxy =
  /** Forwarded headers are ignored: the client is the socket peer. */
  | { kind: 'none' }
  /** This many proxies stand in front of the IdP (the socket peer is the nearest). */
  | { kind: 'hops'; hops: number }
  /** The proxies are these addresses or ranges; the socket peer must be one for any header to count. */
  | { kind: 'addresses'; ranges: Cidr[] };

const MAX_HOPS = 32;

/**
 * TRUST_PROXY: `false` (or unset, 0, no, off) ignores X-Forwarded-*; a number N says N proxies
 * stand in front; `true` means 1 (one reverse proxy, the common case); otherwise a comma-separated
 * list of proxy addresses or CIDR ranges. Throws an Error whose message says what is accepted.
 */
export function parseTrustProxy(raw: string | undefined): TrustProxy {
  const v = (raw ?? '').trim().toLowerCase();
  if (v === '' || v === 'false' || v === 'no' || v === 'off' || v === '0') return { kind: 'none' };
  if (v === 'true' || v === 'yes' || v === 'on') return { kind: 'hops', hops: 1 };
  if (/^\d+$/.test(v)) {
    const hops = Number(v);
    if (hops > MAX_HOPS) throw new Error(`at most ${MAX_HOPS} proxies`);
    return { kind: 'hops', hops };
  }
  const ranges: Cidr[] = [];
  for (const part of v.split(',').map((s) => s.trim()).filter(Boolean)) {
    const range = parseCidr(part);
    if (!range) {
      throw new Error(`"${part}" is not an address or CIDR range; expected false, true (= 1), a number of proxies, or addresses/ranges such as 10.0.0.0/8,127.0.0.1`);
    }
    ranges.push(range);
  }
  if (ranges.length === 0) throw new Error('expected false, true (= 1), a number of proxies, or addresses/ranges such as 10.0.0.0/8,127.0.0.1');
  return { kind: 'addresses', ranges };
}

/**
 * One X-Forwarded-For entry as an address: "203.0.113.7", "2001:db8::1", "[2001:db8::1]:443" or
 * "203.0.113.7:51234" (some proxies add the port). Null for anything else ("unknown", junk).
 */
function entryAddress(entry: string): string | null {
  const t = entry.trim();
  const withPort = /^\[([^\]]+)\]:\d+$/.exec(t) ?? /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(t);
  const ip = parseIp(withPort ? withPort[1]! : t);
  return ip ? formatIp(ip) : null;
}

/**
 * The client's address from the socket peer, the X-Forwarded-For header (all its lines joined, as
 * Node joins them) and the setting. With hops N it is the entry N places left of the socket peer
 * (one proxy: the last entry); with addresses, the first entry from the right that is not a
 * trusted proxy, read only while every address to its right is one. When the header is shorter
 * than the setting expects, or an entry is not an address, the walk stops at the last good
 * address: a trusted proxy never writes junk, so junk is the client's and not believed.
 */
export function clientAddress(socketAddress: string | undefined, forwardedFor: string | undefined, trust: TrustProxy): string {
  const peerIp = parseIp(socketAddress ?? '');
  const peer = peerIp ? formatIp(peerIp) : (socketAddress ?? '');
  if (trust.kind === 'none' || !peerIp) return peer;
  // Right to left: the nearest proxy's report first.
  const chain = (forwardedFor ?? '').split(',').map((s) => s.trim()).filter(Boolean).reverse();
  let current = peer;
  if (trust.kind === 'hops') {
    for (let i = 0; i < trust.hops && i < chain.length; i++) {
      const next = entryAddress(chain[i]!);
      if (next === null) break;
      current = next;
    }
    return current;
  }
  const trusted = (address: string): boolean => {
    const ip = parseIp(address);
    return ip !== null && trust.ranges.some((r) => inCidr(ip, r));
  };
  for (const entry of chain) {
    if (!trusted(current)) break;
    const next = entryAddress(entry);
    if (next === null) break;
    current = next;
  }
  return current;
}
