import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createSignInStateStore } from '../../src/signin/state.js';
import { createThrottle, type Throttle } from '../../src/defences/throttle-store.js';
import { ACCOUNT_POLICY, IP_POLICY, LOCKED_KEEP_MS, PASSCODE_POLICY, throttleAfterFailure, throttleDecision, type ThrottlePolicy, type ThrottleState } from '../../src/defences/throttle.js';
import { openRedis, type Redis } from '../../src/storage/redis.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/env.js';

/**
 * The throttle's reserve-before-check gate: its Lua script must decide exactly as the pure
 * throttleDecision does and count exactly as throttleAfterFailure does (the pure functions are the
 * specification), on real Redis and on the in-process stand-in; and N parallel reservations must
 * let through no more than the policy allows (guessing passwords or passcodes in parallel).
 */
const p = ACCOUNT_POLICY;
const T = 1_800_000_000_000;

describe('throttle specification (pure)', () => {
  it('counts a failure, starts afresh after the window, but keeps a lockout until a success', () => {
    expect(throttleAfterFailure(null, p, T)).toEqual({ failures: 1, lastFailureAt: T });
    expect(throttleAfterFailure({ failures: 4, lastFailureAt: T - 1000 }, p, T)).toEqual({ failures: 5, lastFailureAt: T });
    expect(throttleAfterFailure({ failures: 4, lastFailureAt: T - p.windowMs - 1 }, p, T)).toEqual({ failures: 1, lastFailureAt: T });
    expect(throttleAfterFailure({ failures: 10, lastFailureAt: T - p.windowMs - 1 }, p, T)).toEqual({ failures: 11, lastFailureAt: T });
  });

  it('caps passcodes at 100 failures in a row: refused past every lockout, for as long as the key is kept', () => {
    const at = (failures: number, since: number) => throttleDecision({ failures, lastFailureAt: T }, PASSCODE_POLICY, T + since);
    expect(at(99, p.lockoutMs)).toEqual({ allowed: true });
    expect(at(100, p.lockoutMs)).toEqual({ allowed: false, reason: 'capped', retryAfterMs: LOCKED_KEEP_MS - p.lockoutMs });
    expect(at(100, 29 * 86_400_000)).toMatchObject({ allowed: false, reason: 'capped' });
    expect(at(100, LOCKED_KEEP_MS)).toEqual({ allowed: true });
    // However paced: the window forgets the failures, never the run of them since the last success.
    expect(throttleAfterFailure({ failures: 9, lastFailureAt: T, consecutive: 99 }, PASSCODE_POLICY, T + p.windowMs + 1))
      .toEqual({ failures: 1, lastFailureAt: T + p.windowMs + 1, consecutive: 100 });
    expect(throttleDecision({ failures: 1, lastFailureAt: T, consecutive: 100 }, PASSCODE_POLICY, T + p.windowMs + 1)).toMatchObject({ allowed: false, reason: 'capped' });
    // The account's own policy (passwords, recovery codes) has no cap: a lockout, then one more guess.
    expect(throttleDecision({ failures: 100, lastFailureAt: T }, p, T + p.lockoutMs)).toEqual({ allowed: true });
  });
});

