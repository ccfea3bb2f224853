import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createRedisChallengeStore, type RedisChallengeStore } from '../../src/challenge/redis-store.js';
import type { Resolution } from '../../src/challenge/types.js';
import { createChallengeWaiters, type ProcessChallengeWaiters } from '../../src/challenge/waiters.js';
import type { Redis } from '../../src/storage/redis.js';
import { uniquePrefix } from '../support/env.js';
import { dropAndQuit, makeChallenge, openTestRedis, sleep } from '../support/challenge-redis.js';

/*
 * DESIGN step 9: the login page may wait on one IdP process while the phone's answer lands on
 * another. Two "processes" here = two independent connections, stores and waiter sets on one Redis.
 */

const approval = (): Resolution => ({
  status: 'approved', deviceId: 'dev_1', decision: 'approve', reason: null, amr: ['otp', 'swk'], at: Date.now(),
});

for (const kind of ['real', 'stand-in'] as const) {
  describe(`waiters across processes (${kind})`, () => {
    const prefix = uniquePrefix('ch-wait');
    let connA: Redis;
    let connB: Redis;
    let storeA: RedisChallengeStore;
    let storeB: RedisChallengeStore;
    // A safety net far beyond the test's patience: a quick wake can only come from pub/sub.
    let waitersA: ProcessChallengeWaiters;
    let waitersB: ProcessChallengeWaiters;

    beforeAll(() => {
      connA = openTestRedis(kind, 'ch-wait', prefix);
      connB = openTestRedis(kind, 'ch-wait', prefix);
      storeA = createRedisChallengeStore(connA);
      storeB = createRedisChallengeStore(connB);
      waitersA = createChallengeWaiters(connA, storeA, { safetyNetMs: 60_000 });
      waitersB = createChallengeWaiters(connB, storeB, { safetyNetMs: 60_000 });
    });
    afterAll(async () => {
      await waitersA.close();
      await waitersB.close();
      await connB.quit();
      await dropAndQuit(connA);
    });

    it('wakes every waiter of the challenge, in both processes, soon after a resolve elsewhere', async () => {
      const ch = makeChallenge();
      const bystander = makeChallenge();
      await storeA.create(ch);
      await storeA.create(bystander);
      const waits = [waitersA.wait(ch.id, 10_000), waitersA.wait(ch.id, 10_000), waitersB.wait(ch.id, 10_000)];
      const still = waitersA.wait(bystander.id, 1_500);
      await sleep(150); // let the initial reads see 'pending', so only the message can wake them
      const t0 = Date.now();
      expect(await storeB.resolve(ch.id, approval())).toBe('resolved');
      const woken = await Promise.all(waits);
      expect(Date.now() - t0).toBeLessThan(500);
      for (const w of woken) expect(w?.status).toBe('approved');
      expect(woken[0]?.resolution?.deviceId).toBe('dev_1');
      expect((await still)?.status).toBe('pending');
    });

    it('returns at once for a challenge already resolved, and null for an unknown one', async () => {
      const ch = makeChallenge();
      await storeA.create(ch);
      await storeA.resolve(ch.id, approval());
      const t0 = Date.now();
      expect((await waitersB.wait(ch.id, 10_000))?.status).toBe('approved');
      expect(await waitersB.wait('no-such-challenge', 10_000)).toBeNull();
      expect(Date.now() - t0).toBeLessThan(500);
    });

    it('returns the still-pending challenge at timeout and forgets the waiter', async () => {
      const ch = makeChallenge();
      await storeA.create(ch);
      const t0 = Date.now();
      const got = await waitersA.wait(ch.id, 300);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
      expect(got?.id).toBe(ch.id);
      expect(got?.status).toBe('pending');
      expect(waitersA.waitingIds).toBe(0);
    });

    it('wakes a waiter by the safety net when the resolution message is lost', async () => {
      const safetyNetMs = 250;
      const netted = createChallengeWaiters(connA, storeA, { safetyNetMs });
      // This "process" publishes where nobody listens: the message is lost.
      const deaf = createRedisChallengeStore(connB, { channel: `${prefix}nobody-listens` });
      try {
        const ch = makeChallenge();
        await storeA.create(ch);
        const waiting = netted.wait(ch.id, 10_000);
        const unnetted = waitersA.wait(ch.id, 1_500);
        await sleep(100);
        const t0 = Date.now();
        expect(await deaf.resolve(ch.id, approval())).toBe('resolved');
        expect((await waiting)?.status).toBe('approved');
        expect(Date.now() - t0).toBeLessThan(safetyNetMs * 2 + 100);
        // Control: without the net the same waiter sleeps until its timeout, so the net did the work.
        const t1 = Date.now();
        expect((await unnetted)?.status).toBe('approved');
        expect(Date.now() - t1).toBeGreaterThan(500);
      } finally {
        await netted.close();
      }
    });

    it('wakes by the safety net when the record is changed behind the store\'s back, or lapses', async () => {
      const netted = createChallengeWaiters(connA, storeA, { safetyNetMs: 200 });
      try {
        const written = makeChallenge();
        const lapsing = makeChallenge({ ttlMs: 300 });
        await storeA.create(written);
        await storeA.create(lapsing);
        const waits = [netted.wait(written.id, 10_000), netted.wait(lapsing.id, 10_000)];
        await sleep(50);
        await connB.hset(`ch:${written.id}`, 'status', 'denied', 'res', JSON.stringify({ ...approval(), status: 'denied' }));
        const t0 = Date.now();
        const [w, l] = await Promise.all(waits);
        expect(w?.status).toBe('denied');
        expect(l?.status).toBe('expired');
        expect(Date.now() - t0).toBeLessThan(1_000);
        expect(netted.waitingIds).toBe(0);
      } finally {
        await netted.close();
      }
    });

    it('a safety net that re-reads a few ids per tick still reaches every waiter whose message was lost', async () => {
      // 7 waited-on challenges, 2 re-read per 150 ms tick: all are seen within 4 ticks.
      const netted = createChallengeWaiters(connA, storeA, { safetyNetMs: 150, sweepBatch: 2 });
      const deaf = createRedisChallengeStore(connB, { channel: `${prefix}nobody-listens-either` });
      try {
        const chs = Array.from({ length: 7 }, () => makeChallenge());
        for (const ch of chs) await storeA.create(ch);
        const waits = chs.map((ch) => netted.wait(ch.id, 10_000));
        await sleep(100);
        const t0 = Date.now();
        for (const ch of chs) expect(await deaf.resolve(ch.id, approval())).toBe('resolved');
        const woken = await Promise.all(waits);
        for (const w of woken) expect(w?.status).toBe('approved');
        expect(Date.now() - t0).toBeLessThan(4 * 150 + 600);
        expect(netted.waitingIds).toBe(0);
      } finally {
        await netted.close();
      }
    });

    it('waiters with different time limits each answer at their own time, not before', async () => {
      const ch = makeChallenge();
      await storeA.create(ch);
      const t0 = Date.now();
      const ends = await Promise.all([600, 200, 400].map(async (ms) => {
        const got = await waitersA.wait(ch.id, ms);
        expect(got?.status).toBe('pending');
        return { ms, at: Date.now() - t0 };
      }));
      for (const { ms, at } of ends) {
        expect(at).toBeGreaterThanOrEqual(ms - 10);
        expect(at).toBeLessThan(ms + 400);
      }
      expect(waitersA.waitingIds).toBe(0);
    });

    it('on close, hands every remaining waiter its current state and refuses new waits', async () => {
      const w = createChallengeWaiters(connA, storeA, { safetyNetMs: 60_000 });
      const ch = makeChallenge();
      await storeA.create(ch);
      const pending = w.wait(ch.id, 60_000);
      await sleep(50);
      await w.close();
      expect((await pending)?.status).toBe('pending');
      expect(w.waitingIds).toBe(0);
      await expect(w.wait(ch.id, 10)).rejects.toThrow(/closed/);
    });
  });
}
