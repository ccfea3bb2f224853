import { describe, expect, it } from '@jest/globals';
import { endedSince } from '../../src/oidc/held-results.js';
import { firstFactorEnded } from '../../src/signin/finish.js';

/** src/oidc/held-results.ts and signin/finish.ts: which sign-ins under way the end of the account's sessions voids. */
describe('a sign-in under way when the account\'s sessions are ended', () => {
  const T = 1_800_000_000_000;
  it('is void when its first factor came before the end, to the millisecond (red-team: whole seconds let one through)', () => {
    expect(endedSince({ firstFactorAt: T }, null)).toBe(false);
    expect(endedSince({ firstFactorAt: T + 100 }, T + 600)).toBe(true);
    expect(endedSince({ firstFactorAt: T + 601 }, T + 600)).toBe(false);
    expect(endedSince({}, T)).toBe(true); // a result without our field
    expect(firstFactorEnded(T + 100, new Date(T + 600))).toBe(true);
    expect(firstFactorEnded(T + 601, new Date(T + 600))).toBe(false);
    expect(firstFactorEnded(T + 600, new Date(T + 600))).toBe(true); // begun in the end's millisecond: it may have read the old password
    expect(firstFactorEnded(T, null)).toBe(false);
  });
});
