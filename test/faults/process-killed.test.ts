import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { approveThrough, finish, pendingOn, pollUntilAnswered, rows, statusAt, type FaultWorld, startFaultWorld } from './fleet.js';

/**
 * An IdP process killed (SIGKILL: no shutdown code runs) mid-sign-in, another taking over (issue
 * 14, item 6): the waiting page's long-poll is held by process 1 when it dies; the page polls
 * again (a load balancer sends it to a survivor), the phone approves at process 2, and the sign-in
 * completes. Nothing durable is lost: the sign-in state lives in Redis, the rest in PostgreSQL.
 */
describe('an IdP process killed mid-sign-in', () => {
  let w: FaultWorld;

  beforeAll(async () => { w = await startFaultWorld({ redis: 'single', processes: 3 }); }, 300_000);
  afterAll(() => w?.stop(), 120_000);

  it('the waiting page polled on a survivor completes after the process holding its long-poll is SIGKILLed', async () => {
    const alice = await w.fleet.user('alice', w.push, 2);
    const s = await w.fleet.toWaitingPage('alice');
    const challenge = await pendingOn(alice.phone);

    // Process 1 holds the long-poll; it dies without a word.
    const held = statusAt(w.fleet.urls[1]!, s.browser, s.uid, { timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 1500));
    await w.fleet.kill(1, 'SIGKILL');
    const cut = await held;
    expect(cut.status === 0 || (cut.status === 200 && cut.body.status === 'pending')).toBe(true); // the connection ends; no false answer

    // The page polls again at a survivor; the phone approves at another survivor.
    const waiting = pollUntilAnswered(w.fleet.urls[2]!, s.browser, s.uid);
    const answer = await approveThrough(alice.phone, challenge.id, s.number);
    expect(answer.body).toEqual({ status: 'approved' });
    const status = await waiting;
    expect(status.body).toMatchObject({ status: 'approved' });
    const tokens = await finish(s, status.body.next!);
    expect(tokens.claims()!.amr).toEqual(['pwd', 'otp', 'swk', 'mfa']);

    // The dead process comes back and serves the same users (nothing was only in its memory).
    await w.fleet.up(1);
    const again = await statusAt(w.fleet.urls[1]!, s.browser, s.uid, { wait: false });
    expect(again.status).toBeLessThan(500);
    expect(await rows(w.pg.url, "SELECT id FROM devices WHERE status = 'active' AND revoked_at IS NULL")).toHaveLength(1);
    const audited = (await rows(w.pg.url, 'SELECT type FROM audit_events')).map((r) => r.type);
    expect(audited).toEqual(expect.arrayContaining(['device.enrolled', 'push.sent', 'signin.success']));
  }, 300_000);
});
