import { nonPublicRange, parseIp } from '../net/ip.js';

/**
 * Which push endpoints the IdP may POST to. The endpoint comes from a device, so it is input: left
 * open, a device could make the IdP connect to 169.254.169.254 (cloud metadata), to Redis on
 * 127.0.0.1:6379 or anywhere on its private network, once per push (server-side request forgery).
 * Pure: the DNS half of the defence is ./endpoint-guard.ts.
 */

/** One allowed push service: a host name (or, for an operator's entry, an IP address) and a port. */
export interface PushServiceRule {
  /** Lower-case host name without the `*.`, or an IP address in URL form (IPv6 in brackets). */
  host: string;
  /** `*.host`: any name one label deeper than host (as a TLS wildcard certificate matches, RFC 6125 6.4.3). */
  wildcard: boolean;
  port: number;
}

/**
 * The push services browsers hand out subscriptions for (checked against each vendor's source and
 * documentation): Chrome, and Edge on Android, use FCM (https://fcm.googleapis.com/wp/... and
 * .../fcm/send/...); Firefox uses Mozilla autopush (https://updates.push.services.mozilla.com/wpush/...);
 * Safari uses Apple's (https://web.push.apple.com/..., Apple asks servers to allow *.push.apple.com);
 * Edge on Windows uses WNS (https://<region>.notify.windows.com/w/...). All on port 443.
 */
export const KNOWN_PUSH_SERVICES: readonly PushServiceRule[] = [
  { host: 'fcm.googleapis.com', wildcard: false, port: 443 },
  { host: 'updates.push.services.mozilla.com', wildcard: false, port: 443 },
  { host: 'push.services.mozilla.com', wildcard: true, port: 443 },
  { host: 'push.apple.com', wildcard: true, port: 443 },
  { host: 'notify.windows.com', wildcard: true, port: 443 },
];

export type EndpointVerdict =
  /** known: a browser vendor's service, whose addresses must be public; operator: listed in PUSH_SERVICES. */
  | { ok: true; source: 'known' | 'operator' }
  | { ok: false; reason: string };

const isIpHost = (hostname: string): boolean => parseIp(hostname) !== null;

function matches(rule: PushServiceRule, hostname: string, port: number): boolean {
  if (rule.port !== port) return false;
  if (!rule.wildcard) return hostname === rule.host;
  const dot = hostname.indexOf('.');
  return dot > 0 && hostname.slice(dot + 1) === rule.host;
}

/** The port a URL connects to (URL drops the scheme's default, 443 for https). */
const portOf = (url: URL): number => (url.port === '' ? 443 : Number(url.port));

/**
 * Decides whether a push endpoint may be used, before any connection. An operator's entry
 * (PUSH_SERVICES) is the operator's decision and may name a private host or an IP address (a push
 * proxy on their own network); everything else must be a browser vendor's push service by name,
 * on port 443. An IP address is never a browser vendor's push endpoint.
 */
export function checkPushEndpoint(url: URL, operator: readonly PushServiceRule[]): EndpointVerdict {
  if (url.protocol !== 'https:') return { ok: false, reason: 'not https' }; // RFC 8030 8: push needs TLS
  // Credentials in the URL would be sent to the service; no push service hands them out.
  if (url.username || url.password) return { ok: false, reason: 'credentials in the URL' };
  // A control character, even percent-encoded (%00, %0a, %7f), is in no push service's path and may
  // be read differently by whatever sits in front of it (a NUL ends a C string, CR LF a header).
  if (/%(?:[01][0-9a-f]|7f)/i.test(url.pathname + url.search)) return { ok: false, reason: 'a control character in the path' };
  const host = url.hostname;
  // "fcm.googleapis.com." is the same name, but the rules below compare text: refuse the variant.
  if (host === '' || host.endsWith('.')) return { ok: false, reason: 'not a push service host name' };
  const port = portOf(url);
  if (operator.some((r) => matches(r, host, port))) return { ok: true, source: 'operator' };
  if (isIpHost(host)) {
    const range = nonPublicRange(parseIp(host)!);
    return { ok: false, reason: range ? `an IP address (${range})` : 'an IP address, not a push service name' };
  }
  if (KNOWN_PUSH_SERVICES.some((r) => matches(r, host, port))) return { ok: true, source: 'known' };
  return { ok: false, reason: port === 443 ? `${host} is not a known push service` : `port ${port} is not allowed for ${host}` };
}

/**
 * What the address a known push service's name resolved to may be: any public address, none of
 * the special ranges (loopback, private, link-local, ULA, CGNAT, multicast, unspecified, mapped).
 * A refusal here is DNS pointing a vendor's name (or a look-alike under its wildcard) inward:
 * rebinding or a poisoned resolver.
 */
export function checkResolvedAddress(address: string): { ok: true } | { ok: false; reason: string } {
  const ip = parseIp(address);
  if (!ip) return { ok: false, reason: `${address} is not an IP address` };
  const range = nonPublicRange(ip);
  return range ? { ok: false, reason: `resolves to a ${range} address` } : { ok: true };
}

/**
 * PUSH_SERVICES: comma-separated hosts, each with an optional `:port` (default 443) and an optional
 * leading `*.` (one more label). IP addresses are allowed (IPv6 in brackets); wildcards only on names.
 * Throws an Error whose message names the bad entry.
 */
export function parsePushServices(raw: string): PushServiceRule[] {
  const rules: PushServiceRule[] = [];
  for (const entry of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    const wildcard = entry.startsWith('*.');
    const rest = wildcard ? entry.slice(2) : entry;
    let url: URL;
    try {
      url = new URL(`https://${rest}`);
    } catch {
      throw new Error(`"${entry}" is not a host[:port]`);
    }
    if (url.username || url.password || url.pathname !== '/' || url.search || url.hash || rest.includes('/')) {
      throw new Error(`"${entry}" must be a host with an optional port, nothing else`);
    }
    if (url.hostname.endsWith('.')) throw new Error(`"${entry}": write the host without a trailing dot`);
    if (wildcard && isIpHost(url.hostname)) throw new Error(`"${entry}": a wildcard needs a host name, not an IP address`);
    if (wildcard && !url.hostname.includes('.')) throw new Error(`"${entry}": a wildcard needs at least two labels after "*."`);
    rules.push({ host: url.hostname, wildcard, port: portOf(url) });
  }
  return rules;
}
