import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { FormBrowser } from '../support/web-browser.js';
import { CALLBACK, waitUntil } from '../signin/helpers.js';
import { approveThrough, finish, pendingOn, rows, statusAt, type FaultWorld, startFaultWorld } from './fleet.js';

/**
 * Redis faults (issue 14, item 6), against a private redis-server and PostgreSQL this file starts:
 * - Redis down: the sign-in pages answer a clear 503 "temporarily unavailable" page with
 *   Retry-After, the device API a JSON 503, /readyz fails; nothing hangs; once Redis is back
 *   everything works again by itself (no restart of the IdP).
 * - Redis killed and restarted (empty: no persistence) while a push is pending: the waiting page
 *   gets an answer, the sign-in ends clearly, a new one completes; nothing durable is lost.
 */
describe('Redis down and restarted under two IdP processes', () => {
  let w: FaultWorld;

  beforeAll(async () => { w = await startFaultWorld({ redis: 'single', processes: 2 }); }, 240_000);
  afterAll(() => w?.stop(), 120_000);

  it('answers 503 "temporarily unavailable" while Redis is down (pages, device API, /readyz), and recovers by itself', async () => {
    const alice = await w.fleet.user('alice', w.push);
    // A sign-in reaches the password form while Redis is up.
    const before = await w.fleet.toWaitingPage('alice').catch(() => null);
    expect(before?.number).toEqual(expect.any(Number));

    await w.redis.kill();
    const browser = new FormBrowser(w.fleet.urls[1]!);
    // The password POST needs Redis (attempt limits, the challenge): a 503 page, soon.
    const started = Date.now();
    // The authorization endpoint (oidc-provider's, its interactions live in Redis) and the login
    // page: each a 503 page, soon.
    const authorize = `${w.fleet.urls[1]}/auth?client_id=test-rp&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('http://127.0.0.1:1/cb')}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256&state=s1`;
    const page = await browser.go(authorize);
    expect(page.res.status).toBe(503);
    expect(page.res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(page.res.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.body).toMatch(/temporarily unavailable/i);
    expect(page.body).not.toMatch(/ECONNREFUSED|ioredis|stack|at \w+ \(/);

    // The device API (the phone) answers JSON.
    const pending = await alice.phone.request('GET', '/api/device/challenges');
    expect(pending.status).toBe(503);
    expect(pending.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(pending.body).toMatchObject({ error: 'temporarily_unavailable' });
    // The waiting page's long-poll on a sign-in started before the outage: an answer, not a hang.
    const poll = await statusAt(w.fleet.urls[0]!, before!.browser, before!.uid, { timeoutMs: 60_000 });
    expect(poll).toMatchObject({ status: 503, body: { error: 'temporarily_unavailable' } });
    expect(poll.retryAfter).toMatch(/^\d+$/);

    const ready = await fetch(`${w.fleet.urls[0]}/readyz`, { signal: AbortSignal.timeout(30_000) });
    expect(ready.ok).toBe(false);
    // Nothing above waited for Redis to come back (generous bound for a loaded machine).
    expect(Date.now() - started).toBeLessThan(120_000);

    // Redis returns: both processes serve again without a restart, and a whole sign-in completes.
    await w.redis.up();
    for (const url of w.fleet.urls) await waitUntil(() => fetch(`${url}/readyz`).then((r) => r.ok, () => false), 60_000, `${url} ready again`);
    const s = await w.fleet.toWaitingPage('alice');
    // Redis restarted empty: the only pending push is the new one.
    const current = await waitUntil(async () => (await alice.phone.pending())[0] ?? null, 30_000, 'the new push on the phone');
    expect((await alice.phone.respond(current.id, 'approve', { number: s.number!, nonce: current.nonce })).body).toEqual({ status: 'approved' });
    const status = await waitUntil(async () => { const r = await statusAt(w.fleet.urls[1]!, s.browser, s.uid); return r.body.status === 'approved' ? r : null; }, 60_000, 'approved');
    const done = await s.browser.go(status.body.next!);
    expect(done.url).toMatch(CALLBACK);
    const tokens = await oidc.authorizationCodeGrant(s.rp, new URL(done.url), { pkceCodeVerifier: s.verifier, expectedState: s.state });
    expect(tokens.claims()!.amr).toEqual(['pwd', 'otp', 'swk', 'mfa']);

    // Nothing durable was lost: the phone is still enrolled, the sign-in is audited.
    expect(await rows(w.pg.url, "SELECT id FROM devices WHERE revoked_at IS NULL")).toHaveLength(1);
    const audited = (await rows(w.pg.url, 'SELECT type FROM audit_events')).map((r) => r.type);
    expect(audited).toEqual(expect.arrayContaining(['device.enrolled', 'signin.success']));
  }, 300_000);

  it('Redis killed and restarted while a push is pending: the waiting page gets an answer, the sign-in ends clearly, the next one completes', async () => {
    const bob = await w.fleet.user('bob', w.push, 1);
    const s = await w.fleet.toWaitingPage('bob');
    const old = await pendingOn(bob.phone);
    // The long-poll is held by process 1 when Redis goes.
    const held = statusAt(w.fleet.urls[1]!, s.browser, s.uid, { timeoutMs: 90_000 });
    await new Promise((r) => setTimeout(r, 1500));
    await w.redis.kill();
    await new Promise((r) => setTimeout(r, 2000));
    await w.redis.up(); // empty: no persistence, every pending challenge and sign-in state is gone

    // The held long-poll answers (it is not left hanging past its timeout): with an outcome, or a
    // 503 that tells the page to try again.
    const first = await held;
    expect(first.status).not.toBe(0);
    expect(first.status === 503 || first.status === 200 || first.status === 400).toBe(true);
    // The page's next poll gets a clear end: the sign-in is gone, start again (never a 500).
    const next = await waitUntil(async () => {
      const r = await statusAt(w.fleet.urls[0]!, s.browser, s.uid, { timeoutMs: 40_000 });
      return r.status === 503 || r.status === 0 || (r.status === 200 && r.body.status === 'pending') ? null : r;
    }, 90_000, 'a final answer for the lost sign-in');
    expect(next.status).toBeLessThan(500);
    expect(next.status === 200 ? next.body.status : next.body.error).toMatch(/expired|session_not_found|failed|denied/);
    // The phone's answer to the lost push is refused clearly, not a 500.
    const late = await approveThrough(bob.phone, old.id, s.number, 60_000).catch((err: { status?: number; body?: unknown }) => ({ status: err.status ?? 0, body: err.body }));
    expect(late.status).toBeGreaterThanOrEqual(400);
    expect(late.status).toBeLessThan(500);

    // A new sign-in completes, with no restart of the IdP.
    await waitUntil(() => fetch(`${w.fleet.urls[0]}/readyz`).then((r) => r.ok, () => false), 60_000, 'ready again');
    const again = await w.fleet.toWaitingPage('bob');
    const fresh = await pendingOn(bob.phone);
    expect((await approveThrough(bob.phone, fresh.id, again.number)).body).toEqual({ status: 'approved' });
    const status = await waitUntil(async () => { const r = await statusAt(w.fleet.urls[1]!, again.browser, again.uid); return r.body.status === 'approved' ? r : null; }, 60_000, 'approved');
    const tokens = await finish(again, status.body.next!);
    expect(tokens.claims()!.amr).toEqual(['pwd', 'otp', 'swk', 'mfa']);
    expect(await rows(w.pg.url, "SELECT id FROM devices WHERE status = 'active'")).toHaveLength(2);
  }, 300_000);
});
