import type { Server } from 'node:http';
import { createIdp, type Idp } from './app.js';
import { createIdpServer } from './http/server.js';
import { recordRunningIssuer } from './config/running-issuer.js';
import { loadSettings, type Settings } from './config/settings.js';
import { startMetricsServer } from './observability/metrics-route.js';
import { heapTrimStatus } from './observability/heap-trim.js';
import { nativeEcdhStatus } from './push/native-ecdh.js';
import { listenOrRefuse } from './net/listen.js';
import { runProcess, type Running } from './run-process.js';

/** Starts the IdP: `npm start`. Settings come from the environment (see README, Configuration). */
async function main(): Promise<Running> {
  const settings = loadSettings();
  const idp = await createIdp(settings);
  const server = createIdpServer(idp.callback());
  // The RADIUS front door (docs/radius.md), when RADIUS_PORT is set.
  const radius = settings.radiusPort === null ? null : await idp.radius.listen(settings.radiusPort, settings.radiusHost);
  const metricsServer = settings.metricsPort ? await startMetricsServer(idp.metrics, settings.metricsHost, settings.metricsPort) : null;
  await listenOrRefuse(server, { host: settings.host, port: settings.port, hostSetting: 'HOST', portSetting: 'PORT' }).catch(async (err: unknown) => {
    await Promise.allSettled([radius?.close(), metricsServer && new Promise((r) => metricsServer.close(r))]);
    await idp.close().catch(() => {});
    throw err;
  });
  // The admin CLI names this issuer in its links (src/config/running-issuer.ts).
  const forgetIssuer = recordRunningIssuer(settings.dataDir, settings.issuer);
  idp.logger.info({ issuer: settings.issuer, port: settings.port, ...(metricsServer ? { metricsPort: settings.metricsPort } : {}), webPushEcdh: nativeEcdhStatus(), memoryTrim: heapTrimStatus(settings.memoryTrimInterval * 1000) }, 'listening');
  const lines = [
    '',
    `  Push OTP IdP is up: ${settings.issuer}`,
    `  Discovery:          ${settings.issuer}/.well-known/openid-configuration`,
  ];
  if (radius) lines.push(`  RADIUS:             udp ${radius.address().address}:${radius.address().port} (${idp.radius.clients.length} client(s), docs/radius.md)`);
  if (idp.demoUser) {
    lines.push(
      `  Demo app:           ${settings.issuer}/demo`,
      `  Demo user:          ${idp.demoUser.username} / ${idp.demoUser.password ?? '(its password is not the generated one; npm run admin -- user set-password demo sets one)'}`,
      `  Enroll a phone:     sign in at ${settings.issuer}/account and press "Add an authenticator"`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n\n');
  return {
    stop: (signal) => {
      forgetIssuer();
      return shutdown(idp, server, metricsServer, settings, signal);
    },
    // Whatever hangs in shutdown (a dead Redis at close), the process still ends.
    stopLimitMs: settings.shutdownGrace * 1000 + 15_000,
  };
}

/**
 * Graceful shutdown (docs/production.md, Shutdown): /readyz turns 503 and held long-polls are
 * answered 503 + Retry-After (the waiting page asks again, elsewhere); no new connection is
 * accepted; requests in flight get SHUTDOWN_GRACE seconds to finish, then their connections are
 * closed; then Redis and the database are closed.
 */
async function shutdown(idp: Idp, server: Server, metricsServer: Server | null, settings: Settings, signal: string): Promise<void> {
  const graceMs = settings.shutdownGrace * 1000;
  const released = idp.drain();
  idp.logger.info({ signal, released, graceSeconds: settings.shutdownGrace }, 'shutting down: draining');
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  // A kept-alive connection whose request finishes during the grace is idle from then on: closed
  // then, not at the grace's end (red-team, several instances: a stop waited out its whole grace
  // after every request in flight had been answered).
  const idle = setInterval(() => server.closeIdleConnections(), 100);
  const force = setTimeout(() => {
    idp.logger.warn('shutdown grace period over: closing the remaining connections');
    server.closeAllConnections();
  }, graceMs);
  await closed;
  clearInterval(idle);
  clearTimeout(force);
  if (metricsServer) await new Promise((resolve) => metricsServer.close(resolve));
  await idp.close();
  idp.logger.info('stopped');
}

runProcess(main);
