import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { adminCli } from '../support/admin-cli.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/env.js';
import { freePort, freshSchemaUrl, testRp, TEST_RP_SECRET } from '../support/idp.js';
import { startPushService, type PushServiceDouble } from '../support/push-service.js';
import { matchNumberOf, RP_CALLBACK } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';
import { CALLBACK, pushStatus, waitUntil } from '../signin/helpers.js';
import { endAll, IDP_MAIN } from '../support/entry.js';

/**
 * Several instances (issue 14, item 1): three IdP processes, started as an operator starts them
 * (`src/main.ts` with environment only), share one PostgreSQL schema and the Redis that
 * TEST_REDIS_URL names: a single server, a Sentinel group (`redis-sentinel://…/name`) or a Cluster
 * (`redis-cluster://…`); .ci/run runs this file once per kind. The browser talks to the first
 * process, the phone to the second, the waiting page's long-poll goes to the third, and the relying
 * app redeems its code at the first: every hop crosses a process.
 */
describe(`three IdP processes on one Redis (${TEST_REDIS_URL.split(':')[0]})`, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'idp-three-'));
  const configDir = path.join(dir, 'config');
  const procs: ChildProcess[] = [];
  const logs: string[] = [];
  let pushService: PushServiceDouble;
  let drop: () => Promise<void> = async () => {};
  let env: NodeJS.ProcessEnv;
  let urls: string[] = [];

  /** The admin CLI beside the running IdPs (test/support/admin-cli.ts: without blocking this process). */
  const admin = (args: string[], input?: string) => adminCli(args, { env, ...(input === undefined ? {} : { input }) });

  beforeAll(async () => {
    pushService = await startPushService();
    const schema = await freshSchemaUrl();
    drop = schema.drop;
    mkdirSync(path.join(configDir, 'clients'), { recursive: true });
    writeFileSync(path.join(configDir, 'clients', 'test-rp.json'), JSON.stringify(testRp({ login: { consent: 'implicit' } })));
    const ports = [await freePort(), await freePort(), await freePort()];
    urls = ports.map((p) => `http://127.0.0.1:${p}`);
    // What several instances must share: the database, Redis (and its prefix), cookie keys and the KEK.
    env = {
      ...process.env, NODE_OPTIONS: '', ISSUER: urls[0], HOST: '127.0.0.1', CONFIG_DIR: configDir,
      DATABASE_URL: schema.url, REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: uniquePrefix('three'),
      COOKIE_KEYS: randomBytes(32).toString('base64url'), KEK: `k1:${randomBytes(32).toString('base64')}`,
      TEST_RP_SECRET, LOG_LEVEL: 'warn', ...pushService.env(),
    };
    for (const [i, port] of ports.entries()) {
      const child = spawn(process.execPath, [IDP_MAIN], {
        env: { ...env, PORT: String(port), DATA_DIR: path.join(dir, `data-${i}`) }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.on('data', (b: Buffer) => logs.push(`[${i}] ${b}`));
      child.stderr!.on('data', (b: Buffer) => logs.push(`[${i}] ${b}`));
      procs.push(child);
    }
    for (const url of urls) {
      await waitUntil(() => fetch(`${url}/readyz`).then((r) => r.ok, () => false), 60_000, `${url} ready (logs: ${logs.join('')})`);
    }
  }, 120_000);

  afterAll(async () => {
    await endAll(procs);
    await pushService?.close();
    await drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('signs in with a push: password at process 1, approval at process 2, long-poll at process 3, tokens at process 1', async () => {
    await admin(['user', 'create', 'alice', '--password-stdin'], 'violet harbour quietly 7 kettles\n');
    const code = /enrollment code for alice: (\S+)/.exec(await admin(['device', 'enroll-code', 'alice']))![1]!;
    const subscription = pushService.createSubscription();
    const phone = await SimulatedAuthenticator.enroll(urls[1]!, code, { push: { endpoint: subscription.endpoint, keys: subscription.keys } });

    const rp = await oidc.discovery(new URL(urls[0]!), 'test-rp', TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const authorize = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: RP_CALLBACK, scope: 'openid', state,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const browser = new FormBrowser(urls[0]!);
    const login = await browser.go(authorize.href);
    const uid = /\/interaction\/([^/?]+)/.exec(login.url)![1]!;
    const choice = await browser.submit(login.body, /\/login$/, { username: 'alice', password: 'violet harbour quietly 7 kettles' });
    const wait = await browser.submit(choice.body, /\/push$/, {});
    const number = matchNumberOf(wait.body)!;
    const cid = (await pushService.waitForMessage(subscription.id)).payload.cid;

    // The long-poll is held by process 3 with the cookies process 1 set.
    const atThird = fetch(`${urls[2]}/interaction/${uid}/push/status`, { headers: { cookie: browser.cookieHeader(), accept: 'application/json' } })
      .then(async (res) => ({ status: res.status, body: (await res.json()) as { status: string; next?: string } }));
    const view = await phone.challenge(cid);
    expect(view.numberChoices).toContain(number);
    expect((await phone.respond(cid, 'approve', { number, nonce: view.nonce })).body).toEqual({ status: 'approved' });
    expect(await atThird).toMatchObject({ status: 200, body: { status: 'approved' } });

    const status = await pushStatus(browser, uid);
    const done = await browser.go(status.next!);
    expect(done.url).toMatch(CALLBACK);
    const tokens = await oidc.authorizationCodeGrant(rp, new URL(done.url), { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.claims()!.amr).toEqual(['pwd', 'otp', 'swk', 'mfa']);

    // The same answer twice is refused, whichever process hears it (one Redis decides).
    const again = await phone.respond(cid, 'approve', { number, nonce: view.nonce });
    expect(again.status).toBeGreaterThanOrEqual(400);
  }, 120_000);
});
