import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { waitUntil } from '../signin/helpers.js';
import { approveThrough, finish, type Fleet, pendingOn, rows, statusAt, type FaultWorld, startFaultWorld } from './fleet.js';

/**
 * The push service failing under real IdP processes (issue 14, item 6). The sender's own answers
 * to 5xx, 429, 410 and a hang are unit-tested in test/push/push-service-trouble.test.ts and
 * dead-subscription.test.ts, and one in-process sign-in each in test/signin/push-service-hang and
 * push-dead-subscription; here, whole sign-ins on IdP processes with private servers:
 * - 5xx twice then 201: the retried push arrives, the approval signs in;
 * - 5xx every time: the sign-in is not stuck, the typed passcode signs in, the service is not hammered;
 * - 429 with a long Retry-After: not waited in place, the passcode signs in, no second request.
 */
describe('the push service failing under two IdP processes', () => {
  let w: FaultWorld;

  beforeAll(async () => { w = await startFaultWorld({ redis: 'single', processes: 2 }); }, 300_000);
  afterAll(() => w?.stop(), 120_000);

  const requestsTo = (id: string) => w.push.requests.filter((r) => r.subscriptionId === id);

  async function passcodeSignIn(s: Awaited<ReturnType<Fleet['toWaitingPage']>>, otp: string) {
    const typed = await s.browser.go(`/interaction/${s.uid}/passcode`);
    expect(typed.res.status).toBe(200);
    const done = await s.browser.submit(typed.body, /\/passcode$/, { passcode: otp });
    expect(done.url).toMatch(/^http:\/\/127\.0\.0\.1:1\/cb\?code=/);
    return done;
  }

  it('5xx twice then 201: the retried push arrives and the approval signs in', async () => {
    const u = await w.fleet.user('carol', w.push, 1);
    w.push.force(u.subscription.id, { status: 500 }, { status: 503 });
    const s = await w.fleet.toWaitingPage('carol');
    await waitUntil(async () => requestsTo(u.subscription.id).length >= 3 || null, 60_000, 'the third attempt');
    const msg = await w.push.waitForMessage(u.subscription.id, 30_000);
    const challenge = await pendingOn(u.phone);
    expect(msg.payload.cid).toBe(challenge.id);
    expect((await approveThrough(u.phone, challenge.id, s.number)).body).toEqual({ status: 'approved' });
    const status = await waitUntil(async () => { const r = await statusAt(w.fleet.urls[1]!, s.browser, s.uid); return r.body.status === 'approved' ? r : null; }, 60_000, 'approved');
    expect((await finish(s, status.body.next!)).claims()!.amr).toEqual(['pwd', 'otp', 'swk', 'mfa']);
  }, 240_000);

  it('5xx every time: the waiting page answers, the passcode signs in, the push service is not hammered', async () => {
    const u = await w.fleet.user('dave', w.push, 1);
    w.push.force(u.subscription.id, { status: 500, times: 100 });
    const s = await w.fleet.toWaitingPage('dave');
    await waitUntil(async () => requestsTo(u.subscription.id).length >= 1 || null, 60_000, 'the first attempt');
    const now = await statusAt(w.fleet.urls[1]!, s.browser, s.uid, { wait: false });
    expect(now.status).toBe(200);
    expect(['pending', 'failed', 'undeliverable']).toContain(now.body.status);
    const done = await passcodeSignIn(s, u.phone.currentTotp());
    const tokens = await oidc.authorizationCodeGrant(s.rp, new URL(done.url), { pkceCodeVerifier: s.verifier, expectedState: s.state });
    expect(tokens.claims()!.amr).toContain('otp');
    await new Promise((r) => setTimeout(r, 3000));
    expect(requestsTo(u.subscription.id).length).toBeLessThanOrEqual(5);
    const audited = (await rows(w.pg.url, "SELECT type FROM audit_events WHERE account_id = (SELECT id FROM accounts WHERE username = 'dave')")).map((r) => r.type);
    expect(audited).toContain('signin.success');
  }, 240_000);

  it('429 with a long Retry-After: handed back, not waited in place or retried at once; the passcode signs in', async () => {
    const u = await w.fleet.user('erin', w.push, 1);
    w.push.force(u.subscription.id, { status: 429, headers: { 'retry-after': '3600' }, times: 10 });
    const s = await w.fleet.toWaitingPage('erin');
    await waitUntil(async () => requestsTo(u.subscription.id).length >= 1 || null, 60_000, 'the first attempt');
    await new Promise((r) => setTimeout(r, 3000));
    expect(requestsTo(u.subscription.id)).toHaveLength(1);
    const now = await statusAt(w.fleet.urls[0]!, s.browser, s.uid, { wait: false });
    expect(now.status).toBe(200);
    await passcodeSignIn(s, u.phone.currentTotp());
  }, 240_000);
});
