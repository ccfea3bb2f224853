import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { hashPassword } from '../../src/accounts/passwords.js';
import { SimulatedAuthenticator } from '../support/authenticator.js';
import { uniquePrefix } from '../support/env.js';
import { freePort, freshSchemaUrl, startTestIdp, testRp, TEST_RP_SECRET, type TestIdp } from '../support/idp.js';
import { startPushService, type PushServiceDouble } from '../support/push-service.js';
import { matchNumberOf, RP_CALLBACK } from '../support/push-world.js';
import { FormBrowser } from '../support/web-browser.js';
import { CALLBACK, pushStatus } from './helpers.js';

/**
 * Guards DESIGN step 9 across processes: two IdP processes behind one issuer, sharing one Redis
 * and one PostgreSQL schema (and the same cookie keys and KEK). The browser talks to process A,
 * the phone to process B; the waiting page held by A wakes as soon as B takes the approval.
 */
describe('two IdP processes on one Redis', () => {
  const schema = `t_two_${Date.now()}_${Math.random().toString(36).slice(2, 8)}`;
  const redisPrefix = uniquePrefix('two');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'idp-two-'));
  let pushService: PushServiceDouble;
  let a: TestIdp;
  let b: TestIdp;
  let bUrl: string;
  let accountId: string;
  let rp: oidc.Configuration;

  beforeAll(async () => {
    pushService = await startPushService();
    const portA = await freePort();
    const issuer = `http://127.0.0.1:${portA}`;
    // One issuer for both, as behind a load balancer; each listens on its own port.
    const common = {
      storage: 'postgres' as const, redis: 'real' as const, schema, redisPrefix, dataDir,
      clients: [testRp({ login: { consent: 'implicit' } })],
      env: { ISSUER: issuer, ...pushService.env() },
    };
    a = await startTestIdp({ ...common, port: portA, idp: { longPollMs: 10_000 } });
    b = await startTestIdp({ ...common, idp: { longPollMs: 10_000 } });
    bUrl = `http://127.0.0.1:${b.settings.port}`;
    expect(b.url).toBe(a.url);
    expect(b.settings.port).not.toBe(a.settings.port);
    accountId = (await a.idp.accounts.create({ username: 'alice', displayName: 'Alice', passwordHash: await hashPassword('alice password 1') })).id;
    rp = await oidc.discovery(new URL(a.url), 'test-rp', TEST_RP_SECRET, undefined, { execute: [oidc.allowInsecureRequests] });
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await pushService?.close();
    await (await freshSchemaUrl(schema)).drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('the page long-polling on A wakes within a moment of the approval taken by B, and the sign-in completes', async () => {
    // The phone enrolls through B and talks only to B; the code was issued by A.
    const offer = await a.idp.deviceService.issueEnrollment(accountId, 'test');
    const subscription = pushService.createSubscription();
    const phone = await SimulatedAuthenticator.enroll(bUrl, offer.code, { push: { endpoint: subscription.endpoint, keys: subscription.keys } });
    expect(phone.enrollment!.issuer).toBe(a.url);
    expect(phone.baseUrl).toBe(bUrl);

    // The browser signs in at A.
    const { browser, uid, next: choice, verifier, state } = await signInAtA();
    expect(choice.url).toMatch(/\/second-factor$/);
    const wait = await browser.submit(choice.body, /\/push$/, {});
    const number = matchNumberOf(wait.body)!;
    const cid = (await pushService.waitForMessage(subscription.id)).payload.cid;

    // B knows the challenge A made (shared Redis) and the device A's database row holds (shared schema).
    const view = await phone.challenge(cid);
    expect(view.numberChoices).toContain(number);

    // A holds the long-poll; B takes the approval. A's safety-net re-read runs every second, so a
    // wake well under that comes from B's published resolution.
    let wokeAt = 0;
    const waiting = pushStatus(browser, uid, { wait: true }).then((s) => { wokeAt = Date.now(); return s; });
    await new Promise((r) => setTimeout(r, 150));
    const answeredAt = Date.now();
    const answer = await phone.respond(cid, 'approve', { number, nonce: view.nonce });
    const answerReturnedAt = Date.now();
    expect(answer.body).toEqual({ status: 'approved' });
    const status = await waiting;
    expect(status.status).toBe('approved');
    expect(wokeAt - answeredAt).toBeLessThan(1000);
    expect(wokeAt - answerReturnedAt).toBeLessThan(500);

    const done = await browser.go(status.next);
    expect(done.url).toMatch(CALLBACK);
    const claims = (await oidc.authorizationCodeGrant(rp, new URL(done.url), { pkceCodeVerifier: verifier, expectedState: state })).claims()!;
    expect(claims.amr).toEqual(['pwd', 'otp', 'swk', 'mfa']);
    expect(claims.sub).toBe(accountId);
    expect(claims.iss).toBe(a.url);
  });

  it("a passcode typed at A is checked against the device B enrolled (one database, one KEK)", async () => {
    const offer = await b.idp.deviceService.issueEnrollment(accountId, 'test');
    const phone = await SimulatedAuthenticator.enroll(bUrl, offer.code, { push: null });
    const { browser, uid } = await signInAtA();
    const typed = await browser.go(`/interaction/${uid}/passcode`);
    const done = await browser.submit(typed.body, /\/passcode$/, { passcode: phone.currentTotp() });
    expect(done.url).toMatch(CALLBACK);
  });

  it('the other way round: a long-poll held by B (with the cookie A set) wakes when A takes the approval', async () => {
    const offer = await a.idp.deviceService.issueEnrollment(accountId, 'test');
    const subscription = pushService.createSubscription();
    const phone = await SimulatedAuthenticator.enroll(a.url, offer.code, { push: { endpoint: subscription.endpoint, keys: subscription.keys } });
    const { browser, uid } = await signInAtA();
    const wait = await browser.submit((await browser.go(`/interaction/${uid}/second-factor`)).body, /\/push$/, {});
    const number = matchNumberOf(wait.body)!;
    const cid = (await pushService.waitForMessage(subscription.id)).payload.cid;

    // The same browser's next request lands on B: the interaction cookie A signed is B's to read.
    let wokeAt = 0;
    const atB = fetch(`${bUrl}/interaction/${uid}/push/status`, { headers: { cookie: browser.cookieHeader(), accept: 'application/json' } })
      .then(async (res) => { wokeAt = Date.now(); return { status: res.status, body: (await res.json()) as { status: string } }; });
    await new Promise((r) => setTimeout(r, 150));
    expect((await phone.respond(cid, 'approve', { number })).body).toEqual({ status: 'approved' });
    const answerReturnedAt = Date.now();
    const held = await atB;
    expect(held).toMatchObject({ status: 200, body: { status: 'approved' } });
    expect(wokeAt - answerReturnedAt).toBeLessThan(500);
    expect((await browser.go(`/interaction/${uid}/wait`)).url).toMatch(CALLBACK);
  });

  async function signInAtA() {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: RP_CALLBACK, scope: 'openid', state,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const browser = new FormBrowser(a.url);
    const login = await browser.go(url.href);
    const uid = login.url.match(/\/interaction\/([^/?]+)/)![1]!;
    const next = await browser.submit(login.body, /\/login$/, { username: 'alice', password: 'alice password 1' });
    return { browser, uid, next, verifier, state };
  }
});
