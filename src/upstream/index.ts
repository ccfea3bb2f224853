import type { ClientRegistration } from '../config/clients.js';
import type { UpstreamDeps } from '../signin/upstream.js';
import type { Redis } from '../storage/redis.js';
import { createJwksCache, type JwksSource } from './jwks-cache.js';
import type { FederatedLinks } from './links.js';
import { createUsedHints } from './replay.js';

/** The sign-in core's upstream engines for the MFA-only clients: one key cache per client. */
export function createUpstreamDeps(clients: readonly ClientRegistration[], redis: Redis, links: FederatedLinks, now: () => number): UpstreamDeps {
  const caches = new Map<string, JwksSource>();
  for (const c of clients) {
    if (c.upstream) caches.set(c.metadata.client_id as string, createJwksCache({ uri: c.upstream.jwksUri, file: c.upstream.jwksFile, now }));
  }
  return { keysFor: (clientId) => caches.get(clientId) ?? null, used: createUsedHints(redis), links };
}
