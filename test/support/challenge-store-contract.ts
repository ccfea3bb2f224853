import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createRedisChallengeStore, type RedisChallengeStore } from '../../src/challenge/redis-store.js';
import type { Resolution } from '../../src/challenge/types.js';
import type { Redis } from '../../src/storage/redis.js';
import { dropAndQuit, makeChallenge, sleep } from './challenge-redis.js';

/*
 * What every backing of the challenge store must do (STYLE 5: one contract, run against the real
 * Redis and the in-process stand-in). `open` gives a client under a fresh key prefix; the suite
 * closes it and deletes its keys.
 */

const KEEP_MS = 300_000;
const T0 = 1_764_370_000_000;

const approval = (at: number, deviceId = 'dev_1'): Resolution => ({
  status: 'approved', deviceId, decision: 'approve', reason: null, amr: ['otp', 'swk'], at,
});

export function challengeStoreContract(name: string, open: () => Redis): void {
  describe(`challenge store contract: ${name}`, () => {
    let redis: Redis;
    let store: RedisChallengeStore;

    beforeAll(() => {
      redis = open();
      store = createRedisChallengeStore(redis, { keepResolvedMs: KEEP_MS });
    });
    afterAll(async () => {
      await dropAndQuit(redis);
    });

    it('returns a created challenge exactly as stored, and null for an unknown id', async () => {
      const ch = makeChallenge({ now: T0 });
      await store.create(ch);
      expect(await store.get(ch.id, T0 + 1)).toEqual(ch);
      expect(await store.get('no-such-challenge', T0)).toBeNull();
    });

    it('refuses to overwrite an existing challenge', async () => {
      const ch = makeChallenge({ now: T0 });
      await store.create(ch);
      await expect(store.create({ ...ch, accountId: 'acct-mallory' })).rejects.toThrow(/already exists/);
      expect((await store.get(ch.id, T0))?.accountId).toBe('acct-alice');
    });

    it('resolves once: resolved, then already_resolved; unknown ids are not_found', async () => {
      const ch = makeChallenge({ now: T0 });
      await store.create(ch);
      expect(await store.resolve(ch.id, approval(T0 + 5), T0 + 5)).toBe('resolved');
      const denial: Resolution = { ...approval(T0 + 6, 'dev_2'), status: 'denied', decision: 'deny', reason: 'denied' };
      expect(await store.resolve(ch.id, denial, T0 + 6)).toBe('already_resolved');
      const got = await store.get(ch.id, T0 + 7);
      expect(got?.status).toBe('approved');
      expect(got?.resolution).toEqual(approval(T0 + 5));
      expect(await store.resolve('no-such-challenge', approval(T0), T0)).toBe('not_found');
    });

    it('reads a lapsed pending challenge as expired and refuses to resolve it', async () => {
      const ch = makeChallenge({ now: T0, ttlMs: 60_000 });
      await store.create(ch);
      expect((await store.get(ch.id, ch.expiresAt - 1))?.status).toBe('pending');
      const late = await store.get(ch.id, ch.expiresAt);
      expect(late?.status).toBe('expired');
      expect(late?.resolution).toMatchObject({ status: 'expired', reason: 'expired', deviceId: null });
      expect(await store.resolve(ch.id, approval(ch.expiresAt), ch.expiresAt)).toBe('expired');
      // The refused approval left no trace: before its expiry the record still reads pending.
      expect((await store.get(ch.id, ch.expiresAt - 1))?.status).toBe('pending');
    });

    it('lists only the account\'s own pending, unexpired challenges, newest first', async () => {
      const account = `acct-${Math.random().toString(36).slice(2)}`;
      const older = makeChallenge({ accountId: account, now: T0, ttlMs: 120_000 });
      const newer = makeChallenge({ accountId: account, now: T0 + 10, ttlMs: 120_000 });
      const short = makeChallenge({ accountId: account, now: T0 + 20, ttlMs: 1_000 });
      const done = makeChallenge({ accountId: account, now: T0 + 30 });
      const other = makeChallenge({ accountId: `${account}-other`, now: T0 + 40 });
      for (const ch of [older, newer, short, done, other]) await store.create(ch);
      await store.resolve(done.id, approval(T0 + 31), T0 + 31);

      expect((await store.listPending(account, T0 + 100)).map((c) => c.id)).toEqual([short.id, newer.id, older.id]);
      expect((await store.listPending(account, T0 + 5_000)).map((c) => c.id)).toEqual([newer.id, older.id]);
      // The lapsed one was pruned from the index, not just filtered out.
      expect(await redis.zscore(`chu:${account}`, short.id)).toBeNull();
      expect(await store.listPending('acct-nobody', T0)).toEqual([]);
    });

    it('sets a TTL of the challenge lifetime plus the grace period on its keys', async () => {
      const ch = makeChallenge({ now: T0, ttlMs: 60_000 });
      await store.create(ch);
      const pttl = await redis.pttl(`ch:${ch.id}`);
      expect(pttl).toBeGreaterThan(60_000 + KEEP_MS - 5_000);
      expect(pttl).toBeLessThanOrEqual(60_000 + KEEP_MS);
      expect(await redis.pttl(`chu:${ch.accountId}`)).toBeGreaterThan(0);
    });

    it('resolves with the account its caller read, and treats a record of another account as not found', async () => {
      const ch = makeChallenge({ now: T0 });
      await store.create(ch);
      expect(await store.resolve(ch.id, approval(T0 + 1), T0 + 1, { accountId: 'acct-mallory' })).toBe('not_found');
      expect((await store.get(ch.id, T0 + 1))?.status).toBe('pending');
      expect(await store.resolve(ch.id, approval(T0 + 2), T0 + 2, { accountId: ch.accountId, createdAt: ch.createdAt })).toBe('resolved');
      expect((await store.get(ch.id, T0 + 3))?.status).toBe('approved');
      // Unindexed as by a plain resolve: it is no longer listed as pending.
      expect((await store.listPending(ch.accountId, T0 + 3)).map((c) => c.id)).not.toContain(ch.id);
      expect(await store.resolve(ch.id, approval(T0 + 4), T0 + 4, { accountId: ch.accountId })).toBe('already_resolved');
    });

    it('creates a challenge and sets a linked record\'s field in one step, only while that record is still its owner\'s', async () => {
      const link = (key: string, value: string) => ({ key, ownerField: 'acct', owner: 'acct-alice', field: 's', value, ttlSeconds: 60 });
      await redis.hset('linked:mine', 'acct', 'acct-alice', 's', 'old');
      await redis.hset('linked:theirs', 'acct', 'acct-bob', 's', 'old');
      const a = makeChallenge({ now: T0 });
      await store.create(a, link('linked:mine', 'new-a'));
      expect(await redis.hget('linked:mine', 's')).toBe('new-a');
      expect(await redis.ttl('linked:mine')).toBeGreaterThan(50);
      const b = makeChallenge({ now: T0 });
      await store.create(b, link('linked:theirs', 'new-b'));
      expect(await redis.hget('linked:theirs', 's')).toBe('old');
      const c = makeChallenge({ now: T0 });
      await store.create(c, link('linked:gone', 'new-c'));
      expect(await redis.exists('linked:gone')).toBe(0);
      // The challenges themselves are there either way, and a duplicate id still writes nothing.
      for (const ch of [a, b, c]) expect((await store.get(ch.id, T0 + 1))?.status).toBe('pending');
      await expect(store.create(a, link('linked:mine', 'again'))).rejects.toThrow(/already exists/);
      expect(await redis.hget('linked:mine', 's')).toBe('new-a');
    });

    it('keeps a resolution readable for the grace period even if the record was about to lapse', async () => {
      const ch = makeChallenge({ now: T0 });
      await store.create(ch);
      // About to lapse (1 s, against a grace period of minutes), with room for a slow in-process script runner.
      await redis.pexpire(`ch:${ch.id}`, 1000);
      expect(await store.resolve(ch.id, approval(T0 + 1), T0 + 1)).toBe('resolved');
      expect(await redis.pttl(`ch:${ch.id}`)).toBeGreaterThan(KEEP_MS - 5_000);
    });

    // With the record as the script wrote it (c as created, res), so waiters need not read it (challenge/waiters.ts).
    it('publishes {id, status, c, res} once, on the resolution only', async () => {
      const sub = redis.duplicate();
      const seen: unknown[] = [];
      sub.on('message', (chan: string, msg: string) => { if (chan === store.channel) seen.push(JSON.parse(msg)); });
      await sub.subscribe(store.channel);
      try {
        const ch = makeChallenge({ now: T0 });
        await store.create(ch);
        await store.resolve(ch.id, approval(T0 + 1), T0 + 1);
        await store.resolve(ch.id, approval(T0 + 2), T0 + 2);
        await store.resolve('no-such-challenge', approval(T0 + 2), T0 + 2);
        await sleep(100);
        // Only this case's ids: on Redis Cluster an earlier case's publish can reach the subscriber's node
        // over the cluster bus after this subscribe, so the channel may carry another challenge's message.
        const mine = seen.filter((m) => [ch.id, 'no-such-challenge'].includes((m as { id: string }).id));
        expect(mine).toEqual([{ id: ch.id, status: 'approved', c: { ...ch, resolution: null }, res: approval(T0 + 1) }]);
      } finally {
        await sub.quit();
      }
    });

    it('names its channel after the key prefix, so deployments sharing a Redis stay apart', () => {
      expect(store.channel).toBe(`${redis.options.keyPrefix}pushotp:resolved`);
    });

    it('peeks at many statuses in one call: pending, resolved, lapsed, gone', async () => {
      const a = makeChallenge({ now: T0, ttlMs: 60_000 });
      const b = makeChallenge({ now: T0 });
      const c = makeChallenge({ now: T0 - 200_000, ttlMs: 60_000 });
      for (const ch of [a, b, c]) await store.create(ch);
      await store.resolve(b.id, approval(T0 + 1), T0 + 1);
      expect(await store.peekStatuses([a.id, b.id, c.id, 'gone'], T0 + 2)).toEqual(['pending', 'approved', 'expired', null]);
    });

    it('counts the pending challenges of every account: created ones count, resolved and lapsed ones do not', async () => {
      // Days after the other cases' challenges, so theirs have all lapsed.
      const t = T0 + 10 * 86_400_000;
      expect(await store.countPending(t)).toBe(0);
      const a = makeChallenge({ accountId: 'acct-a', now: t, ttlMs: 120_000 });
      const b = makeChallenge({ accountId: 'acct-b', now: t, ttlMs: 120_000 });
      const short = makeChallenge({ accountId: 'acct-b', now: t, ttlMs: 1_000 });
      const late = makeChallenge({ accountId: 'acct-a', now: t, ttlMs: 1_000 });
      for (const ch of [a, b, short, late]) await store.create(ch);
      expect(await store.countPending(t + 1)).toBe(4);

      expect(await store.resolve(b.id, approval(t + 2), t + 2)).toBe('resolved');
      expect(await store.countPending(t + 3)).toBe(3);
      // A refused late answer and a lapse nobody answered both leave the count.
      expect(await store.resolve(late.id, approval(t + 1_000), t + 1_000)).toBe('expired');
      expect(await store.countPending(t + 1_000)).toBe(1);
      expect(await store.countPending(t + 120_000)).toBe(0);
      // The lapsed entries were dropped from the index, not just left out of the count.
      expect(await redis.zcard('chp')).toBe(0);
    });

    // Red-team: two requests of one account pending at once drew their numbers apart, so the user
    // who opened the other one and tapped the number her own browser showed approved it whenever
    // the two matched (1 in 90).
    it('with distinctNumber, a match number another pending request of the account shows is refused, and nothing is written', async () => {
      const numbered = (accountId: string, now: number, matchNumber: number, ttlMs = 120_000) => ({ ...makeChallenge({ accountId, now, ttlMs }), matchNumber });
      const distinct = { distinctNumber: true };
      const first = numbered('acct-dn', T0, 42);
      expect(await store.create(first, undefined, distinct)).toBe('created');
      const clash = numbered('acct-dn', T0 + 1, 42);
      expect(await store.create(clash, undefined, distinct)).toBe('number_taken');
      expect(await store.get(clash.id, T0 + 2)).toBeNull();
      expect((await store.listPending('acct-dn', T0 + 2)).map((c) => c.id)).toEqual([first.id]);
      // Linked: the linked record is left as it was too.
      await redis.hset('linked:dn', 'acct', 'acct-dn', 's', 'old');
      const linked = numbered('acct-dn', T0 + 3, 42);
      expect(await store.create(linked, { key: 'linked:dn', ownerField: 'acct', owner: 'acct-dn', field: 's', value: 'new', ttlSeconds: 60 }, distinct)).toBe('number_taken');
      expect(await redis.hget('linked:dn', 's')).toBe('old');
      // Another number, another account, or no distinctNumber: created.
      expect(await store.create(numbered('acct-dn', T0 + 4, 43), undefined, distinct)).toBe('created');
      expect(await store.create(numbered('acct-dn-other', T0 + 4, 42), undefined, distinct)).toBe('created');
      expect(await store.create(numbered('acct-dn', T0 + 4, 42))).toBe('created');
      // Once the first has lapsed, its number is free again.
      expect(await store.create(numbered('acct-dn', first.expiresAt, 42), undefined, distinct)).toBe('created');
      // Without number matching there is nothing to hold.
      const plain = { ...makeChallenge({ accountId: 'acct-dn', now: T0 + 5, numberMatching: false }) };
      expect(plain.matchNumber).toBeNull();
      expect(await store.create(plain, undefined, distinct)).toBe('created');
    });

    // The approval's effect on push fatigue and the answer's reset of the devices' TOTP run are
    // written by the resolution itself, one script (the answer costs one round trip fewer each).
    it('an approval takes its push out of the account\'s fatigue set; a denial or a withdrawal leaves it', async () => {
      const account = 'acct-forgive';
      const [approved, denied, withdrawn, other] = [0, 1, 2, 3].map((i) => makeChallenge({ accountId: i === 3 ? 'acct-other' : account, now: T0 + i }));
      for (const ch of [approved!, denied!, withdrawn!, other!]) {
        await store.create(ch);
        await redis.zadd(`pf:sent:${ch.accountId}`, ch.createdAt, ch.id);
      }
      const denial: Resolution = { ...approval(T0 + 10), status: 'denied', decision: 'deny', reason: 'denied' };
      const withdrawal: Resolution = { status: 'expired', deviceId: null, decision: null, reason: 'superseded', amr: [], at: T0 + 10 };
      expect(await store.resolve(approved!.id, approval(T0 + 10), T0 + 10)).toBe('resolved');
      expect(await store.resolve(denied!.id, denial, T0 + 10, { accountId: account })).toBe('resolved');
      expect(await store.resolve(withdrawn!.id, withdrawal, T0 + 10, { accountId: account })).toBe('resolved');
      expect((await redis.zrange(`pf:sent:${account}`, 0, -1)).sort()).toEqual([denied!.id, withdrawn!.id].sort());
      // A second approval of the denied one changes nothing; another account's set is not touched.
      expect(await store.resolve(denied!.id, approval(T0 + 11), T0 + 11, { accountId: account })).toBe('already_resolved');
      expect(await redis.zscore(`pf:sent:${account}`, denied!.id)).not.toBeNull();
      expect(await redis.zrange('pf:sent:acct-other', 0, -1)).toEqual([other!.id]);
    });

    it('deletes the keys its caller settled with the resolution, whatever the outcome', async () => {
      const ch = makeChallenge({ now: T0 });
      await store.create(ch);
      const settled = (n: number) => redis.hset(`thr:settled:${n}`, 'f', '1');
      await settled(1);
      expect(await store.resolve(ch.id, approval(T0 + 1), T0 + 1, { accountId: ch.accountId }, { reset: ['thr:settled:1'] })).toBe('resolved');
      expect(await redis.exists('thr:settled:1')).toBe(0);
      await Promise.all([settled(2), settled(3)]);
      expect(await store.resolve(ch.id, approval(T0 + 2), T0 + 2, { accountId: ch.accountId }, { reset: ['thr:settled:2'] })).toBe('already_resolved');
      expect(await store.resolve('no-such-challenge', approval(T0 + 2), T0 + 2, undefined, { reset: ['thr:settled:3'] })).toBe('not_found');
      expect(await redis.exists('thr:settled:2', 'thr:settled:3')).toBe(0);
      // Without `reset`, nothing else is deleted.
      await settled(4);
      const next = makeChallenge({ now: T0 });
      await store.create(next);
      expect(await store.resolve(next.id, approval(T0 + 1), T0 + 1)).toBe('resolved');
      expect(await redis.exists('thr:settled:4')).toBe(1);
    });
  });
}
