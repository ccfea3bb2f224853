import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { waitUntil } from '../signin/helpers.js';
import { approveAfterFailover, pendingOn, type FaultWorld, startFaultWorld } from './fleet.js';

/**
 * A Sentinel failover mid-sign-in (issue 14, items 1 and 6), on a private Sentinel group (master,
 * replica, three Sentinels) this file starts: the push is pending when the master is killed;
 * the Sentinels promote the replica, ioredis follows them, and the sign-in completes.
 */
describe('a Sentinel failover mid-sign-in', () => {
  let w: FaultWorld;

  beforeAll(async () => { w = await startFaultWorld({ redis: 'sentinel', processes: 2 }); }, 300_000);
  afterAll(() => w?.stop(), 120_000);

  it('completes the sign-in after the master is killed and the replica promoted', async () => {
    const alice = await w.fleet.user('alice', w.push, 1);
    const s = await w.fleet.toWaitingPage('alice');
    const challenge = await pendingOn(alice.phone);
    const oldMaster = w.sentinel.master.port;
    // What was acknowledged has reached the replica (WAIT), as it has in the ordinary course.
    expect(Number(w.sentinel.master.cli('wait', '1', '5000'))).toBe(1);

    await w.sentinel.master.kill();
    await waitUntil(async () => { const p = w.sentinel.masterPort(); return p !== null && p !== oldMaster; }, 60_000, 'the Sentinels to promote the replica');
    expect(w.sentinel.masterPort()).toBe(w.sentinel.replica.port);

    const { claims, audited } = await approveAfterFailover(w, s, alice.phone, challenge.id);
    expect(claims.amr).toEqual(['pwd', 'otp', 'swk', 'mfa']);
    expect(audited).toEqual(expect.arrayContaining(['device.enrolled', 'push.approved', 'signin.success']));
  }, 300_000);
});
