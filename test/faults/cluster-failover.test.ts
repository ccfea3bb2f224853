import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { waitUntil } from '../signin/helpers.js';
import { approveAfterFailover, pendingOn, type FaultWorld, startFaultWorld } from './fleet.js';

/**
 * A Redis Cluster master failover mid-sign-in (issue 14, item 6), on a private six-node cluster this
 * file starts: the push is pending when the master holding the IdP's slot is killed; the cluster
 * promotes its replica (CLUSTERDOWN meanwhile), ioredis follows the new slot map, and the sign-in
 * completes through the other process too.
 */
describe('a Redis Cluster master failover mid-sign-in', () => {
  let w: FaultWorld;
  // Fleet sets REDIS_PREFIX=faults:, which a cluster makes the hash tag {faults:}: every key is in its slot.
  const slotKey = '{faults:}challenge';

  beforeAll(async () => { w = await startFaultWorld({ redis: 'cluster', processes: 2 }); }, 300_000);
  afterAll(() => w?.stop(), 120_000);

  it('completes the sign-in after the master of its slot is killed and its replica promoted', async () => {
    const alice = await w.fleet.user('alice', w.push, 1);
    const s = await w.fleet.toWaitingPage('alice');
    const challenge = await pendingOn(alice.phone);
    const master = w.cluster.masterOf(slotKey)!;
    expect(master).not.toBeNull();
    // The challenge is on that master; what was acknowledged has reached its replica (WAIT).
    expect(Number(master.cli('dbsize'))).toBeGreaterThan(0);
    expect(Number(master.cli('wait', '1', '5000'))).toBe(1);

    await master.kill();
    const promoted = await waitUntil(async () => {
      await new Promise((r) => setTimeout(r, 250));
      const m = w.cluster.masterOf(slotKey);
      return m && m.port !== master.port && m.cli('cluster', 'info').includes('cluster_state:ok') ? m : null;
    }, 60_000, 'the cluster to promote a replica');
    expect(promoted.port).not.toBe(master.port);

    const { claims, audited } = await approveAfterFailover(w, s, alice.phone, challenge.id);
    expect(claims.amr).toEqual(['pwd', 'otp', 'swk', 'mfa']);
    expect(audited).toEqual(expect.arrayContaining(['device.enrolled', 'push.approved', 'signin.success']));
    // Both processes still answer (readyz checks Redis through the new master).
    for (const url of w.fleet.urls) expect((await fetch(`${url}/readyz`)).status).toBe(200);
  }, 300_000);
});
