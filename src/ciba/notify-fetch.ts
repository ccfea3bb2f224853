import { isIP } from 'node:net';

/*
 * Ping mode (OpenID CIBA 10.2): oidc-provider POSTs to the client's notification endpoint through
 * a dispatcher that refuses special-use addresses (its SSRF guard, for endpoints a stranger could
 * register). Ours come only from operators' files under config/clients, validated at start; an
 * operator who writes a literal private address (a relying app on the same host or network) means
 * it. So the guard stands for every host name, and steps aside only for an endpoint registered
 * with a literal IP address, and only for that exact URL.
 */

/** Pure: whether this ping may go to a private or loopback address. */
export function pingMayReachPrivate(url: string, registered: ReadonlySet<string>): boolean {
  if (!registered.has(url)) return false;
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return false;
  }
  return isIP(host.replace(/^\[|\]$/g, '')) !== 0;
}

type Fetch = (url: string, options: Record<string, unknown>) => Promise<Response>;

/** oidc-provider's `fetch` option: the same fetch, minus its address guard where the operator named an address. */
export function notificationFetch(registered: ReadonlySet<string>, base: typeof fetch = fetch): Fetch {
  return (url, options) => {
    const href = String(url);
    if (pingMayReachPrivate(href, registered)) {
      const { dispatcher: _guarded, ...rest } = options;
      return base(href, rest as RequestInit);
    }
    return base(href, options as RequestInit);
  };
}
