import dns from 'node:dns';
import type { LookupFunction } from 'node:net';
import { checkPushEndpoint, checkResolvedAddress, type EndpointVerdict, type PushServiceRule } from './endpoint-policy.js';

/** How a host name becomes addresses; dns.lookup (the system resolver) unless a test injects one. */
export type PushResolver = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

const systemResolver: PushResolver = (hostname) => dns.promises.lookup(hostname, { all: true });

/** A push connection refused by the endpoint policy, before any packet left for the endpoint. */
export class PushEndpointRefused extends Error {
  readonly code = 'ERR_PUSH_ENDPOINT_REFUSED';
}

export interface PushEndpointGuard {
  /** The endpoint policy (./endpoint-policy.ts) with this IdP's PUSH_SERVICES. */
  check(url: URL): EndpointVerdict;
  /**
   * The DNS lookup a connection to an allowed endpoint uses. For a browser vendor's service it
   * refuses the connection when any address the name resolves to is not public: a name that was
   * fine at enrollment may point inward by the time of a push (DNS rebinding), and the check must
   * sit where the address is used, not before. An operator's entry is resolved but not judged.
   */
  lookupFor(verdict: Extract<EndpointVerdict, { ok: true }>): LookupFunction;
}

export function createPushEndpointGuard(opts: { services?: readonly PushServiceRule[]; resolve?: PushResolver } = {}): PushEndpointGuard {
  const services = opts.services ?? [];
  const resolve = opts.resolve ?? systemResolver;
  const lookup = (judge: boolean): LookupFunction => (hostname, options, callback) => {
    resolve(hostname).then(
      (found) => {
        if (judge) {
          for (const { address } of found) {
            const verdict = checkResolvedAddress(address);
            // Refused if any address is: Node may try them all (happy eyeballs), and a vendor's
            // name with one inward address is an attack or a broken resolver either way.
            if (!verdict.ok) return callback(new PushEndpointRefused(`${hostname} ${verdict.reason}`), '', 0);
          }
        }
        const family = options.family === 4 || options.family === 'IPv4' ? 4 : options.family === 6 || options.family === 'IPv6' ? 6 : 0;
        const usable = family === 0 ? found : found.filter((a) => a.family === family);
        if (usable.length === 0) {
          return callback(Object.assign(new Error(`${hostname}: no address`), { code: 'ENOTFOUND' }), '', 0);
        }
        if (options.all) return callback(null, usable);
        return callback(null, usable[0]!.address, usable[0]!.family);
      },
      (err: Error) => callback(err as NodeJS.ErrnoException, '', 0),
    );
  };
  const judged = lookup(true);
  const trusted = lookup(false);
  return {
    check: (url) => checkPushEndpoint(url, services),
    lookupFor: (verdict) => (verdict.source === 'known' ? judged : trusted),
  };
}