/** state before, time of the attempt (ms after the last failure). */
const rows: [string, ThrottleState | null, number, ThrottlePolicy][] = [
  ['no failures yet', null, 0, p],
  ['two failures, at once', { failures: 2, lastFailureAt: T }, 0, p],
  ['three failures, at once: the first delay', { failures: 3, lastFailureAt: T }, 0, p],
  ['three failures, half the delay later', { failures: 3, lastFailureAt: T }, 500, p],
  ['three failures, the delay waited out', { failures: 3, lastFailureAt: T }, 1000, p],
  ['five failures, 1 s later: 4 s delay', { failures: 5, lastFailureAt: T }, 1000, p],
  ['nine failures: the longest delay', { failures: 9, lastFailureAt: T }, 0, p],
  ['ten failures: locked', { failures: 10, lastFailureAt: T }, 60_000, p],
  ['ten failures, lockout over: allowed, and one more failure locks again', { failures: 10, lastFailureAt: T }, p.lockoutMs, p],
  ['past the window: forgotten', { failures: 6, lastFailureAt: T }, p.windowMs + 1, p],
  ['the IP policy, nineteen failures', { failures: 19, lastFailureAt: T }, 0, IP_POLICY],
  ['the IP policy, twenty failures', { failures: 20, lastFailureAt: T }, 0, IP_POLICY],
  // NIST SP 800-63B 5.2.2: at most 100 consecutive failures (PASSCODE_POLICY); the cap outlasts the lockout.
  ['passcodes, 99 failures, lockout over: allowed, the 100th locks for good', { failures: 99, lastFailureAt: T }, p.lockoutMs, PASSCODE_POLICY],
  ['passcodes, 100 failures, lockout over: capped', { failures: 100, lastFailureAt: T }, p.lockoutMs, PASSCODE_POLICY],
  ['passcodes, 100 failures, 29 days on: still capped', { failures: 100, lastFailureAt: T }, 29 * 86_400_000, PASSCODE_POLICY],
  ['passcodes, 100 failures, the kept key\'s 30 days over: allowed', { failures: 100, lastFailureAt: T }, LOCKED_KEEP_MS, PASSCODE_POLICY],
  ['the account policy (recovery codes) on a capped key: the lockout only', { failures: 100, lastFailureAt: T }, p.lockoutMs, p],
  // Paced guessing (nine, a pause past the window, nine more...): the window forgets the failures, not the run.
  ['passcodes, paced: 9 in the window, 99 in a row, the window over: allowed, the 100th in a row caps', { failures: 9, lastFailureAt: T, consecutive: 99 }, p.windowMs + 1, PASSCODE_POLICY],
  ['passcodes, paced: 1 in the window, 100 in a row: capped', { failures: 1, lastFailureAt: T, consecutive: 100 }, p.windowMs + 1, PASSCODE_POLICY],
  ['passcodes, 5 in the window, 5 in a row: the delay as ever', { failures: 5, lastFailureAt: T, consecutive: 5 }, 1000, PASSCODE_POLICY],
  // A run kept without a window count (its last reservation given back): still counted, still capped.
  ['passcodes, a run of 99 kept alone: allowed, the 100th in a row caps', { failures: 0, lastFailureAt: T, consecutive: 99 }, p.windowMs + 1, PASSCODE_POLICY],
  ['passcodes, a run of 100 kept alone: capped', { failures: 0, lastFailureAt: T, consecutive: 100 }, p.windowMs + 1, PASSCODE_POLICY],
];

