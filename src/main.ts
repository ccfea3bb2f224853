import { createServer } from 'node:http';
import { createIdp } from './app.js';
import { recordRunningIssuer } from './config/running-issuer.js';
import { ConfigError, loadSettings } from './config/settings.js';

/** Starts the IdP: `npm start`. Settings come from the environment (see README, Configuration). */
async function main() {
  const settings = loadSettings();
  const idp = await createIdp(settings);
  const server = createServer(idp.app.callback());
  // The RADIUS front door (docs/radius.md), when RADIUS_PORT is set.
  const radius = settings.radiusPort === null ? null : await idp.radius.listen(settings.radiusPort, settings.radiusHost);
  let forgetIssuer = () => {};
  server.listen(settings.port, settings.host, () => {
    // The admin CLI names this issuer in its links (src/config/running-issuer.ts).
    forgetIssuer = recordRunningIssuer(settings.dataDir, settings.issuer);
    idp.logger.info({ issuer: settings.issuer, port: settings.port }, 'listening');
    const lines = [
      '',
      `  Push OTP IdP is up: ${settings.issuer}`,
      `  Discovery:          ${settings.issuer}/.well-known/openid-configuration`,
    ];
    if (radius) lines.push(`  RADIUS:             udp ${radius.address().address}:${radius.address().port} (${idp.radius.clients.length} client(s), docs/radius.md)`);
    if (idp.demoUser) {
      lines.push(
        `  Demo app:           ${settings.issuer}/demo`,
        `  Demo user:          ${idp.demoUser.username} / ${idp.demoUser.password}`,
        `  Enroll a phone:     sign in at ${settings.issuer}/account and press "Add an authenticator"`,
      );
    }
    process.stdout.write(lines.join('\n') + '\n\n');
  });
  const stop = async () => {
    forgetIssuer();
    server.close();
    await idp.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`Configuration error: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`Failed to start: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
