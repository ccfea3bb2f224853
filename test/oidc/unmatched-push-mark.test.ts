import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { markUnmatchedPush, pushMatchOf } from '../../src/oidc/unmatched-push.js';
import { TEST_REDIS_URL } from '../support/env.js';

/**
 * How a session's push was matched, kept by account and sign-in second: two sign-ins of one
 * account in one second share it, so the stricter mark stands whatever order they finish in (a
 * picked number must not turn a no-number session into one a number-matching app takes).
 */
describe('the push-match mark', () => {
  const redis = new Redis(TEST_REDIS_URL);
  afterAll(() => redis.quit());

  it('no mark reads as typed; one of each reads as written', async () => {
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    await markUnmatchedPush(redis, b, 1000, 60, 'none');
    await markUnmatchedPush(redis, c, 1000, 60, 'picked');
    expect([await pushMatchOf(redis, a, 1000), await pushMatchOf(redis, b, 1000), await pushMatchOf(redis, c, 1000)]).toEqual(['typed', 'none', 'picked']);
    expect(await pushMatchOf(redis, a, undefined)).toBe('none');
  });

  it('in one second, no number then a picked one, or the other way, and in parallel: no number stands', async () => {
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    await markUnmatchedPush(redis, a, 1000, 60, 'none');
    await markUnmatchedPush(redis, a, 1000, 60, 'picked');
    await markUnmatchedPush(redis, b, 1000, 60, 'picked');
    await markUnmatchedPush(redis, b, 1000, 60, 'none');
    await Promise.all(Array.from({ length: 50 }, (_, i) => markUnmatchedPush(redis, c, 1000, 60, i % 2 ? 'picked' : 'none')));
    expect([await pushMatchOf(redis, a, 1000), await pushMatchOf(redis, b, 1000), await pushMatchOf(redis, c, 1000)]).toEqual(['none', 'none', 'none']);
  });
});
