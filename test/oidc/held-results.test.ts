import { describe, expect, it } from '@jest/globals';
import { endedSince, heldTooLong } from '../../src/oidc/held-results.js';

/** src/oidc/held-results.ts: which finished sign-ins are checked again at their resume, and which are void. */
describe('a finished sign-in held before its resume', () => {
  const T = 1_800_000_000_000;
  it('is checked again only when held longer than 2 s (the usual resume follows its finish at once)', () => {
    expect(heldTooLong({ accountId: 'a', finishedAt: T }, T + 2000)).toBe(false);
    expect(heldTooLong({ accountId: 'a', finishedAt: T }, T + 2001)).toBe(true);
    // Without our fields (a result saved by another version): checked.
    expect(heldTooLong({ accountId: 'a' }, T)).toBe(true);
    expect(heldTooLong({ accountId: 42, finishedAt: 0 }, T)).toBe(false);
  });

  it('is void when the account\'s sessions were ended after its first factor (whole seconds, as sessions count)', () => {
    expect(endedSince({ firstFactorAt: T }, null)).toBe(false);
    expect(endedSince({ firstFactorAt: T }, T + 1000)).toBe(true);
    expect(endedSince({ firstFactorAt: T + 999 }, T + 500)).toBe(false);
    expect(endedSince({ firstFactorAt: T + 5000 }, T)).toBe(false);
    expect(endedSince({}, T)).toBe(true);
  });
});
