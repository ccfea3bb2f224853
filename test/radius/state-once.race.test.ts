import { afterAll, describe, expect, it } from '@jest/globals';
import { createContinuationStore } from '../../src/signin/continuation.js';
import { openRedis, type Redis } from '../../src/storage/redis.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/env.js';

/**
 * The one-time State behind a RADIUS Access-Challenge (src/signin/continuation.ts), on the real
 * Redis and on the in-process stand-in: used once under 50 parallel attempts, bound to who may use
 * it, spent even by a wrong use, and kept in Redis only as a hash.
 */
describe.each([
  ['Redis', () => openRedis(TEST_REDIS_URL, uniquePrefix('cont'))],
  ['the in-process stand-in', () => openRedis(null, uniquePrefix('cont'))],
])('one-time continuation tokens on %s', (_name, open) => {
  const redis: Redis = open();
  const store = createContinuationStore(redis);
  afterAll(() => { redis.disconnect(); });

  it('50 parallel takes of one token: exactly one gets the sign-in', async () => {
    const token = await store.issue('signin-1', 'vpn\nalice', 60);
    const results = await Promise.all(Array.from({ length: 50 }, () => store.take(token, 'vpn\nalice')));
    expect(results.filter((x) => x === 'signin-1')).toHaveLength(1);
    expect(results.filter((x) => x === null)).toHaveLength(49);
  });

  it('another binding gets nothing, and spends it', async () => {
    const token = await store.issue('signin-2', 'vpn\nalice', 60);
    expect(await store.take(token, 'vpn\nmallory')).toBeNull();
    expect(await store.take(token, 'vpn\nalice')).toBeNull();
  });

  it('tokens are random, and Redis holds only their hash', async () => {
    const a = await store.issue('signin-3', 'b', 60);
    const b = await store.issue('signin-3', 'b', 60);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const keys = await redis.keys(`${redis.options.keyPrefix ?? ''}cont:*`);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.join(' ')).not.toContain(a);
  });

  it('a token past its life is gone; odd tokens never reach Redis', async () => {
    const token = await store.issue('signin-4', 'b', 1);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await store.take(token, 'b')).toBeNull();
    expect(await store.take('x'.repeat(10_000), 'b')).toBeNull();
    expect(await store.take('', 'b')).toBeNull();
  });
});
