import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createRedisChallengeStore } from '../../src/challenge/redis-store.js';
import type { Resolution, ResolveOutcome } from '../../src/challenge/types.js';
import type { Redis } from '../../src/storage/redis.js';
import { uniquePrefix } from '../support/env.js';
import { dropAndQuit, makeChallenge, openTestRedis, sleep } from '../support/challenge-redis.js';

/*
 * Threat: two answers to one challenge (a user tapping Approve on two phones, an attacker replaying
 * a captured response, a deny racing an approve) must not both count. DESIGN step 8: exactly once.
 */

const RACERS = 50;

const answer = (i: number): Resolution => ({
  status: i % 2 ? 'denied' : 'approved',
  deviceId: `dev_${i}`,
  decision: i % 2 ? 'deny' : 'approve',
  reason: i % 2 ? 'denied' : null,
  amr: ['otp', 'swk'],
  at: Date.now(),
});

for (const kind of ['real', 'stand-in'] as const) {
  describe(`resolve once under a race of ${RACERS} (${kind})`, () => {
    const prefix = uniquePrefix('ch-race');
    let conns: Redis[] = [];

    beforeAll(() => {
      // One connection per racer on the real server: the commands really interleave there.
      conns = Array.from({ length: kind === 'real' ? RACERS : 2 }, () => openTestRedis(kind, 'ch-race', prefix));
    });
    afterAll(async () => {
      await Promise.all(conns.slice(1).map((c) => c.quit()));
      await dropAndQuit(conns[0]!);
    });

    it('gives exactly one resolved, the rest already_resolved, and keeps the winner\'s resolution', async () => {
      const stores = conns.map((c) => createRedisChallengeStore(c));
      const ch = makeChallenge();
      await stores[0]!.create(ch);

      const sub = conns[0]!.duplicate();
      const published: string[] = [];
      sub.on('message', (_chan: string, msg: string) => published.push(msg));
      await sub.subscribe(stores[0]!.channel);

      const outcomes: ResolveOutcome[] = await Promise.all(
        Array.from({ length: RACERS }, (_, i) => stores[i % stores.length]!.resolve(ch.id, answer(i))),
      );
      const winners = outcomes.flatMap((o, i) => (o === 'resolved' ? [i] : []));
      expect(winners).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'already_resolved')).toHaveLength(RACERS - 1);

      const winner = winners[0]!;
      const stored = await stores[0]!.get(ch.id);
      expect(stored?.resolution?.deviceId).toBe(`dev_${winner}`);
      expect(stored?.status).toBe(answer(winner).status);

      await sleep(100);
      // One announcement, carrying the winner's resolution (what the woken waiters answer with).
      expect(published.map((m) => JSON.parse(m))).toEqual([{ id: ch.id, status: answer(winner).status, c: expect.objectContaining({ id: ch.id }), res: stored!.resolution }]);
      await sub.quit();
    });
  });
}
