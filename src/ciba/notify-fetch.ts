import { isIP } from 'node:net';

/*
 * Ping mode (OpenID CIBA 10.2): oidc-provider POSTs to the client's notification endpoint through
 * a dispatcher that refuses special-use addresses (its SSRF guard, for endpoints a stranger could
 * register). Ours come only from operators' files under config/clients, validated at start; an
 * operator who writes a literal private address (a relying app on the same host or network) means
 * it. So the guard stands for every host name, and steps aside only for an endpoint registered
 * with a literal IP address, and only for that exact URL.
 */

/**
 * Registered endpoints: as oidc-provider knows them -> where the ping really goes (the same URL, or
 * the plain-http loopback one of the file: config/clients.ts, loopbackNotificationEndpoint).
 */
export type NotificationEndpoints = ReadonlyMap<string, string>;

/**
 * Pure: where a ping to `url` goes and whether it may reach a private or loopback address: only
 * an exact registered endpoint written with a literal IP (or localhost over plain http) does.
 */
export function pingTarget(url: string, registered: NotificationEndpoints): { url: string; mayReachPrivate: boolean } {
  const key = registered.has(url) ? url : canonicalUrl(url);
  const real = registered.get(key);
  if (!real) return { url, mayReachPrivate: false };
  let host: string;
  try {
    host = new URL(real).hostname;
  } catch {
    return { url, mayReachPrivate: false };
  }
  const literal = isIP(host.replace(/^\[|\]$/g, '')) !== 0;
  return { url: real, mayReachPrivate: literal || real !== key };
}

type Fetch = (url: string, options: Record<string, unknown>) => Promise<Response>;

/** A URL as oidc-provider fetches it (`new URL(u).href`: a path of "/" added, a default port dropped, the host lower-cased); the input when it does not parse. */
export function canonicalUrl(url: string): string {
  try { return new URL(url).href; } catch { return url; }
}

/**
 * oidc-provider's `fetch` option: the same fetch, minus its address guard where the operator named an
 * address; such a fetch follows no redirect (red-team: a 302 from the registered address led the
 * unguarded fetch to any host, loopback and cloud metadata included), so a redirect is an answer
 * that is not the keys, and fails.
 */
export function notificationFetch(registered: NotificationEndpoints, base: typeof fetch = fetch): Fetch {
  return (url, options) => {
    const target = pingTarget(String(url), registered);
    if (target.mayReachPrivate) {
      const { dispatcher: _guarded, ...rest } = options;
      return base(target.url, { ...rest, redirect: 'manual' } as RequestInit);
    }
    return base(target.url, options as RequestInit);
  };
}
