import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createRedisChallengeStore } from '../../src/challenge/redis-store.js';
import type { Resolution } from '../../src/challenge/types.js';
import { createChallengeWaiters, type ProcessChallengeWaiters } from '../../src/challenge/waiters.js';
import { isStorageOutage } from '../../src/http/errors.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { openRedis, type Redis } from '../../src/storage/redis.js';
import { makeChallenge, sleep } from '../support/challenge-redis.js';
import { PrivateCluster, PrivateSentinel } from '../support/private-servers.js';

/**
 * Redis gone for good, on the topologies several instances use. Red-team (Redis loss round):
 * - A Cluster whose nodes were all killed: the process listening for resolutions (ioredis's cluster
 *   subscriber, from `duplicate()`) went from dead node to dead node without a pause, about half a
 *   core, and left a 2 s timer and a `close` listener behind at each turn (30,000 timers in 30 s,
 *   2 MB of memory a second, never given back after the Cluster returned).
 * - A Sentinel group gone (and a Cluster): ioredis kept retrying inside its connector without
 *   closing, so queued commands were never failed and every request that needed Redis hung.
 * - /metrics hung with them (its pending-challenges gauge waited on Redis without a deadline).
 */
const approval = (): Resolution => ({ status: 'approved', deviceId: 'dev_1', decision: 'approve', reason: null, amr: ['otp', 'swk'], at: Date.now() });
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

/** How a command ends when nothing answers: its error (or 'answered'), and after how long. */
async function outcome(redis: Redis): Promise<{ err: unknown; ms: number }> {
  const t0 = Date.now();
  const err = await Promise.race([
    redis.get('anything').then(() => 'answered', (e: unknown) => e),
    sleep(20_000).then(() => 'still waiting after 20 s'),
  ]);
  return { err, ms: Date.now() - t0 };
}

describe('a Redis Cluster gone for good', () => {
  let cluster: PrivateCluster;
  let redis: Redis;
  let waiters: ProcessChallengeWaiters;
  beforeAll(async () => { cluster = await PrivateCluster.start(); }, 120_000);
  afterAll(async () => {
    await waiters?.close().catch(() => undefined);
    redis?.disconnect();
    await cluster?.stop();
  }, 60_000);

  it('hears resolutions through the death of the node it listens on; with every node gone it neither spins nor piles up timers, and commands fail as an outage', async () => {
    // The prefix `gone:` is the hash tag {gone:}: every key on one master. The URL names another
    // master first, the node the process listens on (nothing is known of the cluster yet).
    const slotMaster = cluster.masterOf('{gone:}x')!;
    const listened = cluster.nodes.slice(0, 3).find((n) => n !== slotMaster)!;
    const others = cluster.nodes.filter((n) => n !== listened);
    redis = openRedis(`redis-cluster://${[listened, ...others].map((n) => `127.0.0.1:${n.port}`).join(',')}`, 'gone:');
    const store = createRedisChallengeStore(redis);
    // A safety net far beyond the test's patience: a wake can only come from a message.
    waiters = createChallengeWaiters(redis, store, { safetyNetMs: 600_000 });
    const heard = async () => {
      const ch = makeChallenge();
      await store.create(ch);
      const waiting = waiters.wait(ch.id, 3_000);
      await sleep(200);
      await store.resolve(ch.id, approval());
      return (await waiting)?.status;
    };
    expect(await heard()).toBe('approved');

    // The node it listens on dies (its replica takes over its slots); it listens on another and hears again.
    await listened.kill();
    let status: string | undefined;
    for (const until = Date.now() + 45_000; status !== 'approved' && Date.now() < until;) {
      status = await heard().catch(() => undefined);
      if (status !== 'approved') await sleep(500);
    }
    expect(status).toBe('approved');

    for (const node of cluster.nodes) await node.kill().catch(() => undefined);
    await sleep(3_000);
    const before = timers();
    await sleep(6_000);
    // The old subscriber left about 1,000 timers a second behind; a backed-off reconnect makes a handful.
    expect(timers() - before).toBeLessThan(100);
    const { err, ms } = await outcome(redis);
    expect(isStorageOutage(err)).toBe(true);
    expect(ms).toBeLessThan(15_000);
  }, 240_000);
});

describe('a Redis Sentinel group gone for good', () => {
  let group: PrivateSentinel;
  let redis: Redis;
  beforeAll(async () => { group = await PrivateSentinel.start('gone'); }, 120_000);
  afterAll(async () => { redis?.disconnect(); await group?.stop(); }, 60_000);

  it('fails a command as an outage (a 503 at the doors) instead of holding it for ever', async () => {
    redis = openRedis(group.url, 'gone:');
    await redis.set('k', 'v');
    for (const s of [...group.sentinels, group.replica, group.master]) await s.kill();
    const { err, ms } = await outcome(redis);
    expect(isStorageOutage(err)).toBe(true);
    expect(ms).toBeLessThan(15_000);
  }, 120_000);
});

describe('/metrics while Redis does not answer', () => {
  it('answers within its deadline with the pending count NaN', async () => {
    const metrics = createMetrics();
    metrics.pendingChallengesFrom(() => new Promise<number>(() => {}));
    const t0 = Date.now();
    const text = await metrics.registry.metrics();
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(text).toMatch(/^idp_pending_challenges nan$/mi);
  });
});
