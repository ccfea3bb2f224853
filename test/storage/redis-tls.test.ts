import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { redisTlsOptions, type RedisTlsSettings } from '../../src/storage/redis-tls.js';
import { adminCli } from '../support/admin-cli.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { endAll, IDP_MAIN } from '../support/entry.js';
import { uniquePrefix } from '../support/env.js';
import { freePort, freshSchemaUrl, testRp, TEST_RP_SECRET } from '../support/idp.js';
import { startPushService, type PushServiceDouble } from '../support/push-service.js';
import { matchNumberOf, RP_CALLBACK } from '../support/push-world.js';
import { startTlsRedis, type TlsRedis } from '../support/tls-redis.js';
import { FormBrowser } from '../support/web-browser.js';
import { CALLBACK, pushStatus, waitUntil } from '../signin/helpers.js';

/**
 * Redis over TLS everywhere (docs/production.md): `rediss-cluster://` and `rediss-sentinel://`
 * reach real TLS-only servers (test/support/tls-redis.ts) from the IdP started as an operator
 * starts it, the servers' CA trusted through NODE_EXTRA_CA_CERTS. Without that CA, or with a clear
 * scheme at a TLS port, nothing is sent: /readyz says Redis is down, and the log says why.
 */
describe('Redis over TLS: a Cluster and a Sentinel group', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'idp-tls-redis-'));
  const configDir = path.join(dir, 'config');
  const procs: ChildProcess[] = [];
  let servers: TlsRedis;
  let pushService: PushServiceDouble;
  let drop: () => Promise<void> = async () => {};
  let baseEnv: NodeJS.ProcessEnv;

  beforeAll(async () => {
    servers = await startTlsRedis();
    pushService = await startPushService();
    const schema = await freshSchemaUrl();
    drop = schema.drop;
    mkdirSync(path.join(configDir, 'clients'), { recursive: true });
    writeFileSync(path.join(configDir, 'clients', 'test-rp.json'), JSON.stringify(testRp({ login: { consent: 'implicit' } })));
    baseEnv = {
      ...process.env, NODE_OPTIONS: '', NODE_EXTRA_CA_CERTS: '', HOST: '127.0.0.1', CONFIG_DIR: configDir, DATABASE_URL: schema.url,
      COOKIE_KEYS: randomBytes(32).toString('base64url'), KEK: `k1:${randomBytes(32).toString('base64')}`,
      TEST_RP_SECRET, LOG_LEVEL: 'warn', ...pushService.env(),
    };
  }, 60_000);

  afterAll(async () => {
    await endAll(procs);
    await pushService?.close();
    await servers?.stop();
    await drop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** One IdP process on `redisUrl`, trusting the test CA through NODE_EXTRA_CA_CERTS or not; resolves once it listens. */
  async function startIdp(redisUrl: string, trustCa: boolean, more: Record<string, string> = {}) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = {
      ...baseEnv, ISSUER: url, PORT: String(port), REDIS_URL: redisUrl, REDIS_PREFIX: uniquePrefix('tls'),
      DATA_DIR: path.join(dir, `data-${port}`), NODE_EXTRA_CA_CERTS: trustCa ? servers.caFile : '', ...more,
    };
    const logs: string[] = [];
    const child = spawn(process.execPath, [IDP_MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (b: Buffer) => logs.push(String(b)));
    child.stderr!.on('data', (b: Buffer) => logs.push(String(b)));
    procs.push(child);
    await waitUntil(() => fetch(`${url}/healthz`).then((r) => r.ok, () => false), 60_000, `${url} listening (logs: ${logs.join('')})`);
    return { url, env, logs, stop: () => { child.kill('SIGTERM'); } };
  }

  const readiness = async (url: string) => {
    const res = await fetch(`${url}/readyz`);
    return { status: res.status, body: (await res.json()) as { checks: { name: string; ok: boolean }[] } };
  };

  it('signs in with a push through a TLS-only Cluster, the CLI and the long-poll over TLS too', async () => {
    const idp = await startIdp(servers.clusterUrl, true);
    await waitUntil(async () => (await readiness(idp.url)).status === 200, 20_000, `ready (logs: ${idp.logs.join('')})`);
    const admin = (args: string[], input?: string) => adminCli(args, { env: idp.env, ...(input === undefined ? {} : { input }) });

    await admin(['user', 'create', 'tlsuser', '--password-stdin'], 'amber lantern slowly 9 ferries\n');
    const code = /enrollment code for tlsuser: (\S+)/.exec(await admin(['device', 'enroll-code', 'tlsuser']))![1]!;
    const subscription = pushService.createSubscription();
    const phone = await SimulatedAuthenticator.enroll(idp.url, code, { push: { endpoint: subscription.endpoint, keys: subscription.keys } });

    const rp = await oidc.discovery(new URL(idp.url), 'test-rp', TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const authorize = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: RP_CALLBACK, scope: 'openid', state,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const browser = new FormBrowser(idp.url);
    const login = await browser.go(authorize.href);
    const uid = /\/interaction\/([^/?]+)/.exec(login.url)![1]!;
    const choice = await browser.submit(login.body, /\/login$/, { username: 'tlsuser', password: 'amber lantern slowly 9 ferries' });
    const wait = await browser.submit(choice.body, /\/push$/, {});
    const number = matchNumberOf(wait.body)!;
    const cid = (await pushService.waitForMessage(subscription.id)).payload.cid;

    // The long-poll waits on the Cluster's pub/sub (its own TLS connection) for the phone's answer.
    const polled = fetch(`${idp.url}/interaction/${uid}/push/status`, { headers: { cookie: browser.cookieHeader(), accept: 'application/json' } })
      .then(async (res) => ({ status: res.status, body: (await res.json()) as { status: string } }));
    const view = await phone.challenge(cid);
    expect((await phone.respond(cid, 'approve', { number, nonce: view.nonce })).body).toEqual({ status: 'approved' });
    expect(await polled).toMatchObject({ status: 200, body: { status: 'approved' } });

    const done = await browser.go((await pushStatus(browser, uid)).next!);
    expect(done.url).toMatch(CALLBACK);
    const tokens = await oidc.authorizationCodeGrant(rp, new URL(done.url), { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.claims()!.amr).toEqual(['pwd', 'otp', 'swk', 'mfa']);
    expect(idp.logs.join('')).not.toContain('TLS handshake');
    idp.stop();
  }, 120_000);

  it('keeps a sign-in\'s state on the master a TLS Sentinel names, its CA given as REDIS_CA', async () => {
    const idp = await startIdp(servers.sentinelUrl, false, { REDIS_CA: servers.caFile });
    await waitUntil(async () => (await readiness(idp.url)).status === 200, 20_000, `ready (logs: ${idp.logs.join('')})`);
    const browser = new FormBrowser(idp.url);
    const rp = await oidc.discovery(new URL(idp.url), 'test-rp', TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
    const authorize = oidc.buildAuthorizationUrl(rp, { redirect_uri: RP_CALLBACK, scope: 'openid', state: oidc.randomState(), code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256' });
    const login = await browser.go(authorize.href);
    expect(login.url).toMatch(/\/interaction\/[^/?]+$/);
    // The interaction was written to Redis by /auth and read back by the login page.
    expect(login.body).toContain('name="password"');
    idp.stop();
  }, 60_000);

  it('shows its client certificate to a server that asks for one (REDIS_CLIENT_CERT, REDIS_CLIENT_KEY)', async () => {
    const url = `rediss://127.0.0.1:${servers.mutualPort}`;
    const idp = await startIdp(url, false, { REDIS_CA: servers.caFile, REDIS_CLIENT_CERT: servers.clientCert, REDIS_CLIENT_KEY: servers.clientKey });
    await waitUntil(async () => (await readiness(idp.url)).status === 200, 20_000, `ready (logs: ${idp.logs.join('')})`);
    idp.stop();
    // Without it the server ends the connection: Redis is down for the IdP, whatever else is right.
    const without = await startIdp(url, false, { REDIS_CA: servers.caFile });
    expect((await readiness(without.url)).status).toBe(503);
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await readiness(without.url)).status).toBe(503);
    without.stop();
  }, 60_000);

  it.each([
    ['a Cluster whose CA the IdP does not trust', () => servers.clusterUrl, false, 'self-signed certificate'],
    ['a Sentinel group whose CA the IdP does not trust', () => servers.sentinelUrl, false, 'self-signed certificate'],
    ['a clear-text scheme at a TLS-only Cluster', () => servers.clusterUrl.replace('rediss-', 'redis-'), true, null],
  ] as const)('%s: /readyz says Redis is down and the log says why', async (_what, redisUrl, trustCa, reason) => {
    const idp = await startIdp(redisUrl(), trustCa);
    const ready = await readiness(idp.url);
    expect(ready.status).toBe(503);
    expect(ready.body.checks).toContainEqual(expect.objectContaining({ name: 'redis', ok: false }));
    // Still down a moment later: a refused handshake is not retried into success.
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await readiness(idp.url)).status).toBe(503);
    if (reason) {
      await waitUntil(async () => idp.logs.join('').includes('TLS handshake'), 10_000, 'the TLS problem logged');
      expect(idp.logs.join('')).toContain(reason);
    }
    idp.stop();
  }, 60_000);

  describe('REDIS_CA, REDIS_CLIENT_CERT and REDIS_CLIENT_KEY: what stops the start, naming the setting', () => {
    const none: RedisTlsSettings = { redisUrl: 'rediss://127.0.0.1:6380', redisCa: null, redisClientCert: null, redisClientKey: null };
    it.each([
      ['beside a clear-text REDIS_URL', () => ({ redisUrl: 'redis-cluster://127.0.0.1:7001', redisCa: servers.caFile }), 'REDIS_CA: is for a TLS REDIS_URL'],
      ['without REDIS_URL', () => ({ redisUrl: null, redisClientCert: servers.clientCert, redisClientKey: servers.clientKey }), 'REDIS_CLIENT_CERT: is for a TLS REDIS_URL'],
      ['a certificate without its key', () => ({ redisClientCert: servers.clientCert }), 'REDIS_CLIENT_KEY: REDIS_CLIENT_CERT and REDIS_CLIENT_KEY are set together'],
      ['a key without its certificate', () => ({ redisClientKey: servers.clientKey }), 'REDIS_CLIENT_CERT: REDIS_CLIENT_CERT and REDIS_CLIENT_KEY are set together'],
      ['a key that is not the certificate\'s', () => ({ redisClientCert: servers.clientCert, redisClientKey: servers.otherKey }), 'REDIS_CLIENT_KEY: is not the private key of REDIS_CLIENT_CERT'],
      ['a CA file that is not there', () => ({ redisCa: path.join(dir, 'no-such-ca.pem') }), 'REDIS_CA: cannot read'],
      ['a certificate file holding a key', () => ({ redisClientCert: servers.clientKey, redisClientKey: servers.clientKey }), 'holds no PEM certificate'],
      ['a key file holding a certificate', () => ({ redisClientCert: servers.clientCert, redisClientKey: servers.caFile }), 'holds no PEM private key'],
    ] as const)('%s', (_what, settings, message) => {
      expect(() => redisTlsOptions({ ...none, ...settings() })).toThrow(message);
    });

    it('gives the CA beside Node\'s roots, and the client certificate and key, when all is right', () => {
      const options = redisTlsOptions({ ...none, redisCa: servers.caFile, redisClientCert: servers.clientCert, redisClientKey: servers.clientKey })!;
      expect((options.ca as string[]).length).toBeGreaterThan(100);
      expect(String(options.cert)).toContain('BEGIN CERTIFICATE');
      expect(String(options.key)).toContain('PRIVATE KEY');
      expect(redisTlsOptions(none)).toBeUndefined();
    });

    it('npm start refuses in one line that quotes nothing of the files', () => {
      const r = spawnSync(process.execPath, [IDP_MAIN], {
        env: { ...baseEnv, PORT: '0', DATA_DIR: path.join(dir, 'data-refused'), REDIS_URL: servers.clusterUrl, REDIS_CLIENT_CERT: servers.clientCert, REDIS_CLIENT_KEY: servers.otherKey },
        encoding: 'utf8', timeout: 60_000,
      });
      expect(r.status).toBe(2);
      expect(r.stderr.split('\n').filter((l) => l.startsWith('Configuration error: '))).toEqual(['Configuration error: environment: REDIS_CLIENT_KEY: is not the private key of REDIS_CLIENT_CERT']);
      expect(r.stderr).not.toContain('BEGIN');
    });
  });
});
