import type { Logger } from '../log.js';
import type { ContinuationStore } from '../signin/continuation.js';
import type { SignIn } from '../signin/index.js';
import type { RadiusClient } from './clients.js';
import type { ReplayGuard } from './replays.js';
import { startRadiusServer, type RadiusServer, type RadiusServerOptions } from './server.js';

/**
 * The RADIUS front door as composed by app.ts (docs/radius.md): its clients (checked at start),
 * and the sign-in it drives. It listens only when asked: main.ts with RADIUS_PORT, `npm run
 * radius` (src/radius/main.ts), or a test.
 */
export interface RadiusDoor {
  readonly clients: readonly RadiusClient[];
  /** Binds the UDP sockets (`host` is RADIUS_HOST: listeners.ts); the IdP's close() closes them too. */
  listen(port: number, host: string, opts?: Pick<RadiusServerOptions, 'maxInFlight' | 'duplicateCacheSize' | 'duplicateTtlMs' | 'interfaces'>): Promise<RadiusServer>;
  /** Closes every server listen() started (before the waiters close, so waiting requests end cleanly). */
  close(): Promise<void>;
}

export function createRadiusDoor(deps: {
  clients: readonly RadiusClient[];
  signin: SignIn;
  continuations: ContinuationStore;
  /** Request Authenticators already used (replays.ts). */
  replays: ReplayGuard;
  challengeTtlSeconds: number;
  logger: Logger;
  now: () => number;
}): RadiusDoor {
  const servers = new Set<RadiusServer>();
  return {
    clients: deps.clients,
    async listen(port, host, opts = {}) {
      const server = await startRadiusServer({ ...deps, ...opts, port, host });
      servers.add(server);
      return server;
    },
    async close() {
      await Promise.all([...servers].map((s) => s.close()));
      servers.clear();
    },
  };
}

export { loadRadiusClients, type RadiusClient } from './clients.js';
export type { RadiusServer } from './server.js';
export { createReplayGuard } from './replays.js';
