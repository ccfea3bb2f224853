import { access } from 'node:fs/promises';
import { BlockList, isIP } from 'node:net';
import type { CityResponse, Reader } from 'maxmind';

/*
 * What the phone shows about the requester (docs/architecture.md, sign-in step 4): a browser summary and a location.
 * Both come from attacker-controlled input (User-Agent, source IP), so the summary is picked from a
 * fixed vocabulary and never echoes the header: a crafted User-Agent cannot write text onto the phone.
 */

/** Most specific first: Edge and Opera also say "Chrome", Chrome also says "Safari". */
const BROWSERS: ReadonlyArray<[RegExp, string]> = [
  [/\bEdgA?\/|\bEdgiOS\//, 'Edge'],
  [/\bOPR\/|\bOPiOS\//, 'Opera'],
  [/\bSamsungBrowser\//, 'Samsung Internet'],
  [/\bFirefox\/|\bFxiOS\//, 'Firefox'],
  [/\b(Headless)?Chrome\/|\bCriOS\/|\bChromium\//, 'Chrome'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
];

/** iOS and Android first: their User-Agents also claim "Mac OS X" and "Linux". */
const SYSTEMS: ReadonlyArray<[RegExp, string]> = [
  [/\biPhone\b/, 'iPhone'],
  [/\biPad\b/, 'iPad'],
  [/\bAndroid\b/, 'Android'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bWindows\b/, 'Windows'],
  [/\bMacintosh\b|\bMac OS X\b/, 'macOS'],
  [/\bLinux\b|\bX11\b/, 'Linux'],
];

/** A short text such as "Chrome on Linux" or "Safari on iPhone"; "Unknown browser" when unsure. */
export function browserSummary(userAgent: string | null | undefined): string {
  const ua = (userAgent ?? '').slice(0, 512);
  const browser = BROWSERS.find(([re]) => re.test(ua))?.[1];
  const system = SYSTEMS.find(([re]) => re.test(ua))?.[1];
  if (!browser) return system ? `Unknown browser on ${system}` : 'Unknown browser';
  return system ? `${browser} on ${system}` : browser;
}

export interface GeoIp {
  /** "City, Country" or "Country"; null for private/loopback addresses or unknown ones. */
  lookup(ip: string): string | null;
}

export class GeoIpDatabaseError extends Error {
  readonly code = 'geoip_database_unavailable';
  override name = 'GeoIpDatabaseError';
}

const NO_GEOIP: GeoIp = { lookup: () => null };

/**
 * Opens a MaxMind GeoIP2/GeoLite2 City (or Country) database; `null` means none is configured and
 * every lookup gives null. A configured path that cannot be read stops the start with a clear error
 * rather than silently showing no locations.
 */
export async function openGeoIp(path: string | null): Promise<GeoIp> {
  if (!path) return NO_GEOIP;
  try {
    await access(path);
    const maxmind = (await import('maxmind')).default; // loaded only when a database is configured
    return geoIpFromReader(await maxmind.open<CityResponse>(path));
  } catch (err) {
    throw new GeoIpDatabaseError(`GeoIP database ${path} cannot be opened: ${(err as Error).message}`, { cause: err });
  }
}

/** The same over an in-memory database (tests, or a database fetched by other means). */
export async function geoIpFromBuffer(db: Buffer): Promise<GeoIp> {
  const { Reader } = await import('maxmind');
  return geoIpFromReader(new Reader<CityResponse>(db));
}

function geoIpFromReader(reader: Reader<CityResponse>): GeoIp {
  return {
    lookup(ip) {
      const addr = normalizeIp(ip);
      if (!addr || isPrivate(addr)) return null;
      let rec: CityResponse | null;
      try {
        rec = reader.get(addr);
      } catch {
        return null;
      }
      const country = rec?.country?.names?.en ?? rec?.registered_country?.names?.en;
      const city = rec?.city?.names?.en;
      if (!country) return null;
      return city ? `${city}, ${country}` : country;
    },
  };
}

/** Node reports IPv4 clients on a dual-stack socket as "::ffff:a.b.c.d". */
function normalizeIp(ip: string): string | null {
  const bare = ip.trim().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  return isIP(bare) ? bare : null;
}

/** RFC 1918, RFC 6598, loopback, link-local, RFC 4193 ULA: no place to name on a map. */
const PRIVATE = new BlockList();
for (const [net, bits] of [['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['127.0.0.0', 8],
  ['169.254.0.0', 16], ['100.64.0.0', 10], ['0.0.0.0', 8]] as const) PRIVATE.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::1', 128], ['::', 128], ['fc00::', 7], ['fe80::', 10]] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv6');
}

function isPrivate(ip: string): boolean {
  return PRIVATE.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
}
