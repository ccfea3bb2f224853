import { createIdp } from '../app.js';
import { ConfigError, loadSettings, type Settings } from '../config/settings.js';
import { runProcess, type Running } from '../run-process.js';

/**
 * `npm run radius`: the RADIUS front door alone, from the same composition as the IdP (createIdp),
 * beside IdP processes that serve the web and the phones' device API. It shares their PostgreSQL
 * and Redis: an approval posted to any of them wakes the request waiting here (docs/radius.md,
 * "Running it").
 */
function checkStandalone(settings: Settings): void {
  if (settings.radiusPort === null) throw new ConfigError('environment', 'RADIUS_PORT', 'must be set for npm run radius');
  // Alone, this process has no device API: the phones answer another process, which must share its storage.
  if (!settings.databaseUrl || !settings.redisUrl) {
    throw new ConfigError('environment', settings.databaseUrl ? 'REDIS_URL' : 'DATABASE_URL',
      'npm run radius runs beside the IdP and shares its storage: set DATABASE_URL and REDIS_URL as for the IdP (or set RADIUS_PORT for npm start, which serves RADIUS and the web in one process)');
  }
}

async function main(): Promise<Running> {
  const settings = loadSettings();
  checkStandalone(settings);
  const idp = await createIdp(settings);
  if (idp.radius.clients.length === 0) idp.logger.warn({ dir: `${settings.configDir}/radius` }, 'no RADIUS clients configured: every packet will be dropped');
  const server = await idp.radius.listen(settings.radiusPort!, settings.radiusHost);
  const { address, port } = server.address();
  process.stdout.write(`\n  RADIUS front door is up: udp ${address}:${port} (${idp.radius.clients.length} client(s))\n\n`);
  return {
    stop: async (signal) => {
      idp.logger.info({ signal }, 'shutting down');
      await idp.close(); // closes the UDP socket first, then the waiters, Redis and the database
      idp.logger.info('stopped');
    },
    stopLimitMs: settings.shutdownGrace * 1000 + 15_000,
  };
}

runProcess(main);
