import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { openRedis, type Redis } from '../../src/storage/redis.js';
import { dropAndQuit } from '../support/challenge-redis.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/env.js';
import { handingOver, handOverTo, takeHandedInteraction, withInteractionHandoff } from '../../src/oidc/interaction-handoff.js';
import { interactionKey, RedisAdapter } from '../../src/oidc/adapters.js';
import { recordRedisCommands } from '../support/redis-commands.js';

/**
 * The hand-over of an interaction a page read with its sign-in state (src/oidc/interaction-handoff.ts):
 * it serves one find of that id, in the synchronous stretch of the call it wraps, and nothing else.
 */
describe('interaction hand-over', () => {
  let redis: Redis;
  const recorder = recordRedisCommands();
  beforeAll(() => { redis = openRedis(TEST_REDIS_URL, uniquePrefix('handoff')); });
  afterAll(async () => {
    recorder.restore();
    await dropAndQuit(redis);
  });

  it('is taken once, by the same id, and only while the call it wraps runs', () => {
    const raw = JSON.stringify({ uid: 'uid-0123456789', returnTo: '/auth/uid-0123456789' });
    expect(takeHandedInteraction('uid-0123456789')).toBeNull();
    const seen = handingOver('uid-0123456789', raw, () => [takeHandedInteraction('another-uid-0123'), takeHandedInteraction('uid-0123456789'), takeHandedInteraction('uid-0123456789')]);
    // Another id does not take it (and leaves it there); the id does, once.
    expect(seen).toEqual([null, { payload: JSON.parse(raw) }, null]);
    handingOver('uid-0123456789', raw, () => undefined);
    expect(takeHandedInteraction('uid-0123456789')).toBeNull();
    expect(() => handingOver('uid-0123456789', raw, () => { throw new Error('boom'); })).toThrow('boom');
    expect(takeHandedInteraction('uid-0123456789')).toBeNull();
    // One the read found missing is handed as missing.
    expect(handingOver('uid-0123456789', null, () => takeHandedInteraction('uid-0123456789'))).toEqual({ payload: undefined });
  });

  it('serves the adapter\'s find of that interaction without a Redis command; every other find reads Redis', async () => {
    const factory = withInteractionHandoff((model) => new RedisAdapter(redis as never, model, Date.now), () => undefined);
    const adapter = factory('Interaction');
    const stored = { uid: 'uid-abcdefghij', returnTo: '/auth/uid-abcdefghij', exp: Math.floor(Date.now() / 1000) + 60 };
    await adapter.upsert('uid-abcdefghij', stored as never, 60);
    expect(await redis.get(interactionKey('uid-abcdefghij'))).toBe(JSON.stringify(stored));
    const handed = { ...stored, returnTo: '/handed' };
    const served = await recorder.during(() => handingOver('uid-abcdefghij', JSON.stringify(handed), () => adapter.find('uid-abcdefghij')));
    expect(served.result).toEqual({ ...handed, jti: 'uid-abcdefghij' });
    expect(served.commands).toEqual([]);
    // Handed as missing: missing, no read.
    const missing = await recorder.during(() => handingOver('uid-abcdefghij', null, () => adapter.find('uid-abcdefghij')));
    expect(missing.result).toBeUndefined();
    expect(missing.commands).toEqual([]);
    // After the call, and for another model, Redis is read.
    const later = await recorder.during(() => adapter.find('uid-abcdefghij'));
    expect(later.result).toEqual({ ...stored, jti: 'uid-abcdefghij' });
    expect(later.commands.map((c) => c.name)).toEqual(['get']);
    const code = factory('AuthorizationCode');
    const other = await recorder.during(() => handingOver('uid-abcdefghij', JSON.stringify(handed), () => code.find('uid-abcdefghij')));
    expect(other.result).toBeUndefined();
    expect(other.commands.map((c) => c.name)).toEqual(['get']);
  });

  it('hands the resume\'s read to the find of that id in that request only, once', async () => {
    const factory = withInteractionHandoff((model) => new RedisAdapter(redis as never, model, Date.now), () => serving);
    const adapter = factory('Interaction');
    let serving: object | undefined;
    const stored = { uid: 'uid-resume0123', returnTo: '/auth/uid-resume0123' };
    await adapter.upsert('uid-resume0123', stored as never, 60);
    const req = {};
    const other = {};
    handOverTo(req, 'uid-resume0123', JSON.stringify({ ...stored, result: { handed: true } }));
    // Another request, or another id in this one, reads Redis.
    serving = other;
    const elsewhere = await recorder.during(() => adapter.find('uid-resume0123'));
    expect(elsewhere.result).toEqual({ ...stored, jti: 'uid-resume0123' });
    serving = req;
    expect((await recorder.during(() => adapter.find('uid-another-0123'))).commands.map((c) => c.name)).toEqual(['get']);
    const mine = await recorder.during(() => adapter.find('uid-resume0123'));
    expect(mine.result).toEqual({ ...stored, result: { handed: true }, jti: 'uid-resume0123' });
    expect(mine.commands).toEqual([]);
    const again = await recorder.during(() => adapter.find('uid-resume0123'));
    expect(again.result).toEqual({ ...stored, jti: 'uid-resume0123' });
    expect(again.commands.map((c) => c.name)).toEqual(['get']);
  });
});