describe.each(['real', 'standin'] as const)('throttle gate on Redis (%s)', (kind) => {
  let redis: Redis;
  let now = T;
  let throttle: Throttle;
  beforeAll(() => {
    redis = openRedis(kind === 'real' ? TEST_REDIS_URL : null, uniquePrefix('gate'));
    throttle = createThrottle(redis, () => now);
  });
  afterAll(() => redis.quit());

  const write = async (key: string, s: ThrottleState | null) => {
    await redis.del(key);
    if (s) await redis.hset(key, 'l', String(s.lastFailureAt));
    if (s?.failures) await redis.hset(key, 'f', String(s.failures));
    if (s?.consecutive !== undefined) await redis.hset(key, 'c', String(s.consecutive));
  };
  const read = async (key: string): Promise<ThrottleState | null> => {
    const f = await redis.hget(key, 'f');
    const c = await redis.hget(key, 'c');
    return f === null && c === null ? null : { failures: Number(f ?? 0), lastFailureAt: Number(await redis.hget(key, 'l')), ...(c === null ? {} : { consecutive: Number(c) }) };
  };

  it.each(rows)('reserve decides and counts as the specification: %s', async (_name, before, after, policy) => {
    const key = `thr:row:${_name}`;
    await write(key, before);
    now = T + after;
    const expected = throttleDecision(before, policy, now);
    const got = await throttle.reserve([{ key, policy }]);
    if (expected.allowed) {
      expect(got.allowed).toBe(true);
      expect(await read(key)).toEqual(throttleAfterFailure(before, policy, now));
    } else {
      expect(got).toEqual(expected);
      expect(await read(key)).toEqual(before); // a refused attempt is not counted
    }
    // fail() counts the same way, unconditionally.
    await write(key, before);
    await throttle.fail([{ key, policy }]);
    expect(await read(key)).toEqual(throttleAfterFailure(before, policy, now));
  });

  it('a release gives the reserved failure back, when nobody counted since', async () => {
    now = T + 5000;
    await write('thr:rel', { failures: 2, lastFailureAt: T });
    const r = await throttle.reserve([{ key: 'thr:rel', policy: p }]);
    if (!r.allowed) throw new Error('expected a reservation');
    expect(await read('thr:rel')).toEqual({ failures: 3, lastFailureAt: now });
    await r.release(['thr:rel']);
    expect(await read('thr:rel')).toEqual({ failures: 2, lastFailureAt: T });
    const fresh = await throttle.reserve([{ key: 'thr:rel-new', policy: p }]);
    if (!fresh.allowed) throw new Error('expected a reservation');
    await fresh.release(['thr:rel-new']);
    expect(await read('thr:rel-new')).toBeNull();
  });

  // The password's release rides on the script that begins the sign-in (src/signin/state.ts begin,
  // linked): the same give-back and reset as release(), and the state written by the same script.
  it('a release made by the sign-in state\'s begin script gives back and resets as release() does', async () => {
    now = T + 5000;
    await write('thr:ip-linked', { failures: 2, lastFailureAt: T });
    await write('thr:user-linked', { failures: 4, lastFailureAt: T });
    const r = await throttle.reserve([{ key: 'thr:user-linked', policy: p }, { key: 'thr:ip-linked', policy: p }]);
    if (!r.allowed) throw new Error('expected a reservation');
    expect(await read('thr:ip-linked')).toEqual({ failures: 3, lastFailureAt: now });
    const states = createSignInStateStore(redis);
    const begun = await states.begin('linked-sign-in', { accountId: 'acct-1', firstFactor: { method: 'pwd', at: now } }, 60, r.releaseWith(['thr:ip-linked'], ['thr:user-linked']));
    expect(begun).toEqual({ accountId: 'acct-1', firstFactor: { method: 'pwd', at: now }, challengeId: null });
    expect(await states.get('linked-sign-in')).toEqual(begun);
    expect(await read('thr:ip-linked')).toEqual({ failures: 2, lastFailureAt: T });
    expect(await read('thr:user-linked')).toBeNull();
    // Without a link, begin touches no throttle key.
    const again = await throttle.reserve([{ key: 'thr:ip-linked', policy: p }]);
    if (!again.allowed) throw new Error('expected a reservation');
    await states.begin('linked-sign-in', { accountId: 'acct-1', firstFactor: { method: 'pwd', at: now } }, 60);
    expect(await read('thr:ip-linked')).toEqual({ failures: 3, lastFailureAt: now });
  });

  it('a release keeps the run under a cap when the window count falls to 0, and the key\'s life', async () => {
    now = T;
    await write('thr:run', { failures: 9, lastFailureAt: T, consecutive: 99 });
    await redis.pexpire('thr:run', LOCKED_KEEP_MS);
    now = T + p.windowMs + 1; // a new window: its first reservation counts f = 1
    const r = await throttle.reserve([{ key: 'thr:run', policy: PASSCODE_POLICY }]);
    if (!r.allowed) throw new Error('expected a reservation');
    await r.release(['thr:run']);
    expect(await read('thr:run')).toEqual({ failures: 0, lastFailureAt: T, consecutive: 99 });
    expect(await redis.pttl('thr:run')).toBeGreaterThan(LOCKED_KEEP_MS - 60_000);
    expect((await throttle.reserve([{ key: 'thr:run', policy: PASSCODE_POLICY }])).allowed).toBe(true);
    expect(await throttle.reserve([{ key: 'thr:run', policy: PASSCODE_POLICY }])).toMatchObject({ allowed: false, reason: 'capped' });
  });

  it('a failure under a policy without a cap never shortens a capped run\'s life', async () => {
    now = T;
    await redis.del('thr:shared');
    for (let i = 0; i < 5; i++) await throttle.fail([{ key: 'thr:shared', policy: PASSCODE_POLICY }]);
    await throttle.fail([{ key: 'thr:shared', policy: p }]); // a recovery code on the same key
    expect(await redis.pttl('thr:shared')).toBeGreaterThan(LOCKED_KEEP_MS - 60_000);
    expect(await read('thr:shared')).toMatchObject({ failures: 6, consecutive: 5 });
  });

  it('a refusal on one key counts on none of them', async () => {
    now = T;
    await write('thr:a', null);
    await write('thr:b', { failures: 10, lastFailureAt: T });
    expect(await throttle.reserve([{ key: 'thr:a', policy: p }, { key: 'thr:b', policy: p }])).toMatchObject({ allowed: false, reason: 'lockout' });
    expect(await read('thr:a')).toBeNull();
  });

  // Red-team run: the key of a locked-out account expired with its window (30 min), and the next
  // ten guesses were all checked: ten passcode guesses every half hour, for ever.
  it('a locked-out key outlives its window: one guess per lockout period after it, never ten fresh ones', async () => {
    now = T;
    await write('thr:locked', null);
    for (let i = 0; i < p.lockoutAfter; i++) await throttle.fail([{ key: 'thr:locked', policy: p }]);
    expect(await throttle.reserve([{ key: 'thr:locked', policy: p }])).toMatchObject({ allowed: false, reason: 'lockout' });
    expect(await redis.pttl('thr:locked')).toBeGreaterThan(29 * 24 * 3600 * 1000);
    // Long after the window and the lockout: one attempt, counted, and locked again at once.
    now = T + p.windowMs + p.lockoutMs + 60_000;
    expect((await throttle.reserve([{ key: 'thr:locked', policy: p }])).allowed).toBe(true);
    expect(await throttle.reserve([{ key: 'thr:locked', policy: p }])).toMatchObject({ allowed: false, reason: 'lockout' });
    expect(await read('thr:locked')).toEqual({ failures: p.lockoutAfter + 1, lastFailureAt: now });
    // A key below the lockout still goes with its window.
    await write('thr:young', null);
    await throttle.fail([{ key: 'thr:young', policy: p }]);
    expect(await redis.pttl('thr:young')).toBeLessThanOrEqual(p.windowMs + p.lockoutMs);
  });

  it('200 parallel reservations on one key: only the free failures pass', async () => {
    now = T;
    const results = await Promise.all(Array.from({ length: 200 }, () => throttle.reserve([{ key: 'thr:race', policy: p }])));
    expect(results.filter((r) => r.allowed)).toHaveLength(p.freeFailures);
    expect(await read('thr:race')).toEqual({ failures: p.freeFailures, lastFailureAt: T });
  });

  it('200 parallel passcode guesses at 99 failures, the lockout over: one is checked, then the cap holds for all', async () => {
    now = T + p.lockoutMs;
    await write('thr:at-cap', { failures: 99, lastFailureAt: T });
    const results = await Promise.all(Array.from({ length: 200 }, () => throttle.reserve([{ key: 'thr:at-cap', policy: PASSCODE_POLICY }])));
    expect(results.filter((r) => r.allowed)).toHaveLength(1);
    expect(results.filter((r) => !r.allowed && r.reason === 'capped')).toHaveLength(199);
    expect(await read('thr:at-cap')).toEqual({ failures: 100, lastFailureAt: now, consecutive: 100 });
    now += 7 * 86_400_000;
    expect(await throttle.reserve([{ key: 'thr:at-cap', policy: PASSCODE_POLICY }])).toMatchObject({ allowed: false, reason: 'capped' });
    expect(await redis.pttl('thr:at-cap')).toBeGreaterThan(LOCKED_KEEP_MS - 60_000);
  });

  it('paced guessing (nine, then a pause past the window, again) is capped at the 100th in a row', async () => {
    await redis.del('thr:paced');
    let checked = 0;
    now = T;
    for (let burst = 0; burst < 20; burst++) {
      for (let i = 0; i < 9; i++) {
        const r = await throttle.reserve([{ key: 'thr:paced', policy: PASSCODE_POLICY }]);
        if (r.allowed) checked++;
        now += p.maxDelayMs + 1000; // past any delay
      }
      now += p.windowMs + 1000; // the window forgets the nine
    }
    expect(checked).toBe(PASSCODE_POLICY.capAfter);
    expect(await throttle.reserve([{ key: 'thr:paced', policy: PASSCODE_POLICY }])).toMatchObject({ allowed: false, reason: 'capped' });
  });

  it('200 parallel reservations under a cap of 5 (a sign-in\'s passcodes): 5 pass, counted 1 to 5', async () => {
    now = T;
    await redis.hset('signin:{race}', 'acct', 'acct-1');
    const roomy: ThrottlePolicy = { ...p, freeFailures: 1000, lockoutAfter: 1000 };
    const cap = { key: 'signin:{race}', field: 'otp', owner: 'acct-1', max: 5 };
    const results = await Promise.all(Array.from({ length: 200 }, () => throttle.reserve([{ key: 'thr:capped', policy: roomy }], cap)));
    const passed = results.flatMap((r) => (r.allowed ? [r.count] : []));
    expect(passed.sort()).toEqual([1, 2, 3, 4, 5]);
    expect(results.filter((r) => !r.allowed && r.reason === 'cap')).toHaveLength(195);
    // The cap's hash belongs to its sign-in: once it is gone (or another account's), nothing passes.
    expect(await throttle.reserve([{ key: 'thr:capped', policy: roomy }], { ...cap, owner: 'acct-2' })).toEqual({ allowed: false, reason: 'gone' });
    await redis.del('signin:{race}');
    expect(await throttle.reserve([{ key: 'thr:capped', policy: roomy }], cap)).toEqual({ allowed: false, reason: 'gone' });
  });

  // The device API's answers per device (device-api/rate-limit.ts) are counted by the reservation's
  // own script: every call counts, before the keys decide, and past the maximum nothing else is counted.
  // The answer's reservation reads its challenge in the same script (device-api/respond.ts): fields
  // of a hash read beside, after the keys' counts, with or without a rate counter and a cap; a
  // refused reservation reads nothing, and the reading changes nothing the gate decides.
  it('reads a hash beside the reservation: its fields in order, \'\' for a missing one, with every combination of rate and cap', async () => {
    now = T;
    const roomy: ThrottlePolicy = { ...p, freeFailures: 1000, lockoutAfter: 1000 };
    await redis.hset('ch:beside', 'c', '{"id":"beside"}', 'status', 'pending');
    const beside = { key: 'ch:beside', fields: ['c', 'status', 'res'] };
    const alone = await throttle.reserve([{ key: 'thr:beside', policy: roomy }], undefined, undefined, beside);
    expect(alone).toMatchObject({ allowed: true, count: 0, beside: ['{"id":"beside"}', 'pending', ''] });
    await redis.hset('signin:{beside}', 'acct', 'acct-1');
    const cap = { key: 'signin:{beside}', field: 'otp', owner: 'acct-1', max: 2 };
    const rate = { key: 'rl:resp:beside:1', windowMs: 60_000, max: 3 };
    expect(await throttle.reserve([{ key: 'thr:beside', policy: roomy }], cap, undefined, beside)).toMatchObject({ allowed: true, count: 1, beside: ['{"id":"beside"}', 'pending', ''] });
    expect(await throttle.reserve([{ key: 'thr:beside', policy: roomy }], undefined, rate, beside)).toMatchObject({ allowed: true, beside: ['{"id":"beside"}', 'pending', ''] });
    expect(await throttle.reserve([{ key: 'thr:beside', policy: roomy }], cap, rate, beside)).toMatchObject({ allowed: true, count: 2, beside: ['{"id":"beside"}', 'pending', ''] });
    // The cap and the rate counter still decide: the cap reached, then the rate past its maximum.
    expect(await throttle.reserve([{ key: 'thr:beside', policy: roomy }], cap, rate, beside)).toEqual({ allowed: false, reason: 'cap' });
    expect(await throttle.reserve([{ key: 'thr:beside', policy: roomy }], undefined, rate, beside)).toEqual({ allowed: false, reason: 'rate' });
    expect(Number(await redis.hget('thr:beside', 'f'))).toBe(4);
    // A missing hash reads as '' everywhere.
    expect(await throttle.reserve([{ key: 'thr:beside', policy: roomy }], undefined, undefined, { key: 'ch:none', fields: ['c', 'status'] })).toMatchObject({ allowed: true, beside: ['', ''] });
  });

  it('a rate counter beside the keys: 200 parallel calls, 30 pass the counter, the keys count only those; the window key expires', async () => {
    now = T;
    const roomy: ThrottlePolicy = { ...p, freeFailures: 1000, lockoutAfter: 1000 };
    const rate = { key: 'rl:resp:dev-1:7', windowMs: 60_000, max: 30 };
    const results = await Promise.all(Array.from({ length: 200 }, () => throttle.reserve([{ key: 'thr:rated', policy: roomy }], undefined, rate)));
    expect(results.filter((r) => r.allowed)).toHaveLength(30);
    expect(results.filter((r) => !r.allowed && r.reason === 'rate')).toHaveLength(170);
    expect(Number(await redis.hget('thr:rated', 'f'))).toBe(30);
    expect(Number(await redis.get(rate.key))).toBe(200);
    const ttl = await redis.pttl(rate.key);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    // A refusal by the keys still counted on the rate counter; another window counts afresh.
    const locked: ThrottlePolicy = { ...p, freeFailures: 0, baseDelayMs: 60_000, maxDelayMs: 60_000 };
    await write('thr:rated-locked', { failures: 1, lastFailureAt: now });
    const next = { ...rate, key: 'rl:resp:dev-1:8' };
    expect(await throttle.reserve([{ key: 'thr:rated-locked', policy: locked }], undefined, next)).toMatchObject({ allowed: false, reason: 'delay' });
    expect(Number(await redis.get(next.key))).toBe(1);
    // With a cap as well: both, in their order (rate first).
    await redis.hset('signin:{rated}', 'acct', 'acct-1');
    const cap = { key: 'signin:{rated}', field: 'otp', owner: 'acct-1', max: 5 };
    const both = await throttle.reserve([{ key: 'thr:rated-cap', policy: roomy }], cap, { ...rate, key: 'rl:resp:dev-2:7' });
    expect(both).toMatchObject({ allowed: true, count: 1 });
    expect(await throttle.reserve([{ key: 'thr:rated-cap', policy: roomy }], cap, rate)).toEqual({ allowed: false, reason: 'rate' });
    expect(await redis.hget('signin:{rated}', 'otp')).toBe('1');
  });
});
