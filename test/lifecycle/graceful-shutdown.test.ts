import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as oidc from 'openid-client';
import { runAdminCli } from '../support/admin-cli.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/env.js';
import { freePort, freshSchemaUrl, testRp, TEST_RP_SECRET } from '../support/idp.js';
import { startPushService, type PushServiceDouble } from '../support/push-service.js';
import { RP_CALLBACK } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';
import { IDP_MAIN } from '../support/entry.js';

const PASSWORD = 'shutdown test password 7';

/**
 * The server as an operator runs it (a real child process on PostgreSQL and Redis), stopped with
 * SIGTERM while a waiting page's status request is held: the request is answered (503 with a
 * Retry-After, which the page's script honours), not dropped, and the process exits 0.
 */
describe('graceful shutdown', () => {
  let schema: Awaited<ReturnType<typeof freshSchemaUrl>>;
  let pushService: PushServiceDouble;
  let child: ChildProcess | null = null;
  let output = '';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shutdown-'));
  let url = '';
  let env: NodeJS.ProcessEnv = {};

  beforeAll(async () => {
    schema = await freshSchemaUrl();
    pushService = await startPushService();
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    mkdirSync(path.join(dir, 'config', 'clients'), { recursive: true });
    writeFileSync(path.join(dir, 'config', 'clients', 'test-rp.json'), JSON.stringify(testRp({ login: { consent: 'implicit' } })));
    env = {
      ...process.env, NODE_OPTIONS: '', PORT: String(port), HOST: '127.0.0.1', ISSUER: url,
      DATABASE_URL: schema.url, REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: uniquePrefix('shutdown'),
      DATA_DIR: path.join(dir, 'data'), CONFIG_DIR: path.join(dir, 'config'), DEMO: 'false', TEST_RP_SECRET,
      SHUTDOWN_GRACE: '20', LOG_LEVEL: 'info', ...pushService.env(),
    };
    child = spawn(process.execPath, [IDP_MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
    for (let i = 0; i < 600 && !(await fetch(`${url}/healthz`).then((r) => r.ok, () => false)); i++) {
      if (child.exitCode !== null) throw new Error(`the server exited: ${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await pushService?.close();
    await schema?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The admin CLI beside the running IdP (test/support/admin-cli.ts: without blocking this process). */
  const cli = (...args: string[]) => runAdminCli(args, { env });

  it('answers a held status request with 503 + Retry-After on SIGTERM and exits 0', async () => {
    expect((await cli('user', 'create', 'alice', '--password', PASSWORD)).status).toBe(0);
    // Without ISSUER of its own, the CLI's link names the running server (its record in DATA_DIR),
    // not its default http://localhost:$PORT.
    const enroll = await runAdminCli(['device', 'enroll-code', 'alice'], { env: { ...env, ISSUER: undefined } });
    expect(enroll.stdout).toContain(`open on the phone: ${url}/`);
    const code = /enrollment code for alice: (\S+)/.exec(enroll.stdout)![1]!;
    const subscription = pushService.createSubscription();
    await SimulatedAuthenticator.enroll(url, code, { push: { endpoint: subscription.endpoint, keys: subscription.keys }, name: 'Phone' });

    const rp = await oidc.discovery(new URL(url), 'test-rp', TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
    const browser = new FormBrowser(url);
    const login = await browser.go(oidc.buildAuthorizationUrl(rp, {
      redirect_uri: RP_CALLBACK, scope: 'openid', state: oidc.randomState(),
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    }).href);
    const uid = /\/interaction\/([^/?]+)/.exec(login.url)![1]!;
    const choose = await browser.submit(login.body, /\/login$/, { username: 'alice', password: PASSWORD });
    const wait = await browser.submit(choose.body, /\/push$/, {});
    expect(wait.url).toMatch(/\/wait$/);
    await pushService.waitForMessage(subscription.id);

    // The waiting page's long-poll: held by the server (nobody answers the push).
    const status = browser.request(`${url}/interaction/${uid}/push/status`, { headers: { accept: 'application/json' } });
    let answered = false;
    void status.then(() => { answered = true; }, () => { answered = true; });
    await new Promise((r) => setTimeout(r, 1000));
    expect(answered).toBe(false);

    // A request in flight on a kept-alive connection: its headers sent, its body not yet.
    const inFlight = connect(Number(new URL(url).port), '127.0.0.1');
    let reply = '';
    inFlight.on('data', (d: Buffer) => { reply += d.toString('latin1'); });
    inFlight.on('error', () => {});
    const body = 'grant_type=refresh_token&refresh_token=x';
    await new Promise<void>((resolve) => inFlight.write(`POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n`, () => resolve()));
    await new Promise((r) => setTimeout(r, 300));

    const exited = new Promise<number | null>((resolve) => child!.once('exit', (c) => resolve(c)));
    const stoppedAt = Date.now();
    child!.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    inFlight.write(body);
    const res = await status;
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await res.json()).toMatchObject({ retry: true, error: 'shutting_down' });
    expect(await exited).toBe(0);
    // The request in flight was answered, and once answered its kept-alive connection did not hold
    // the stop (red-team: it did, until Node's 5 s keep-alive timeout, or the grace if shorter).
    expect(reply).toMatch(/^HTTP\/1\.1 400 [^]*"error":"invalid_request"/);
    expect(Date.now() - stoppedAt).toBeLessThan(3_000);
    inFlight.destroy();
    expect(output).toMatch(/"released":1/);
    expect(output).toMatch(/"msg":"stopped"/);
    // Nothing listens any more.
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});
