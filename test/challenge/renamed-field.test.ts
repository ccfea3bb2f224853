import { afterAll, describe, expect, it } from '@jest/globals';
import { createRedisChallengeStore } from '../../src/challenge/redis-store.js';
import { dropAndQuit, makeChallenge, openTestRedis } from '../support/challenge-redis.js';

/**
 * A challenge stored before `interactionUid` became `signInId` (a deploy in the middle of a
 * sign-in) still belongs to its sign-in: otherwise the waiting page would read 'none' and the
 * user's approval would finish nothing.
 */
describe('a challenge written with the old field name', () => {
  const redis = openTestRedis('stand-in', 'renamed-field');
  afterAll(() => dropAndQuit(redis));

  it('reads back with signInId and without the old name', async () => {
    const store = createRedisChallengeStore(redis);
    const { signInId, ...rest } = makeChallenge({ signInId: 'uid-old' });
    await store.create({ ...rest, interactionUid: signInId } as unknown as Parameters<typeof store.create>[0]);
    const read = (await store.get(rest.id))!;
    expect(read.signInId).toBe('uid-old');
    expect(read).not.toHaveProperty('interactionUid');
  });
});
