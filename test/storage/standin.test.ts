import { afterAll, describe, expect, it } from '@jest/globals';
import v8 from 'node:v8';
import vm from 'node:vm';
import { createAgentTransactionStore } from '../../src/agent-api/transactions.js';
import { redisScripts } from '../../src/defences/redis-script.js';
import type { Redis } from '../../src/storage/redis.js';
import { flatValue, STANDIN_SWEEP_MS } from '../../src/storage/standin.js';
import { dropAndQuit, openTestRedis, sleep } from '../support/challenge-redis.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const heapUsed = () => { gc(); gc(); return process.memoryUsage().heapUsed; };

/**
 * The in-process stand-in for Redis of the zero-setup default (src/storage/standin.ts). Red-team
 * (zero-setup round): anonymous `GET /auth` requests each left records that the stand-in never
 * freed (ioredis-mock drops a lapsed key only when that key is read again) and that took about 30
 * times their size (strings a Lua script writes come out of its engine one character at a time):
 * 1,309 anonymous `POST /auth` killed a process with a 1 GB heap. Real Redis frees lapsed keys by itself.
 */
describe('the stand-in holds what a real Redis would', () => {
  const redis: Redis = openTestRedis('stand-in', 'standin');
  afterAll(() => dropAndQuit(redis));
  // What the IdP's adapters do: records written by a script, with an expiry (UPSERT_LUA, the sign-in's state).
  const put = redisScripts(redis)('standinPut', `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('HSET', KEYS[2], 'state', ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1`, 2);

  it('keys written by scripts take about their size, and are freed once they lapse, unread', async () => {
    const N = 3000;
    const value = `{"kind":"Interaction","params":${JSON.stringify('p'.repeat(560))}}`;
    // What is allocated once (the script engine, its compiled script, the sweeper's table) before the count.
    for (let i = 0; i < 500; i++) await put(`warm:${i}`, `warm:{${i}}`, `${value}${i}`, 100);
    await sleep(100 + 2 * STANDIN_SWEEP_MS);
    const before = heapUsed();
    for (let i = 0; i < N; i++) await put(`rec:${i}`, `state:{${i}}`, `${value}${i}`, 400);
    const held = heapUsed() - before;
    // Two copies of the record per i (a string and a hash field): before, about 19.7 KB each.
    expect(held / (2 * N)).toBeLessThan(3 * value.length);
    await sleep(400 + 2 * STANDIN_SWEEP_MS);
    // Nobody read them again; before, all of it was still held.
    expect(heapUsed() - before).toBeLessThan(held / 4);
    expect(await redis.exists('rec:1', 'state:{1}')).toBe(0);
  });

  it('a key given a later expiry, or made lasting, outlives the sweep of its first expiry', async () => {
    await put('later', 'later:{h}', 'v', 200);
    await redis.pexpire('later', 60_000);
    await put('kept', 'kept:{h}', 'v', 200);
    await redis.persist('kept');
    await sleep(200 + 2 * STANDIN_SWEEP_MS);
    expect({ later: await redis.get('later'), kept: await redis.get('kept'), laterHash: await redis.hget('later:{h}', 'state') })
      .toEqual({ later: 'v', kept: 'v', laterHash: null });
  });

  it('odd bytes come back as they went in', async () => {
    const odd = `NUL\u0000 lone\ud800 high\udfff emoji\u{1F600} é ${'z'.repeat(40)}`;
    await put('odd', 'odd:{h}', odd, 60_000);
    expect(await redis.get('odd')).toBe(odd);
    expect(await redis.hget('odd:{h}', 'state')).toBe(odd);
    expect(flatValue({ a: odd, b: [odd], c: new Map([['k', odd]]) })).toEqual({ a: odd, b: [odd], c: new Map([['k', odd]]) });
  });
});

/**
 * A gateway's kept answer replaced by a refusal (an approval voided by an end of sessions) keeps its
 * time to live. ioredis-mock took SET ... KEEPTTL as no expiry: the refusal was kept for ever.
 */
describe.each(['stand-in', 'real'] as const)('agent API: a replaced final answer (%s)', (kind) => {
  const redis: Redis = openTestRedis(kind, 'keepttl');
  afterAll(() => dropAndQuit(redis));

  it('lapses with the time the kept one had left', async () => {
    const store = createAgentTransactionStore(redis);
    await store.keepFinal('tx-1', { agentId: 'gw', status: 200, body: { status: 'approved' } }, 1);
    await store.replaceFinal('tx-1', { agentId: 'gw', status: 403, body: { error: 'access_denied' } });
    expect((await store.final('tx-1'))?.status).toBe(403);
    const ttl = await redis.pttl('agent:tx:{tx-1}:final');
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1000);
    await sleep(1300);
    expect(await store.final('tx-1')).toBeNull();
    // Nothing kept: nothing written.
    await store.replaceFinal('tx-2', { agentId: 'gw', status: 403, body: {} });
    expect(await store.final('tx-2')).toBeNull();
  });
});
