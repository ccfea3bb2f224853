/**
 * IP addresses as numbers, address ranges, and which ranges are not the public Internet. Pure: no
 * I/O, no DNS. Used by the push-endpoint policy (SSRF) and by the trusted-proxy walk (client IP).
 */

export interface Ip {
  version: 4 | 6;
  /** The address as a 32- or 128-bit number. */
  value: bigint;
}

export interface Cidr {
  version: 4 | 6;
  base: bigint;
  bits: number;
}

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const HEXTET = /^[0-9a-f]{1,4}$/i;

function parseV4(text: string): bigint | null {
  const m = V4.exec(text);
  if (!m) return null;
  let value = 0n;
  for (const part of m.slice(1)) {
    // A leading zero reads as octal in some parsers (inet_aton): refuse the ambiguity.
    if (part.length > 1 && part.startsWith('0')) return null;
    const n = Number(part);
    if (n > 255) return null;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseV6(text: string): bigint | null {
  // A zone (fe80::1%eth0) names an interface, not part of the address.
  const bare = text.split('%')[0]!;
  const halves = bare.split('::');
  if (halves.length > 2) return null;
  const groups = (half: string): number[] | null => {
    if (half === '') return [];
    const out: number[] = [];
    const parts = half.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseV4(p);
        if (v4 === null) return null;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else if (HEXTET.test(p)) {
        out.push(parseInt(p, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  return all.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

/**
 * Parses an IPv4 or IPv6 address (brackets allowed around IPv6). An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d, what a dual-stack socket reports for an IPv4 peer) becomes the IPv4 address, so
 * one address has one form whichever way it was written.
 */
export function parseIp(text: string): Ip | null {
  const t = text.trim().replace(/^\[(.*)\]$/, '$1');
  const v4 = parseV4(t);
  if (v4 !== null) return { version: 4, value: v4 };
  if (!t.includes(':')) return null;
  const v6 = parseV6(t);
  if (v6 === null) return null;
  if (v6 >> 32n === 0xffffn) return { version: 4, value: v6 & 0xffffffffn };
  return { version: 6, value: v6 };
}

export function formatIp(ip: Ip): string {
  if (ip.version === 4) return [24n, 16n, 8n, 0n].map((s) => String((ip.value >> s) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => Number((ip.value >> BigInt(112 - 16 * i)) & 0xffffn));
  // RFC 5952 4.2: the longest run (of two or more) of zero groups becomes "::".
  let best = { at: -1, len: 1 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.len).join(':')}`;
}

/** "10.0.0.0/8", "fd00::/8" or a single address (a /32 or /128). */
export function parseCidr(text: string): Cidr | null {
  const [addr, bitsText, extra] = text.trim().split('/');
  if (extra !== undefined || addr === undefined) return null;
  const ip = parseIp(addr);
  if (!ip) return null;
  const max = ip.version === 4 ? 32 : 128;
  // A mapped address written with a v6 prefix length counts its bits from the v4 part.
  const mappedOffset = ip.version === 4 && addr.includes(':') ? 96 : 0;
  const bits = bitsText === undefined ? max : /^\d{1,3}$/.test(bitsText) ? Number(bitsText) - mappedOffset : NaN;
  if (!Number.isInteger(bits) || bits < 0 || bits > max) return null;
  const shift = BigInt(max - bits);
  return { version: ip.version, base: (ip.value >> shift) << shift, bits };
}

export function inCidr(ip: Ip, range: Cidr): boolean {
  if (ip.version !== range.version) return false;
  const shift = BigInt((ip.version === 4 ? 32 : 128) - range.bits);
  return ip.value >> shift === range.base >> shift;
}

const cidr = (text: string): Cidr => {
  const c = parseCidr(text);
  if (!c) throw new Error(`bad range ${text}`);
  return c;
};

/**
 * Ranges that are not a public Internet host (IANA special-purpose registries, RFC 6890 and
 * successors). A push service is a public host: any of these as its address is a request forgery
 * towards the IdP's own network (cloud metadata at 169.254.169.254, Redis on loopback, ...).
 */
const SPECIAL_V4: ReadonlyArray<[Cidr, string]> = [
  [cidr('0.0.0.0/8'), 'unspecified'], // "this network"; 0.0.0.0 reaches the local host on Linux
  [cidr('10.0.0.0/8'), 'private'], // RFC 1918
  [cidr('100.64.0.0/10'), 'shared (CGNAT)'], // RFC 6598
  [cidr('127.0.0.0/8'), 'loopback'],
  [cidr('169.254.0.0/16'), 'link-local'], // cloud metadata services live here
  [cidr('172.16.0.0/12'), 'private'],
  [cidr('192.0.0.0/24'), 'IETF protocol assignments'],
  [cidr('192.0.2.0/24'), 'documentation'],
  [cidr('192.88.99.0/24'), '6to4 relay'],
  [cidr('192.168.0.0/16'), 'private'],
  [cidr('198.18.0.0/15'), 'benchmarking'],
  [cidr('198.51.100.0/24'), 'documentation'],
  [cidr('203.0.113.0/24'), 'documentation'],
  [cidr('224.0.0.0/4'), 'multicast'],
  [cidr('240.0.0.0/4'), 'reserved'], // and 255.255.255.255, broadcast
];

const NAT64 = cidr('64:ff9b::/96');
const SPECIAL_V6: ReadonlyArray<[Cidr, string]> = [
  [cidr('::/128'), 'unspecified'],
  [cidr('::1/128'), 'loopback'],
  [cidr('::/96'), 'IPv4-compatible (deprecated)'],
  [cidr('64:ff9b:1::/48'), 'local-use NAT64'],
  [cidr('100::/64'), 'discard-only'],
  [cidr('2001::/23'), 'IETF protocol assignments (Teredo, ORCHID, ...)'],
  [cidr('2001:db8::/32'), 'documentation'],
  [cidr('2002::/16'), '6to4'], // RFC 7526 deprecates it; it can embed any IPv4 address
  [cidr('3fff::/20'), 'documentation'],
  [cidr('5f00::/16'), 'segment routing'],
  [cidr('fc00::/7'), 'unique local (ULA)'],
  [cidr('fe80::/10'), 'link-local'],
  [cidr('fec0::/10'), 'site-local (deprecated)'],
  [cidr('ff00::/8'), 'multicast'],
];
const GLOBAL_UNICAST_V6 = cidr('2000::/3');

/**
 * Why an address is not a public Internet host, or null when it is one. IPv4-mapped addresses are
 * judged as the IPv4 address (parseIp), and NAT64 ones (64:ff9b::/96, RFC 6052) by the IPv4
 * address they embed: either way the connection ends at that IPv4 address.
 */
export function nonPublicRange(ip: Ip): string | null {
  if (ip.version === 4) return SPECIAL_V4.find(([r]) => inCidr(ip, r))?.[1] ?? null;
  if (inCidr(ip, NAT64)) {
    const inner = nonPublicRange({ version: 4, value: ip.value & 0xffffffffn });
    return inner ? `NAT64 of ${inner}` : null;
  }
  const special = SPECIAL_V6.find(([r]) => inCidr(ip, r))?.[1];
  if (special) return special;
  return inCidr(ip, GLOBAL_UNICAST_V6) ? null : 'not global unicast';
}

/**
 * The network a client's address stands for when counting its attempts: an IPv4 address itself,
 * an IPv6 address's /64. An IPv6 host chooses the low 64 bits itself (RFC 4291 2.5.1; privacy
 * addresses, RFC 8981, change them at will), so per address it would have 2^64 fresh limits.
 * Anything that is not an address is returned as it is.
 */
export function attemptNetwork(address: string): string {
  const ip = parseIp(address);
  if (!ip) return address;
  if (ip.version === 4) return formatIp(ip);
  return `${formatIp({ version: 6, value: (ip.value >> 64n) << 64n })}/64`;
}

/** 0.0.0.0 or :: however written (`0:0:0:0:0:0:0:0`, `::ffff:0.0.0.0`): every address of the machine. */
export function isUnspecifiedAddress(text: string): boolean {
  return parseIp(text)?.value === 0n;
}
