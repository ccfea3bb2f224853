import { describe, expect, it } from '@jest/globals';
import type { Account } from '../../src/accounts/store.js';
import { createAccountCache } from '../../src/oidc/account-cache.js';

/*
 * findAccount's per-process cache (src/oidc/account-cache.ts): a disable must still take effect
 * within its time, and an account handed over by the sign-in that has just read it stands for a
 * read only as long as one read by the cache itself would.
 */
const alice = (disabled = false): Account => ({ id: 'acct-alice', username: 'alice', displayName: 'Alice', email: null, disabled, createdAt: new Date(0) });

function world() {
  let now = 1_000_000;
  const stored = new Map<string, Account>([['acct-alice', alice()]]);
  const reads: string[] = [];
  const cache = createAccountCache(async (id) => { reads.push(id); return stored.get(id) ?? null; }, 5000, () => now);
  return { cache, stored, reads, advance: (ms: number) => { now += ms; } };
}

describe('findAccount cache', () => {
  it('reads once per 5 s, then again: a disable shows within that time', async () => {
    const w = world();
    expect((await w.cache.find('acct-alice'))?.disabled).toBe(false);
    w.stored.set('acct-alice', alice(true));
    w.advance(4_999);
    expect((await w.cache.find('acct-alice'))?.disabled).toBe(false);
    w.advance(1);
    expect((await w.cache.find('acct-alice'))?.disabled).toBe(true);
    expect(w.reads).toEqual(['acct-alice', 'acct-alice']);
  });

  it('answers an account handed over without reading it, for the same 5 s only', async () => {
    const w = world();
    w.cache.remember(alice());
    expect((await w.cache.find('acct-alice'))?.username).toBe('alice');
    expect(w.reads).toEqual([]);
    w.stored.set('acct-alice', alice(true));
    w.advance(5_000);
    expect((await w.cache.find('acct-alice'))?.disabled).toBe(true);
    expect(w.reads).toEqual(['acct-alice']);
  });

  it('remembers an unknown account as unknown for no longer either', async () => {
    const w = world();
    expect(await w.cache.find('acct-nobody')).toBeNull();
    w.stored.set('acct-nobody', { ...alice(), id: 'acct-nobody' });
    w.advance(5_000);
    expect((await w.cache.find('acct-nobody'))?.id).toBe('acct-nobody');
  });
});
