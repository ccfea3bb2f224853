import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createRedisChallengeStore, type RedisChallengeStore } from '../../src/challenge/redis-store.js';
import type { Resolution } from '../../src/challenge/types.js';
import { createChallengeWaiters, type ProcessChallengeWaiters } from '../../src/challenge/waiters.js';
import type { Redis } from '../../src/storage/redis.js';
import { uniquePrefix } from '../support/env.js';
import { dropAndQuit, makeChallenge, openTestRedis, sleep } from '../support/challenge-redis.js';

/*
 * A long-poll reads the challenge pending, then holds (src/signin/wait.ts planWatch, then the
 * waiters). Handing the waiters the time its read was sent spares the waiters' own read, but no
 * resolution may slip between the two: one announced in between, or one whose announcement could
 * not have been heard, still wakes the page at once. The safety net is far beyond the tests'
 * patience, so a quick answer can only come from the waiters' read or from pub/sub.
 */

const approval = (): Resolution => ({
  status: 'approved', deviceId: 'dev_1', decision: 'approve', reason: null, amr: ['otp', 'swk'], at: Date.now(),
});

describe('waiters given the time of the caller\'s own read (real Redis)', () => {
  const prefix = uniquePrefix('ch-readonce');
  let conn: Redis;
  let other: Redis;
  let store: RedisChallengeStore;
  let elsewhere: RedisChallengeStore;
  let waiters: ProcessChallengeWaiters;
  let reads = 0;

  beforeAll(async () => {
    conn = openTestRedis('real', 'ch-readonce', prefix);
    other = openTestRedis('real', 'ch-readonce', prefix);
    store = createRedisChallengeStore(conn);
    elsewhere = createRedisChallengeStore(other);
    const counting = { ...store, get: (id: string, now?: number) => { reads++; return store.get(id, now); } };
    waiters = createChallengeWaiters(conn, counting, { safetyNetMs: 60_000 });
    // Subscribed (its first wait resolves once the subscription is up).
    const warm = makeChallenge();
    await store.create(warm);
    await waiters.wait(warm.id, 50);
  });
  afterAll(async () => {
    await waiters.close();
    await other.quit();
    await dropAndQuit(conn);
  });

  it('does not read again after a read that found it pending, and still wakes on the resolution', async () => {
    const ch = makeChallenge();
    await store.create(ch);
    const readAt = performance.now();
    expect((await store.get(ch.id))?.status).toBe('pending');
    reads = 0;
    const t0 = performance.now();
    const woke = waiters.wait(ch.id, 10_000, readAt);
    await sleep(50);
    expect(reads).toBe(0);
    expect(await elsewhere.resolve(ch.id, approval())).toBe('resolved');
    const challenge = await woke;
    expect(challenge?.status).toBe('approved');
    expect(performance.now() - t0).toBeLessThan(3_000);
    // Woken with the record the resolve script published (read in that script): not read again,
    // and the same as a read gives.
    expect(reads).toBe(0);
    expect(challenge).toEqual(await store.get(ch.id));
  });

  it('reads the record when the announcement does not carry it (a process of an older release)', async () => {
    const ch = makeChallenge();
    await store.create(ch);
    const readAt = performance.now();
    expect((await store.get(ch.id))?.status).toBe('pending');
    reads = 0;
    const woke = waiters.wait(ch.id, 10_000, readAt);
    await sleep(50);
    await conn.hset(`ch:${ch.id}`, 'status', 'denied', 'res', JSON.stringify({ ...approval(), status: 'denied' }));
    await other.publish(store.channel, JSON.stringify({ id: ch.id, status: 'denied' }));
    expect((await woke)?.status).toBe('denied');
    expect(reads).toBe(1);
  });

  it('an announcement naming another challenge than its record wakes nobody with that record', async () => {
    const ch = makeChallenge();
    const decoy = makeChallenge();
    await store.create(ch);
    const readAt = performance.now();
    reads = 0;
    const woke = waiters.wait(ch.id, 10_000, readAt);
    await sleep(50);
    await other.publish(store.channel, JSON.stringify({ id: ch.id, status: 'approved', c: { ...decoy, resolution: null }, res: approval() }));
    await sleep(100);
    // Read instead: still pending, so it keeps waiting.
    expect(reads).toBe(1);
    expect(await elsewhere.resolve(ch.id, { ...approval(), status: 'denied' })).toBe('resolved');
    expect((await woke)?.status).toBe('denied');
  });

  it('wakes at once when the resolution was announced between the caller\'s read and its hold', async () => {
    const ch = makeChallenge();
    await store.create(ch);
    const readAt = performance.now();
    expect((await store.get(ch.id))?.status).toBe('pending');
    expect(await elsewhere.resolve(ch.id, approval())).toBe('resolved');
    await sleep(100); // the announcement has arrived, with nobody waiting yet
    const t0 = performance.now();
    expect((await waiters.wait(ch.id, 10_000, readAt))?.status).toBe('approved');
    expect(performance.now() - t0).toBeLessThan(3_000);
  });

  it('reads again when the caller\'s read is older than what this process has heard since', async () => {
    const ch = makeChallenge();
    await store.create(ch);
    // Resolved without an announcement (as if pub/sub lost it): only a read can find it.
    await conn.hset(`ch:${ch.id}`, 'status', 'approved', 'res', JSON.stringify(approval()));
    const t0 = performance.now();
    expect((await waiters.wait(ch.id, 10_000, -1))?.status).toBe('approved');
    expect(performance.now() - t0).toBeLessThan(3_000);
  });

  it('reads again when the caller gives no time, as before', async () => {
    const ch = makeChallenge();
    await store.create(ch);
    await conn.hset(`ch:${ch.id}`, 'status', 'denied', 'res', JSON.stringify({ ...approval(), status: 'denied' }));
    expect((await waiters.wait(ch.id, 10_000))?.status).toBe('denied');
  });
});
